#!/bin/bash
# Issue 24, item 3, under a real systemd: an unprivileged local user binds the backend's port before the backend does,
# with a listener that records every byte it is sent. Three ways: on a fixed port while the app is cold; on a fixed
# port the moment the state says "starting"; on a HOST:auto port the moment the supervisor has picked it (read from
# the generation's file) while the backend is slowed by --ready-delay; and on the port of an upgrade's new
# generation. On main the last three won: the supervisor took the squatter's listener as the ready backend and the
# client's bytes went to it, and none of the four named the squatter. Now: the client's request never reaches the
# squatter, the journal names it ("port P is taken by pid N (python3) of uid U"), an upgrade fails saying so while
# the old generation serves on, and once the squatter is gone the app serves again. Last, a server that leaves the
# backend's process tree is still taken as the backend's (its unit's cgroup holds it).
. "$(dirname "$0")/lib.sh"
plan 34

sys_boot
pick_ports 5
LP=${PORTS[0]} FIXED=${PORTS[1]} LP_AUTO=${PORTS[2]} LP_D=${PORTS[3]} BP_D=${PORTS[4]}
TC=$TOOLS/ember-test-client
[ -x "$TC" ] || bail "test tools not built in $TOOLS"
SQUID=4242
c systemd-sysusers --inline 'u squatapp - "ember test backend user" -' 'u squatter 4242 "a local user" -' >/dev/null 2>&1
c mkdir -p /run/squat && c chown squatter:squatter /run/squat

# The squatter, as the user squatter (uid 4242): binds 127.0.0.1:PORT (fixed: at once with "now", or once the app's state says starting)
# or the port the supervisor picked for a HOST:auto app ("auto": from gen-G, once it names one; "upgrade": of a
# generation after PORT, which is then a generation number), then accepts, and
# logs every connection and what it was sent to LOG (and what serving said when it bound).
squatter_py='import os, socket, sys, time
mode, app, log, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = "/run/ember/" + app
def read(name):
    try:
        return open(os.path.join(d, name)).read().strip()
    except OSError:
        return ""
def auto_port(after=0):
    for g in os.listdir(d) if os.path.isdir(d) else []:
        for kv in read(g).split() if g[:4] == "gen-" and g[4:].isdigit() and int(g[4:]) > after else []:
            if kv.startswith("port=") and kv != "port=0":
                return int(kv[5:])
    return 0
deadline = time.time() + 120
while mode == "upgrade" and time.time() < deadline:
    if auto_port(port):
        port = auto_port(port)
        break
    time.sleep(0.002)
while mode in ("fixed", "auto") and time.time() < deadline:
    if read("state") == "starting" and (mode == "fixed" or auto_port()):
        port = port or auto_port()
        break
    time.sleep(0.002)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
open(log, "a").write("listening on %d\nserving then: %s\n" % (port, read("serving")))
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(4096)
    except OSError:
        data = b""
    open(log, "a").write("accepted %r\n" % data)
    try:
        c.sendall(b"squatter\n")
    except OSError:
        pass
    c.close()'

# squat MODE APP PORT: starts the squatter as a unit of its own (squatter.service), as the user squatter
squat() {
        c rm -f /run/squat/log
        c systemd-run --quiet --unit=squatter -p User=squatter -p Group=squatter python3 -c "$squatter_py" "$1" "$2" \
                /run/squat/log "$3"
}
unsquat() { c systemctl stop squatter.service; }
squat_listening() { c grep -q '^listening' /run/squat/log; }
squat_port() { c sed -n 's/^listening on //p' /run/squat/log; }
squat_accepted() { c grep -c '^accepted' /run/squat/log || true; }
# what reached it of the clients' requests (the supervisor's readiness probe, where nobody listened yet, may have
# connected as the squatter bound: it sends nothing, and is then judged by the table again)
squat_secrets() { c grep -c '^accepted .*secret' /run/squat/log || true; }
squat_cpid() { unit_prop squatter.service MainPID; }
# journal_names APP PORT: the backend unit's journal says who holds PORT
journal_names() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o cat -u "$1-backend.service" | grep -F "port $2 is taken by pid $3 (python3) of uid $SQUID"
}
served() { [ "$("$TC" --timeout=10s --send="$2" 127.0.0.1:$1 2>/dev/null)" = "$2" ]; }

# ---- a fixed port, held while the app is cold -----------------------------------------------------------------------
ok "app 'squat' on a fixed backend port, as its own user" app_up squat --listen=127.0.0.1:$LP \
        --backend=127.0.0.1:$FIXED --user=squatapp --idle=60s -- "$TOOLS/ember-test-backend" \
        --listen=127.0.0.1:$FIXED --mode=echo --ready-delay=1s
squat now squat $FIXED
ok "uid $SQUID listens on the backend's port while the app is cold" wait_until 10 squat_listening
is "a client's request: the connection is closed, unanswered" "$("$TC" --timeout=20s --send='secret-1\n' 127.0.0.1:$LP 2>&1)" ""
is "the squatter got no connection" "$(squat_accepted)" 0
cpid=$(squat_cpid)
ok "the journal names it: port $FIXED is taken by pid $cpid (python3) of uid $SQUID" journal_names squat $FIXED "$cpid" ||
        diag_journal squat
is "the app is cold again" "$(state squat state)" cold
unsquat
ok "once it is gone, the app serves again" wait_until 30 served $LP again-1
c systemctl stop squat-backend.service

# ---- a fixed port, taken the moment the state says starting -----------------------------------------------------------
before=$(journal_events squat start-failed)
squat fixed squat $FIXED
out=$("$TC" --timeout=20s --send='secret-2\n' 127.0.0.1:$LP 2>&1)
ok "uid $SQUID took the port as the app was starting (the backend binds after 1 s)" squat_listening
is "a client's request: the connection is closed, unanswered (main: the squatter answered)" "$out" ""
is "the squatter got none of the client's bytes (main: it got them)" "$(squat_secrets)" 0
cpid=$(squat_cpid)
ok "the journal names it: port $FIXED is taken by pid $cpid (python3) of uid $SQUID" journal_names squat $FIXED "$cpid" ||
        diag_journal squat
ok "and the start ended as failed (EMBER_EVENT=start-failed)" test "$(journal_events squat start-failed)" -gt "$before"
is "the app is cold again" "$(state squat state)" cold
unsquat
ok "once it is gone, the app serves again" wait_until 30 served $LP again-2
is "the squatter never got a client's byte" "$(squat_secrets)" 0

# ---- a HOST:auto port, taken the moment the supervisor picked it -------------------------------------------------------
ok "app 'squata' on HOST:auto" app_up squata --listen=127.0.0.1:$LP_AUTO --backend=127.0.0.1:auto --user=squatapp \
        --idle=60s -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:{port} --mode=echo --ready-delay=1s
squat auto squata 0
out=$("$TC" --timeout=20s --send='secret-3\n' 127.0.0.1:$LP_AUTO 2>&1)
ok "uid $SQUID took the picked port before the backend bound it" squat_listening
port=$(squat_port)
like "when it bound it, serving named the generation but no address yet (main: that very port)" \
        "$(c grep '^serving then:' /run/squat/log)" '^serving then: [0-9]+ -$'
is "a client's request is served by a fresh start on a port of its own (the launcher tries again; main: the squatter answered)" \
        "$out" secret-3
is "the squatter got none of the client's bytes (main: it got them)" "$(squat_secrets)" 0
cpid=$(squat_cpid)
ok "the journal names it: port $port is taken by pid $cpid (python3) of uid $SQUID" journal_names squata "$port" "$cpid" ||
        diag_journal squata
isnt "serving never named the squatted port" "$(state squata serving | cut -d' ' -f2)" "127.0.0.1:$port"
like "serving names the port the backend has" "$(state squata serving)" '^[0-9]+ 127\.0\.0\.1:[0-9]+$'
ok "the next connection is served too, with the squatter still there" served $LP_AUTO again-3
is "the squatter never got a client's byte" "$(squat_secrets)" 0
unsquat

# ---- an upgrade's new generation, its HOST:auto port taken the moment it is picked --------------------------------------
gen=$(state squata serving | cut -d' ' -f1)
squat upgrade squata "$gen"
out=$(c "$EMBERCTL" upgrade squata 2>&1)
is "emberctl upgrade fails (69) when the new generation's port is taken" "$?" 69
like "saying by whom" "$out" "port [0-9]+ is taken by pid [0-9]+ \\(python3\\) of uid $SQUID"
is "generation $gen still serves" "$(state squata serving | cut -d' ' -f1)" "$gen"
ok "and clients are served by it" served $LP_AUTO secret-4
is "the squatter never got a client's byte (main: the upgrade switched to it)" "$(squat_secrets)" 0
unsquat

# ---- the backend's own listener outside its process tree: a daemonizing server, in its unit's cgroup ------------------
# sh starts a python echo server in a subshell that exits (python is then nobody's child of ours) and becomes sleep:
# the listener is held by a process of the unit's cgroup only, which the supervisor asks after the tree.
echo_py='import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(c.recv(4096))
    c.close()'
ok "app 'squatd': its server leaves the backend's process tree" app_up squatd --listen=127.0.0.1:$LP_D \
        --backend=127.0.0.1:$BP_D --user=squatapp --idle=60s -- /bin/sh -c '(python3 -c "$0" "$1" &); exec sleep infinity' \
        "$echo_py" $BP_D
is "it is served: its unit's cgroup holds the listener" "$("$TC" --timeout=20s --send='daemon-1\n' 127.0.0.1:$LP_D 2>&1)" daemon-1
ppid=$(c ps -o ppid= -p "$(c pgrep -u squatapp -x python3 | head -n 1)" | tr -d ' ')
isnt "(the listener's holder is not the backend's child)" "$ppid" "$(state squatd backend.pid)"
c journalctl --sync
is "and nothing was said to be taken" "$(c journalctl -q --no-pager -o cat -u squatd-backend.service | grep -c 'is taken by')" 0
