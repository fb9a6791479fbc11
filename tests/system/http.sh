#!/bin/bash
# An HTTP app (python3 -m http.server) under a real systemd: emberctl new + enable --now, units verified, curl cold
# and warm, one instance and one refcount per open connection, the idle stop and the re-wake, emberctl status
# (as root and as nobody) and emberctl stop, and the journal's account of every backend run.
. "$(dirname "$0")/lib.sh"
plan 83

APP=web
# long enough that the checks between the cold request and the warm ones (each a process in the container) fit
# in it on a loaded CI machine: at 3 s the backend idled out between them there
IDLE=8

sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
URL=http://127.0.0.1:$LISTEN_PORT/

get() { curl -s -o /dev/null -m 20 -w '%{http_code}' "$URL"; }
backend_inactive() { [ "$(unit_prop $APP-backend.service ActiveState)" = inactive ]; }
refcount_is() { [ "$(state $APP refcount)" = "$1" ]; }
instances_are() { [ "$(instances $APP)" = "$1" ]; }

# ---- create and enable ------------------------------------------------------------------------------------------
c "$EMBERCTL" new $APP --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --idle=${IDLE}s -- \
        python3 -m http.server --bind 127.0.0.1 --directory /usr/share/doc $BACKEND_PORT >"$T_TMP/new.out" 2>&1
is "emberctl new exits 0" "$?" 0
like "emberctl new prints the next two commands" "$(cat "$T_TMP/new.out")" 'systemctl daemon-reload'
ok "systemd-analyze verify passes on the generated units" \
        verify_units /etc/systemd/system/$APP.socket /etc/systemd/system/$APP@.service \
        /etc/systemd/system/$APP-backend.socket /etc/systemd/system/$APP-backend.service
# The lean unit (templates/hardening-lean.conf): no device node and no IP traffic but to the backend, from PID 1 as
# well as from the launcher's Landlock (free per connection), and no system call filter built by PID 1 for every
# connection (the launcher's own filter does that).
unit=$(c cat /etc/systemd/system/$APP@.service)
lean_unit() {
        grep -qx 'IPAddressDeny=any' <<<"$unit" && grep -qx 'IPAddressAllow=127.0.0.1' <<<"$unit" &&
                grep -qx 'DevicePolicy=closed' <<<"$unit" && ! grep -Eq '^(SystemCallArchitectures|SystemCallFilter)=' <<<"$unit"
}
ok "$APP@.service: DevicePolicy=closed, IP traffic to the backend's address only, no system call filter from PID 1" lean_unit
# the same emberctl where Landlock is refused (as a container's or an old systemd's filter may): both stay in
c mkdir -p /run/nolandlock-units
c systemd-run --quiet --wait --pipe -p SystemCallFilter=~landlock_create_ruleset -p SystemCallErrorNumber=EPERM \
        "$EMBERCTL" new nolandlock --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --user=root \
        --unit-dir=/run/nolandlock-units -- /bin/true >"$T_TMP/nolandlock.out" 2>&1
is "emberctl new where Landlock is refused exits 0" "$?" 0
unit=$(c cat /run/nolandlock-units/nolandlock@.service)
like "and its unit keeps the IP allow-list" "$unit" "^IPAddressDeny=any"
like "and DevicePolicy=closed" "$unit" "^DevicePolicy=closed$"
ok "systemctl daemon-reload" c systemctl daemon-reload
ok "systemctl enable --now $APP.socket" c systemctl enable --now $APP.socket
ok "$APP.socket is active" c systemctl is-active --quiet $APP.socket
ok "$APP-backend.socket (the wake socket) is active too" c systemctl is-active --quiet $APP-backend.socket
# debug logging in every unit from now on: the launcher then says how it confined itself
c systemctl set-environment EMBER_DEBUG=1

# ---- nothing runs until the first connection ------------------------------------------------------------------
ok "nothing runs: $APP-backend.service is inactive" backend_inactive
ok "nothing listens on the backend port" port_free $BACKEND_PORT
is "no connection instances" "$(instances $APP)" 0
is "the state dir is 0755 and root's" "$(c stat -c '%a %U' /run/ember/$APP)" "755 root"
is "the wake socket is root's and the launchers' group's alone" "$(c stat -c '%a %U %G' /run/ember/$APP/wake.sock)" "660 root ember"

# ---- cold, then warm ---------------------------------------------------------------------------------------------
t0=$(ms_now)
code=$(get)
t1=$(ms_now)
is "first request (cold) is answered: HTTP $code in $((t1 - t0)) ms" "$code" 200
is "the backend is now active" "$(unit_prop $APP-backend.service ActiveState)" active
is "state is warm" "$(state $APP state)" warm
is "cold-starts is 1" "$(state $APP cold-starts)" 1
bpid=$(state $APP backend.pid)
ok "backend.pid ($bpid) is a running python3" c sh -c "grep -q python3 /proc/$bpid/cmdline"
is "supervisor.pid is the main PID of $APP-backend.service" "$(state $APP supervisor.pid)" "$(unit_prop $APP-backend.service MainPID)"
like "ready-ms records the cold start" "$(state $APP ready-ms)" '^[0-9]+$'
ok_warm=0
for i in 1 2 3 4 5; do [ "$(get)" = 200 ] && ok_warm=$((ok_warm + 1)); done
is "5 warm requests answered" "$ok_warm" 5
is "still one cold start" "$(state $APP cold-starts)" 1
is "the same backend served them" "$(state $APP backend.pid)" "$bpid"
is "connections served counts all 6" "$(state $APP connections)" 6
ok "no connection instance is left" wait_until 10 instances_are 0

# ---- one instance and one refcount per open connection ------------------------------------------------------
holders=()
for i in 1 2 3; do
        "$TOOLS/ember-test-client" --hold=60s --close --timeout=90s --output=none 127.0.0.1:$LISTEN_PORT &
        holders+=($!)
done
ok "3 open connections: 3 running $APP@ instances" wait_until 15 instances_are 3
ok "3 open connections: refcount 3" wait_until 15 refcount_is 3
c systemctl list-units --no-legend --plain "$APP@*" | sed 's/^/# /'
is "the launcher has no capabilities" "$(launcher_status $APP CapEff)" 0000000000000000
# the backend connection is made once the launcher is confined: its filter must let TCP_NODELAY through
launcher_sockets() { c "$TOOLS/ember-test-sockets" "$(launcher_pid $APP)"; }
nodelay_on() { launcher_sockets | grep -Eq -- "$1 nodelay=1\$"; }
ok "the launcher set TCP_NODELAY on its client connection" \
        wait_until 15 nodelay_on "^fd=[0-9]+ tcp 127\.0\.0\.1:$LISTEN_PORT -> [^ ]+"
ok "and on the backend connection it made once confined" \
        wait_until 15 nodelay_on " -> 127\.0\.0\.1:$BACKEND_PORT"
launcher_sockets | sed 's/^/# /'
if [ -n "$SANITIZED" ]; then
        skip 4 "built with AddressSanitizer: ember-launch does not confine itself"
else
        is "the launcher has no_new_privs" "$(launcher_status $APP NoNewPrivs)" 1
        is "the launcher is in seccomp filter mode" "$(launcher_status $APP Seccomp)" 2
        # none of systemd's: SystemCallArchitectures=native is the launcher's own filter's first check, and PID 1
        # would build one more filter for it at every connection (templates/hardening-lean.conf)
        is "under the default (lean) unit one filter on top of the container's: its own" \
                "$(launcher_status $APP Seccomp_filters)" "$(( $(proc_status 1 Seccomp_filters) + 1 ))"
        like "it confined itself with Landlock too" "$(c journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=ember-launch)" \
                'Confined: seccomp allow-list, Landlock ABI [1-9]'
fi
like "emberctl status shows 3 live connections" "$(c "$EMBERCTL" status $APP)" "^$APP +warm +3 +$bpid "
kill "${holders[0]}"
wait "${holders[0]}" 2>/dev/null
ok "one closed: 2 instances" wait_until 15 instances_are 2
ok "one closed: refcount 2" wait_until 15 refcount_is 2
kill "${holders[@]:1}"
wait "${holders[@]:1}" 2>/dev/null
ok "all closed: no instances" wait_until 15 instances_are 0
ok "all closed: refcount 0" wait_until 15 refcount_is 0

# ---- idle stop, then re-wake ---------------------------------------------------------------------------------------
t0=$(ms_now)
ok "the backend stops after the idle period (${IDLE}s)" wait_until $((IDLE + 15)) backend_inactive
t1=$(ms_now)
diag "idle stop observed $((t1 - t0)) ms after the last connection closed"
is "state is cold again" "$(state $APP state)" cold
is "the backend unit ended cleanly (not failed)" "$(unit_prop $APP-backend.service Result)" success
gone() { ! c kill -0 "$1" 2>/dev/null; }
ok "the backend process is gone" gone $bpid
ok "nothing listens on the backend port any more" port_free $BACKEND_PORT
is "journal: one idle-stop event" "$(journal_events $APP idle-stop)" 1
like "journal: the idle-stop says how long the run lasted (EMBER_RUN_SEC)" "$(journal_field $APP idle-stop EMBER_RUN_SEC)" '^[0-9]+$'
is "journal: the idle-stop counts the run's connections (EMBER_CONNECTIONS: 6 requests + 3 held)" \
        "$(journal_field $APP idle-stop EMBER_CONNECTIONS)" 9
code=$(get)
is "a request after the idle stop wakes it again: HTTP $code" "$code" 200
is "cold-starts is 2" "$(state $APP cold-starts)" 2
ok "a new backend process" test "$(state $APP backend.pid)" != "$bpid"

# ---- the journal, the audit trail ---------------------------------------------------------------------------
is "journal: two cold-start events" "$(journal_events $APP cold-start)" 2
is "journal: two ready events" "$(journal_events $APP ready)" 2
like "journal: ready carries EMBER_READY_MS" "$(journal_field $APP ready EMBER_READY_MS)" '^[0-9]+$'
is "journal: EMBER_READY_MS of the last start equals ready-ms" "$(journal_field $APP ready EMBER_READY_MS)" "$(state $APP ready-ms)"

# ---- emberctl status (with one connection held open, so the app stays warm) -------------------------------
"$TOOLS/ember-test-client" --hold=60s --no-shutdown --timeout=90s --report --output=none 127.0.0.1:$LISTEN_PORT 2>"$T_TMP/held.report" &
held=$!
ok "a connection is held open" wait_until 15 refcount_is 1
live=$(c systemctl list-units --no-legend --plain --state=running "$APP@*" | awk 'NR == 1 { print $1 }')
is "its launcher runs as the launchers' user" "$(c ps -o user= -p "$(unit_prop "$live" MainPID)" 2>&1)" ember
out=$(c "$EMBERCTL" status)
like "emberctl status lists the app: warm, 1 connection, the backend pid" "$out" "^$APP +warm +1 +$(state $APP backend.pid) "
json=$(c "$EMBERCTL" status $APP --json)
ok "emberctl status --json agrees with the state files and systemd" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["app"] == "web" and o["state"] == "warm", o
assert o["connections_live"] == 1 and o["cold_starts"] == int(sys.argv[5]), o
assert o["connections_served"] == int(sys.argv[6]), o
assert o["backend_pid"] == int(sys.argv[2]) and o["supervisor_pid"] == int(sys.argv[3]), o
assert o["supervisor_running"] is True and o["up_sec"] >= 0 and o["idle_sec"] is None, o
assert o["last_cold_start_ms"] == int(sys.argv[4]), o
' "$json" "$(state $APP backend.pid)" "$(unit_prop $APP-backend.service MainPID)" "$(state $APP ready-ms)" \
        "$(state $APP cold-starts)" "$(state $APP connections)"
diag "status --json: $json"
ok "emberctl status works as nobody (state files are world-readable)" \
        c setpriv --reuid=65534 --regid=65534 --clear-groups "$EMBERCTL" status $APP --json
ok "the lock files are their owner's alone (a read lock by anyone else would count)" \
        test "$(c sh -c 'cd /run/ember/'$APP' && stat -c %a lock leases gen-leases' | sort -u)" = 600
is "supervisor.lock is root's, readable by the launchers' group only" \
        "$(c stat -c '%a %U %G' /run/ember/$APP/supervisor.lock)" "640 root ember"
# who owns what (ember-state(7)): the directory is root's, the files a launcher writes the launchers' user's
owners() { c sh -c 'cd /run/ember/'$APP' && stat -c %U "$@"' - "$@" | sort -u | tr '\n' ' '; }
is "the files a launcher writes are the launchers' user's" "$(owners lock leases gen-leases refcount connections idle-since state)" "ember "
is "the supervisor's own files are root's" "$(owners supervisor.lock supervisor.pid backend.pid serving generation cold-starts)" "root "
# what the launchers' user can do in root's directory: write its own files, and create, remove or rename nothing
as_launcher() { c setpriv --reuid=ember --regid=ember --clear-groups sh -c "cd /run/ember/$APP && $1" 2>/dev/null; }
refused() { ! as_launcher "$1"; }
ok "the launchers' user may write its own files, not the directory or root's files" as_launcher 'test -w refcount -a -w lock -a ! -w . -a ! -w serving'
ok "the launchers' user cannot remove wake.sock" refused 'rm -f wake.sock'
ok "the launchers' user cannot put a symlink in the state directory" refused 'ln -s /etc/shadow x'
ok "the launchers' user cannot rename its own files" refused 'mv refcount x'
is "wake.sock and refcount are still there" "$(c stat -c %F /run/ember/$APP/wake.sock /run/ember/$APP/refcount | tr '\n' ' ')" \
        "socket regular file "
c setpriv --reuid=65534 --regid=65534 --clear-groups "$EMBERCTL" stop $APP >"$T_TMP/out" 2>&1
is "emberctl stop as nobody is refused (77)" "$?" 77

# ---- emberctl stop -------------------------------------------------------------------------------------------------
cs=$(state $APP cold-starts)
t0=$(ms_now)
c "$EMBERCTL" stop $APP >"$T_TMP/out" 2>&1
rc=$?
t1=$(ms_now)
is "emberctl stop exits 0 (took $((t1 - t0)) ms)" "$rc" 0
like "and says so" "$(cat "$T_TMP/out")" "^Stopped $APP"
is "state is cold right after emberctl stop" "$(state $APP state)" cold
ok "$APP-backend.service is inactive" backend_inactive
is "and ended cleanly (not failed)" "$(unit_prop $APP-backend.service Result)" success
ok "the held connection is closed promptly" wait_until 10 sh -c "! kill -0 $held 2>/dev/null"
wait "$held"
diag "held connection: exit $? $(cat "$T_TMP/held.report")"
is "journal: one stop event" "$(journal_events $APP stop)" 1
c "$EMBERCTL" stop $APP >"$T_TMP/out" 2>&1
is "emberctl stop again exits 0" "$?" 0
like "and says it is not running" "$(cat "$T_TMP/out")" 'not running'
code=$(get)
is "after emberctl stop the next request wakes it: HTTP $code" "$code" 200
is "one more cold start" "$(state $APP cold-starts)" $((cs + 1))

tap_passing || diag_journal $APP
finish
