#!/bin/bash
# A newcomer's first apps under a real systemd (issue 28, items 1 and 2): emberctl new says what the backend unit's
# sandbox does to the app (an executable under /root is refused naming ember-sandbox's Landlock, or ProtectHome= under
# --hardening=strict, and what changes it; a script under /root is warned about); an app that keeps a sqlite file in $STATE_DIRECTORY works with no flag, keeps its data
# across runs and after emberctl rm; a backend that fails at start has its reason and its last lines of output in
# emberctl status, and is marked in emberctl list until a start succeeds.
. "$(dirname "$0")/lib.sh"
plan 47

sys_boot
pick_ports 7
P_HITS=${PORTS[0]} P_HITS_B=${PORTS[1]} P_BROKEN=${PORTS[2]} P_BROKEN_B=${PORTS[3]} P_ROOT=${PORTS[4]}
P_NORW=${PORTS[5]} P_NORW_B=${PORTS[6]}
[ -x "$TOOLS/ember-test-backend" ] && [ -x "$TOOLS/ember-test-client" ] || bail "test tools not built in $TOOLS"
c sh -c 'python3 -c "import sqlite3"' || skip_all "python3 with sqlite3 is missing here"
UNITS=/etc/systemd/system

# new_out NAME ARGS...: emberctl new in the container; its stdout in $T_TMP/out, stderr in $T_TMP/err, its status
new_out() { c "$EMBERCTL" new "$@" >"$T_TMP/out" 2>"$T_TMP/err"; }
client() { "$TOOLS/ember-test-client" --timeout="${2:-10}s" --send="${3:-hit\n}" "127.0.0.1:$1" 2>/dev/null; }

# ---- an app under /root ---------------------------------------------------------------------------------------
c mkdir -p /root/myapp
c sh -c "printf '#!/bin/sh\nexit 0\n' >/root/myapp/server && chmod 0755 /root/myapp/server && echo 'print(1)' >/root/myapp/app.py"
new_out rootapp --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B -- /root/myapp/server
is "an executable under /root is refused: 64" "$?" 64
err=$(cat "$T_TMP/err")
like "naming the path and the rule that hides it (the default: ember-sandbox's Landlock)" "$err" \
        '/root/myapp/server \(the executable\) is hidden from it by ember-sandbox --landlock'
like "and what changes it" "$err" 'Move it out of them \(to /opt or /srv\); --rw-path=DIR would open DIR to it'
diag "what the user sees:" "$err"
ok "and nothing is written" c test ! -e $UNITS/rootapp-backend.service -a ! -e $UNITS/rootapp.socket

new_out rootapp --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B -- /usr/bin/python3 /root/myapp/app.py
is "a script under /root for an interpreter elsewhere: written (0), the app might not need it" "$?" 0
like "with a warning naming the path, the rule and what changes it" "$(cat "$T_TMP/err")" \
        '^Warning: /root/myapp/app.py \(argument 1\) is hidden from the backend by ember-sandbox --landlock .*Move it out'
diag "what the user sees:" "$(cat "$T_TMP/err")"
c sh -c "rm -rf $UNITS/rootapp*"

# what the message names is honoured: --rw-path opens the directory, and then /root's mode stands in the way
c chmod 0700 /root
new_out rootapp --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B --rw-path=/root/myapp -- /root/myapp/server
is "with --rw-path=/root/myapp, still refused for the backend's own user: 64" "$?" 64
like "because /root is 0700" "$(cat "$T_TMP/err")" 'its user rootapp-backend may not reach /root/myapp/server .*/root is mode 0700'
new_out rootapp --user=root --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B --rw-path=/root/myapp -- /root/myapp/server
is "and accepted with --user=root" "$?" 0
c sh -c "rm -rf $UNITS/rootapp*"

# under systemd's sandbox (--hardening=strict) the unit's own settings decide, and a drop-in of the app's is seen
new_out rootapp --hardening=strict --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B -- /root/myapp/server
is "--hardening=strict: refused too: 64" "$?" 64
like "naming ProtectHome= and the drop-in that changes it" "$(cat "$T_TMP/err")" \
        'is hidden from it by ProtectHome=yes .*ProtectHome=read-only in a drop-in, /etc/systemd/system/rootapp-backend.service.d/home.conf'
c mkdir -p $UNITS/rootapp-backend.service.d
c sh -c "printf '[Service]\nProtectHome=read-only\n' >$UNITS/rootapp-backend.service.d/home.conf"
new_out rootapp --hardening=strict --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B -- /root/myapp/server
like "with ProtectHome=read-only in that drop-in, still refused for a dynamic user, because /root is 0700" \
        "$(cat "$T_TMP/err")" 'its user rootapp-backend \(allocated by systemd for each run\) may not reach /root/myapp/server'
c sh -c "rm -rf $UNITS/rootapp-backend.service.d $UNITS/rootapp* /root/myapp"

# a working directory below /tmp: under Landlock /tmp is the machine's; under --hardening=strict PrivateTmp= gives the
# backend an empty one, and systemd could not enter it
c mkdir -p /tmp/wd /srv/data
new_out wdapp --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B --working-directory=/tmp/wd -- /bin/cat
is "a working directory below /tmp is fine by default (Landlock: the machine's /tmp)" "$?" 0
c sh -c "rm -f $UNITS/wdapp*"
new_out wdapp --hardening=strict --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B --working-directory=/tmp/wd -- /bin/cat
is "and refused under --hardening=strict: 64" "$?" 64
like "naming PrivateTmp=" "$(cat "$T_TMP/err")" '/tmp/wd \(--working-directory\) is hidden from it by PrivateTmp=yes'
# a directory the app is pointed at, which the backend may only read
new_out dataapp --listen=127.0.0.1:$P_ROOT --backend=127.0.0.1:$P_HITS_B -- /bin/cat --data=/srv/data
like "a data directory it may only read is a note naming --rw-path=" "$(cat "$T_TMP/out")" \
        '^Note: /srv/data \(argument 1\) is read-only to the backend \(ember-sandbox --landlock .*add --rw-path=/srv/data'
c sh -c "rm -f $UNITS/dataapp* $UNITS/wdapp*"

# ---- an app that keeps a sqlite file, with no flag --------------------------------------------------------------
# a hit counter as countless apps are: one row per "hit" line, the count as the answer; a bare connect (the
# readiness probe) counts nothing
c mkdir -p /opt/hits
c tee /opt/hits/app.py >/dev/null <<'EOF'
import os, socket, sqlite3, sys
db = sqlite3.connect(os.path.join(os.environ["STATE_DIRECTORY"], "hits.db"))
db.execute("create table if not exists hits (at integer)")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    conn, _ = s.accept()
    if conn.recv(16).startswith(b"hit"):
        db.execute("insert into hits values (strftime('%s'))")
        db.commit()
        conn.sendall(b"%d\n" % db.execute("select count(*) from hits").fetchone()[0])
    conn.close()
EOF
ok "app 'hits' (python3 and sqlite3, no --state-dir, no --rw-path)" app_up hits --listen=127.0.0.1:$P_HITS \
        --backend=127.0.0.1:$P_HITS_B --idle=30s -- /usr/bin/python3 /opt/hits/app.py $P_HITS_B
like "emberctl new names the state directory and \$STATE_DIRECTORY" "$(cat "$T_TMP/new.out")" \
        'may write in its state directory /var/lib/ember/hits \(\$STATE_DIRECTORY; kept across runs and by emberctl rm\)'
is "the first hit is counted in \$STATE_DIRECTORY/hits.db" "$(client $P_HITS 30)" 1
is "the second too" "$(client $P_HITS)" 2
owner=$(c stat -L -c %u /var/lib/ember/hits)
ok "the directory is the backend's user's (uid $owner), not root's" test -n "$owner" -a "$owner" != 0
c "$EMBERCTL" stop hits >/dev/null 2>&1
cold() { [ "$(state "$1" state)" = cold ]; }
ok "stopped" wait_until 20 cold hits
is "the next run finds the data: the third hit is 3" "$(client $P_HITS 30)" 3
c "$EMBERCTL" rm hits >"$T_TMP/rm.out" 2>&1
like "emberctl rm says it keeps the data, and where" "$(cat "$T_TMP/rm.out")" "^Kept the app's data in /var/lib/ember/hits"
ok "and keeps it" c test -s /var/lib/ember/hits/hits.db

# the same with --user: ember-sandbox makes the directory that user's as it starts, and exports it
c systemd-sysusers --inline 'u hitsuser - "ember test backend user" -' >/dev/null 2>&1
ok "app 'uhits' as --user=hitsuser, no --state-dir" app_up uhits --user=hitsuser --listen=127.0.0.1:$P_HITS \
        --backend=127.0.0.1:$P_HITS_B --idle=30s -- /usr/bin/python3 /opt/hits/app.py $P_HITS_B
is "it counts its first hit in \$STATE_DIRECTORY/hits.db" "$(client $P_HITS 30)" 1
is "in /var/lib/ember/uhits, hitsuser's" "$(c stat -c %U /var/lib/ember/uhits)" hitsuser
c "$EMBERCTL" rm uhits >/dev/null 2>&1

# ---- a backend that fails at start ------------------------------------------------------------------------------
c mkdir -p /opt/broken
c sh -c "printf '#!/bin/sh\necho \"broken: reading /etc/broken.conf\"\n[ -e /run/broken-fixed ] || { echo \"broken: cannot open /etc/broken.conf\" >&2; exit 3; }\nexec %s --listen=127.0.0.1:%s --mode=echo\n' \
        '$TOOLS/ember-test-backend' $P_BROKEN_B >/opt/broken/run && chmod 0755 /opt/broken/run"
ok "app 'broken'" app_up broken --listen=127.0.0.1:$P_BROKEN --backend=127.0.0.1:$P_BROKEN_B --idle=30s -- /opt/broken/run
isnt "a client gets nothing from it" "$(client $P_BROKEN 5 'x')" x
status_says() { c "$EMBERCTL" status broken >"$T_TMP/status" 2>&1; grep -qE -- "$1" "$T_TMP/status"; }
ok "emberctl status broken says the last start failed, and why" \
        wait_until 20 status_says '^The last start failed .* ago: crash: exited with status 3$'
ok "with the backend's last lines of output" wait_until 20 status_says '^  broken: cannot open /etc/broken.conf$'
status=$(cat "$T_TMP/status")
diag "what the user sees:" "$status"
like "in order, the line before it too" "$(grep -A1 '^  broken: reading' "$T_TMP/status")" '^  broken: cannot open'
like "and what to run next" "$status" '^Next: emberctl logs broken '
like "emberctl list marks it" "$(c "$EMBERCTL" list 2>&1)" '^broken +.* cold FAILED +0$'
like "and says where to look" "$(c "$EMBERCTL" list 2>&1)" 'FAILED: .*emberctl status NAME says why'
like "emberctl status --json has it too" "$(c "$EMBERCTL" status broken --json)" \
        '"last_failure":\{"at":[0-9]+,"event":"crash","reason":"exited with status 3"\}'

c touch /run/broken-fixed
is "fixed, the next client is served" "$(client $P_BROKEN 45 'x')" x
unlike_status() { ! status_says 'last start failed'; }
ok "and status no longer shows a failure" unlike_status
list=$(c "$EMBERCTL" list 2>&1)
ok "nor list" eval '! printf "%s\n" "$list" | grep -q FAILED'

# ---- a --rw-path that does not exist ------------------------------------------------------------------------------
# under Landlock it is left out until it exists; under systemd's sandbox (--hardening=strict) ReadWritePaths= of it
# fails the unit's namespace, nothing of ember runs
new_out llrw --listen=127.0.0.1:$P_NORW --backend=127.0.0.1:$P_NORW_B --rw-path=/srv/missing -- /bin/cat
like "by default, new warns that it is writable only from the first start after it exists" "$(cat "$T_TMP/err")" \
        '^Warning: --rw-path /srv/missing does not exist: the backend may write there only from the first start after it does'
c sh -c "rm -f $UNITS/llrw*"
ok "app 'norw' (--hardening=strict) with a --rw-path that does not exist" app_up norw --hardening=strict \
        --listen=127.0.0.1:$P_NORW --backend=127.0.0.1:$P_NORW_B \
        --rw-path=/srv/missing -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$P_NORW_B --mode=echo
like "new warns that it does not exist and what that does" "$(cat "$T_TMP/new.out")" \
        '^Warning: --rw-path /srv/missing does not exist: systemd cannot start norw-backend.service until it does \(status 226/NAMESPACE\)'
isnt "a client gets nothing from it" "$(client $P_NORW 5 'x')" x
norw_says() { c "$EMBERCTL" status norw >"$T_TMP/status" 2>&1; grep -qE -- "$1" "$T_TMP/status"; }
ok "emberctl status norw says systemd could not start its backend unit, and why" \
        wait_until 20 norw_says '^The last start failed: systemd could not start norw-backend.service \(its main process exited, status 226/NAMESPACE'
like "with systemd's last lines about it, up to the failure" "$(cat "$T_TMP/status")" '^  norw-backend.service: Failed to set up mount namespacing: .*/srv/missing'
diag "what the user sees:" "$(cat "$T_TMP/status")"
like "emberctl list marks it too" "$(c "$EMBERCTL" list 2>&1)" '^norw +.* cold FAILED +[0-9]+$'

tap_passing || { diag_journal broken; diag_journal hits; diag_journal norw; }
finish
