#!/bin/bash
# `systemd-analyze security`, in a real systemd, of the units `emberctl new` writes. It rates a unit by its settings
# alone, and every setting that scores is a filter, a namespace or a cgroup attribute PID 1 builds at each spawn: per
# connection for the per-connection unit, per cold start for the backend unit (bench/README.md). By default (lean)
# ember confines both itself, where the score cannot see it (ember-launch(8) and ember-sandbox(8) table what stands
# for each item; tests/system/backend-files.sh and tests/sandbox/ show it holds), and asks PID 1 for what costs
# nothing measurable (a device policy in both, the backend's IP allow-list per connection), never for a filter: the
# default units score at most 6.0 (per connection) and 7.6 (backend), under systemd 252 and 257 alike (257's
# --offline analysis: 5.8 and 7.4).
# --hardening=strict is the audited profile, with systemd's sandbox: at most 2.1 and 5.0. And the backend unit's
# sandbox holds: a backend writes its --rw-path and --state-dir, nothing else. A unix backend's launchers run as its
# --user.
. "$(dirname "$0")/lib.sh"
plan 43

BACKEND_MAX=7.6
LAUNCH_MAX=6.0
STRICT_MAX=2.1
STRICT_BACKEND_MAX=5.0

sys_boot
pick_ports 14

# exposure UNIT: the overall exposure level systemd-analyze security gives UNIT ("" if none)
exposure() {
        c systemd-analyze security --no-pager "$1" 2>/dev/null |
                sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p'
}
# at_most UNIT MAX: systemd-analyze security's own verdict (--threshold is on its 0..100 scale)
at_most() { c systemd-analyze security --no-pager --threshold="$(awk -v m="$2" 'BEGIN { print m * 10 }')" "$1" >/dev/null 2>&1; }
# the items that count against UNIT, worst first, for the log
top_items() { c systemd-analyze security --no-pager "$1" 2>/dev/null | grep '✗' | sed 's/  */ /g' | sort -t' ' -k1 | head -n "${2:-12}"; }

ok "app sec is up on the defaults" app_up sec --listen=127.0.0.1:${PORTS[0]} --backend=127.0.0.1:${PORTS[1]} \
        --idle=60s -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:${PORTS[1]} --mode=echo
is "and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=ping 127.0.0.1:${PORTS[0]} 2>&1)" ping

# the instance name systemd would give a connection (analyzed as loaded from the template)
inst="sec@0-127.0.0.1:${PORTS[0]}-127.0.0.1:1.service"
e_backend=$(exposure sec-backend.service)
e_launch=$(exposure "$inst")
diag "exposure: sec-backend.service $e_backend, $inst $e_launch"
ok "the backend unit's exposure ($e_backend) is at most $BACKEND_MAX" at_most sec-backend.service $BACKEND_MAX ||
        diag "$(top_items sec-backend.service)"
ok "the per-connection unit's exposure ($e_launch) is at most $LAUNCH_MAX" at_most "$inst" $LAUNCH_MAX ||
        diag "$(top_items "$inst")"

is "it runs the launcher as the launchers' user" "$(unit_prop "$inst" User)" ember

# a live instance, scored as it runs
exec 5<>/dev/tcp/127.0.0.1/${PORTS[0]} && printf x >&5 && read -r -n 1 -t 10 -u 5 _
live=$(c systemctl list-units --no-legend --plain --state=running 'sec@*' | awk 'NR == 1 { print $1 }')
ok "a running connection instance ($live) scores the same" test -n "$live" -a -n "$e_launch" -a "$(exposure "$live")" = "$e_launch"
exec 5>&-

# ---- what the launchers' user may do: its own files only, and nothing that holds up or misleads root ---------------
# (the app is warm, with the live connection above closed)
is "a running launcher is not dumpable: its /proc is root's (no ptrace, pidfd_getfd or environ by the same user)" \
        "$(exec 6<>/dev/tcp/127.0.0.1/${PORTS[0]}; printf x >&6; read -r -n 1 -t 10 -u 6 _
        p=$(unit_prop "$(c systemctl list-units --no-legend --plain --state=running 'sec@*' | awk 'NR == 1 { print $1 }')" MainPID)
        c stat -c %U /proc/$p/environ; exec 6>&-)" root
like "and may write no file over 64 KiB (LimitFSIZE=)" "$(c cat /etc/systemd/system/sec@.service)" '^LimitFSIZE=64K$'
out=$(c "$EMBERCTL" new secx --listen=127.0.0.1:${PORTS[8]} --backend=127.0.0.1:${PORTS[9]} --user=ember \
        --unit-dir=/run -- /bin/true 2>&1)
is "--user=ember, the launchers' user, is refused (64)" "$?" 64
like "which says why" "$out" "is the launchers' user"
c systemctl stop sec-backend.service
# a read lock on supervisor.lock, as the launchers' user, held while the app starts again
c systemd-run --quiet --unit=sec-rlock -p User=ember -p Group=ember python3 -c '
import fcntl, os, time
fd = os.open("/run/ember/sec/supervisor.lock", os.O_RDONLY)
fcntl.lockf(fd, fcntl.LOCK_SH)
print("locked", flush=True)
time.sleep(120)'
rlocked() { c journalctl -q --no-pager -o cat -u sec-rlock.service | grep -q locked; }
ok "the launchers' user holds a read lock on the whole of supervisor.lock" wait_until 10 rlocked
is "with the launchers' user's read lock on supervisor.lock, a cold start still serves" \
        "$("$TOOLS/ember-test-client" --timeout=10s --send=rl 127.0.0.1:${PORTS[0]} 2>&1)" rl
like "emberctl status shows the real supervisor only" "$(c "$EMBERCTL" status sec 2>&1)" "^sec +warm"
like "the supervisor said it left the read lock behind on a new file" \
        "$(c journalctl -q --no-pager -o cat -u sec-backend.service | grep 'read lock on supervisor.lock')" 'made a new one'
c systemctl stop sec-rlock.service
# a launcher file chmod'ed 0666 by its owner is set right at the next start
c systemctl stop sec-backend.service
c setpriv --reuid=ember --regid=ember --clear-groups chmod 0666 /run/ember/sec/refcount
c systemctl restart sec-backend.socket
is "refcount chmod'ed 0666 by the launchers' user is 0644 again after the wake socket's restart" \
        "$(c stat -c %a /run/ember/sec/refcount)" 644
is "and the app serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=cm 127.0.0.1:${PORTS[0]} 2>&1)" cm

# --hardening=strict: the audited profile, and it still serves
ok "app secs is up with --hardening=strict" app_up secs --listen=127.0.0.1:${PORTS[8]} --backend=127.0.0.1:${PORTS[9]} \
        --hardening=strict -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:${PORTS[9]} --mode=echo
sinst="secs@0-127.0.0.1:${PORTS[8]}-127.0.0.1:1.service"
ok "its per-connection unit's exposure ($(exposure "$sinst")) is at most $STRICT_MAX" at_most "$sinst" $STRICT_MAX ||
        diag "$(top_items "$sinst")"
ok "its backend unit's (systemd's sandbox) at most $STRICT_BACKEND_MAX ($(exposure secs-backend.service))" \
        at_most secs-backend.service $STRICT_BACKEND_MAX || diag "$(top_items secs-backend.service)"
is "and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=strict 127.0.0.1:${PORTS[8]} 2>&1)" strict

# --user= does not loosen anything
ok "app secu is up with --user=nobody" app_up secu --listen=127.0.0.1:${PORTS[2]} --backend=127.0.0.1:${PORTS[3]} \
        --user=nobody -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:${PORTS[3]} --mode=echo
ok "its backend unit is at most $BACKEND_MAX too ($(exposure secu-backend.service))" at_most secu-backend.service $BACKEND_MAX

# ---- the backend's writes: --rw-path and --state-dir, nothing else ----------------------------------------------
c mkdir -p /srv/sec-rw
c chown nobody /srv/sec-rw
# probe PORT: the backend's command: try to write everywhere, say where it could, then serve on PORT
probe() {
        echo 'touch /srv/sec-rw/allowed; touch /var/lib/sec-state/allowed
for f in /var/sec-denied /etc/sec-denied /usr/local/sec-denied /run/sec-denied; do
        if touch "$f" 2>/dev/null; then echo "$f" >>/srv/sec-rw/written; else echo "$f" >>/srv/sec-rw/refused; fi
done
exec "$0" --listen=127.0.0.1:'"$1"' --mode=echo'
}
ok "app secw is up with --rw-path=/srv/sec-rw --state-dir=sec-state --user=nobody" \
        app_up secw --listen=127.0.0.1:${PORTS[4]} --backend=127.0.0.1:${PORTS[5]} --rw-path=/srv/sec-rw \
        --state-dir=sec-state --user=nobody -- /bin/sh -c "$(probe ${PORTS[5]})" "$TOOLS/ember-test-backend"
is "its backend starts and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=w 127.0.0.1:${PORTS[4]} 2>&1)" w
ok "it wrote its --rw-path" c test -e /srv/sec-rw/allowed
is "it wrote its --state-dir (/var/lib/sec-state, made nobody's)" "$(c stat -c %U /var/lib/sec-state/allowed 2>&1)" nobody
is "it was refused everywhere else" "$(c cat /srv/sec-rw/written 2>/dev/null)" ""
is "(each of the four tries failed)" "$(c cat /srv/sec-rw/refused 2>/dev/null | wc -l)" 4

# as root (--user=root) the file system is read-only all the same: no permission bit decides it
c sh -c 'rm -f /srv/sec-rw/* /var/lib/sec-state/allowed; chown root /srv/sec-rw'
ok "app secr (a root backend, same --rw-path) is up" app_up secr --listen=127.0.0.1:${PORTS[6]} \
        --backend=127.0.0.1:${PORTS[7]} --rw-path=/srv/sec-rw --state-dir=sec-state --user=root -- \
        /bin/sh -c "$(probe ${PORTS[7]})" "$TOOLS/ember-test-backend"
is "it starts and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=r 127.0.0.1:${PORTS[6]} 2>&1)" r
is "root wrote its --rw-path and --state-dir, and nothing else" \
        "$(c cat /srv/sec-rw/written 2>/dev/null | tr '\n' ' ')$(c ls /srv/sec-rw /var/lib/sec-state | grep -c allowed)" 2
# ---- the launchers' user must be a system account of its own ------------------------------------------------------
euid=$(c id -u ember)
c usermod -u 1500 ember
out=$(c "$EMBERCTL" new secn --listen=127.0.0.1:${PORTS[8]} --backend=127.0.0.1:${PORTS[9]} --unit-dir=/run -- /bin/true 2>&1)
is "a launchers' user that is a login account (uid 1500) is refused (78)" "$?" 78
like "which says why" "$out" 'not a system account of its own'
c usermod -u "$euid" ember
c usermod -a -G ember nobody
is "(nobody is in the group ember now)" "$(c getent group ember | cut -d: -f4)" nobody
out=$(c "$EMBERCTL" new secn --listen=127.0.0.1:${PORTS[8]} --backend=127.0.0.1:${PORTS[9]} --unit-dir=/run -- /bin/true 2>&1)
is "and one whose group has other members (nobody) too (78)" "$?" 78
c gpasswd -d nobody ember >/dev/null

# ---- a compromised backend on the defaults asks PID 1 for root (issue 24: a root backend got it) -------------------
# The backend first tries what the attack did, systemd-run of a command that writes /etc, and records how that
# went in its state directory; then it serves as usual.
escape='systemd-run --quiet --wait sh -c "id >/etc/pwned-by-backend" 2>/var/lib/sece/escape.err
echo $? >/var/lib/sece/escape; exec "$0" --listen=127.0.0.1:'"${PORTS[11]}"' --mode=echo'
ok "app sece is up on the defaults (no --user)" app_up sece --listen=127.0.0.1:${PORTS[10]} \
        --backend=127.0.0.1:${PORTS[11]} --state-dir=sece -- /bin/sh -c "$escape" "$TOOLS/ember-test-backend"
is "and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=e 127.0.0.1:${PORTS[10]} 2>&1)" e
isnt "the backend's systemd-run was refused (status $(c cat /var/lib/sece/escape 2>&1): $(c cat /var/lib/sece/escape.err 2>&1))" \
        "$(c cat /var/lib/sece/escape 2>&1)" 0
ok "and PID 1 ran nothing for it: no /etc/pwned-by-backend" c test ! -e /etc/pwned-by-backend

# ---- apps are isolated from each other: each backend is a user of its own, and cannot signal another app's -------
# sece's backend is warm (above); seck's tries to signal it (kill -0: the permission check alone) before it serves.
probe='kill -0 "$(cat /run/ember/sece/backend.pid)" 2>/var/lib/seck/kill.err; echo $? >/var/lib/seck/kill
exec "$0" --listen=127.0.0.1:'"${PORTS[13]}"' --mode=echo'
ok "app seck is up on the defaults too" app_up seck --listen=127.0.0.1:${PORTS[12]} \
        --backend=127.0.0.1:${PORTS[13]} --state-dir=seck -- /bin/sh -c "$probe" "$TOOLS/ember-test-backend"
is "and serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=k 127.0.0.1:${PORTS[12]} 2>&1)" k
isnt "its backend runs as another user than sece's" "$(proc_status "$(state seck backend.pid)" Uid | awk '{ print $1 }')" \
        "$(proc_status "$(state sece backend.pid)" Uid | awk '{ print $1 }')"
like "it could not signal sece's backend ($(c cat /var/lib/seck/kill.err 2>&1))" "$(c cat /var/lib/seck/kill 2>&1):$(c cat /var/lib/seck/kill.err 2>&1)" \
        '^1:.*(not permitted|ermission)'
finish
