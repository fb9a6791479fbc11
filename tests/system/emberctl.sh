#!/bin/bash
# emberctl's units under a real systemd: unix sockets on both sides, COMMAND arguments reach the backend exactly,
# --start-on=data, --ready=notify, --force + daemon-reload, stopping the socket stops the backend, a backend that
# fails leaves no failed instance behind, and status/stop of unknown apps.
. "$(dirname "$0")/lib.sh"
plan 52

sys_boot
pick_ports 11
P1=${PORTS[0]} P2=${PORTS[1]} P3=${PORTS[2]} P4=${PORTS[3]} P5=${PORTS[4]} P6=${PORTS[5]} P7=${PORTS[6]} P8=${PORTS[7]}
P9=${PORTS[8]} P10=${PORTS[9]} P11=${PORTS[10]}
[ -x "$TOOLS/ember-test-backend" ] && [ -x "$TOOLS/ember-test-client" ] || bail "test tools not built in $TOOLS"
TB=$TOOLS/ember-test-backend
TC=$TOOLS/ember-test-client

get() { curl -s -m 20 "http://127.0.0.1:$1/"; }
is_cold() { [ "$(state "$1" state)" = cold ]; }
inactive() { [ "$(unit_prop "$1" ActiveState)" = inactive ]; }

# ---- unix sockets on both sides ------------------------------------------------------------------------------
ok "app 'echo': unix --listen and unix --backend" app_up echo --listen=/run/echo.sock --backend=/run/echo-backend.sock \
        --user=root --idle=30s -- "$TB" --listen=/run/echo-backend.sock --mode=echo
is "a client on the unix socket gets its bytes echoed (cold)" "$(c "$TC" --send='hello\n' /run/echo.sock 2>&1)" hello
is "and again (warm)" "$(c "$TC" --send='again\n' /run/echo.sock 2>&1)" again
is "one cold start" "$(state echo cold-starts)" 1

# ---- COMMAND arguments arrive exactly ---------------------------------------------------------------------------
# the backend unit's file system is read-only but what --rw-path= names, and the backend runs as a user of its own
c mkdir -p -m 0777 /run/args
script='printf "<%s>\n" "$@" >/run/args/out; exec "$0" --listen=127.0.0.1:'"$P2"' --mode=http'
ok "app 'args' with awkward arguments" app_up args --listen=127.0.0.1:$P1 --backend=127.0.0.1:$P2 --rw-path=/run/args -- \
        /bin/sh -c "$script" "$TB" 'two words' '$HOME' '${PATH}' '%n %i %%' 'say "hi"' "it's" 'back\slash' '' ';' \
        "$(printf 'tab\there')" "$(printf 'new\nline')" 'ünï'
like "the backend answers" "$(get $P1)" '^hello from'
expected=$(printf '<%s>\n' 'two words' '$HOME' '${PATH}' '%n %i %%' 'say "hi"' "it's" 'back\slash' '' ';' \
        "$(printf 'tab\there')" "$(printf 'new\nline')" 'ünï')
is "every argument reached the backend unchanged (quoting, \$, %, backslash, empty, newline, UTF-8)" \
        "$(c cat /run/args/out)" "$expected"

# ---- --start-on=data -------------------------------------------------------------------------------------------
ok "app 'lazy' with --start-on=data" app_up lazy --listen=127.0.0.1:$P3 --backend=127.0.0.1:$P4 --start-on=data \
        -- "$TB" --listen=127.0.0.1:$P4 --mode=echo
"$TC" --connect-only 127.0.0.1:$P3
is "a client that connects and goes away silently starts nothing" "$(unit_prop lazy-backend.service ActiveState)" inactive
is "no cold start" "$(state lazy cold-starts)" ""
is "the first byte wakes it" "$("$TC" --send='x' 127.0.0.1:$P3 2>&1)" x
is "one cold start" "$(state lazy cold-starts)" 1

# ---- --ready=notify --------------------------------------------------------------------------------------------
ok "app 'notif' with --ready=notify (the backend says READY=1 after 1 s)" app_up notif --listen=127.0.0.1:$P5 \
        --backend=127.0.0.1:$P6 --ready=notify -- "$TB" --listen=127.0.0.1:$P6 --mode=http --notify --ready-delay=1s
like "the first request is answered" "$(get $P5)" '^hello from'
ms=$(state notif ready-ms)
ok "ready-ms ($ms) counts the backend's own 1 s until READY=1" test "${ms:-0}" -ge 1000

# ---- --force + daemon-reload -------------------------------------------------------------------------------------
c "$EMBERCTL" new notif --listen=127.0.0.1:$P5 --backend=127.0.0.1:$P6 -- "$TB" --listen=127.0.0.1:$P6 >/dev/null 2>&1
is "new over existing units without --force: 73" "$?" 73
c "$EMBERCTL" new notif --force --idle=7s --listen=127.0.0.1:$P5 --backend=127.0.0.1:$P6 --ready=notify -- \
        "$TB" --listen=127.0.0.1:$P6 --mode=http --notify >/dev/null 2>&1
is "new --force over existing units: 0" "$?" 0
c systemctl daemon-reload
like "after daemon-reload systemd runs the new ExecStart" "$(unit_prop notif-backend.service ExecStart)" '--idle=7s'

# ---- --client-idle-timeout ------------------------------------------------------------------------------------------
ok "app 'quiet' with --client-idle-timeout=1s" app_up quiet --listen=127.0.0.1:$P9 --backend=127.0.0.1:$P10 \
        --client-idle-timeout=1s -- "$TB" --listen=127.0.0.1:$P10 --mode=echo
t0=$(ms_now)
timeout 20 cat </dev/tcp/127.0.0.1/$P9 >/dev/null 2>&1
rc=$?
t1=$(ms_now)
is "a silent client is closed by the launcher (not by timeout(1))" "$rc" 0
ok "after about 1 s (took $((t1 - t0)) ms; at most 10 s on a loaded machine)" test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 10000
c journalctl --sync
is "closing an idle client is a normal end: the instance did not fail" \
        "$(c journalctl -q --no-pager -o cat -u 'quiet@*' | grep -c -e 'Failed with result' -e 'status=')" 0

# ---- stopping the sockets ------------------------------------------------------------------------------------------
# The public socket alone: no new connections, and the backend stops after its idle period (restarting it must not
# cut live connections, tests/system/heal-stop.sh); the wake socket: the backend stops at once.
ok "stopping echo.socket refuses new connections" c systemctl stop echo.socket
is "but leaves the backend to its idle period" "$(unit_prop echo-backend.service ActiveState)" active
ok "stopping echo-backend.socket stops the backend (Requires=)" c systemctl stop echo-backend.socket
ok "echo-backend.service goes inactive" wait_until 15 inactive echo-backend.service
ok "and it ended cleanly" test "$(unit_prop echo-backend.service Result)" = success
ok "the state records the stop" wait_until 5 is_cold echo
ok "starting echo.socket again brings the wake socket back (Wants=)" c systemctl start echo.socket
active() { [ "$(unit_prop "$1" ActiveState)" = active ]; }
ok "echo-backend.socket is active again" wait_until 15 active echo-backend.socket
is "and the app wakes again" "$(c "$TC" --send='back\n' /run/echo.sock 2>&1)" back

# ---- a unix backend that reads, answers and closes (issue 23) ------------------------------------------------------
# six lines of Python, as a user would write them: no handling of EPIPE
answer_py='import os, socket
p = "/run/uanswer/s.sock"
os.path.exists(p) and os.unlink(p)
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(4096); c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nanswered\n"); c.close()'
c mkdir -p /run/uanswer
ok "app 'uanswer': TCP --listen, a unix --backend that answers and closes" app_up uanswer --listen=127.0.0.1:$P11 \
        --backend=/run/uanswer/s.sock --rw-path=/run/uanswer --user=root -- /usr/bin/python3 -c "$answer_py"
is "curl gets the answer (cold)" "$(curl -s -m 20 "http://127.0.0.1:$P11/")" answered
is "curl gets the answer (warm)" "$(curl -s -m 20 "http://127.0.0.1:$P11/")" answered
like "socat, half-closing first, gets the answer (warm)" \
        "$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 socat -t 15 - TCP:127.0.0.1:$P11 2>&1)" '^answered'
is "one cold start: the backend never died (no EPIPE on an answer)" "$(state uanswer cold-starts)" 1
is "no crash recorded" "$(n=$(state uanswer crashes); echo "${n:-0}")" 0

# ---- a backend that cannot start --------------------------------------------------------------------------------
ok "app 'broken' whose backend exits at once" app_up broken --listen=127.0.0.1:$P7 --backend=127.0.0.1:$P8 \
        --start-timeout=5s -- /bin/false
t0=$(ms_now)
"$TC" --send='x' --timeout=20s 127.0.0.1:$P7 >/dev/null 2>&1
t1=$(ms_now)
ok "its client is closed promptly: within the start timeout of 5 s, plus 2 s (took $((t1 - t0)) ms)" test $((t1 - t0)) -lt 7000
ok "the journal says why" test "$(journal_events broken crash)" -ge 1
ok "broken.socket stays active" c systemctl is-active --quiet broken.socket
ok "no broken@ instance is left behind, not even a failed one (CollectMode=)" \
        wait_until 10 sh -c "[ \$(nsenter -t $C_PID -a systemctl list-units --all --no-legend --plain 'broken@*' | wc -l) = 0 ]"

# ---- status and stop of apps that do not exist ------------------------------------------------------------------------
c "$EMBERCTL" status nosuchapp >/dev/null 2>&1
is "emberctl status of an unknown app: 69" "$?" 69
c "$EMBERCTL" stop nosuchapp >/dev/null 2>&1
is "emberctl stop of an unknown app: 69" "$?" 69
out=$(c "$EMBERCTL" status)
for app in args broken echo lazy notif quiet uanswer; do
        like "emberctl status lists '$app'" "$out" "^$app "
done
ok "emberctl status --json lists all seven" python3 -c '
import json, sys
apps = sorted(o["app"] for o in json.loads(sys.argv[1]))
assert apps == ["args", "broken", "echo", "lazy", "notif", "quiet", "uanswer"], apps' "$(c "$EMBERCTL" status --json)"

tap_passing || for a in echo uanswer args lazy notif quiet broken; do diag_journal $a; done
finish
