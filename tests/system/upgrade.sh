#!/bin/bash
# emberctl upgrade under a real systemd and under load. A HOST:auto app is upgraded five times in a row (emberctl new
# --force with a new version, daemon-reload, emberctl upgrade) while 16 clients open a new connection per request and
# 4 long-lived connections talk all the time: no failed connect, no reset, no wrong answer; new connections reach
# the new generation; each long-lived connection stays on its own backend; old generations are gone once drained.
# Then: a new generation that fails leaves the old one serving; the drain timeout closes stragglers; a second
# upgrade while one starts is refused; a cold app has nothing to upgrade; stopping the unit stops every generation;
# a fixed-port upgrade under the same load fails no request; a JVM that needs about a second to listen.
. "$(dirname "$0")/lib.sh"

sys_boot
plan 63
LOAD=$top_srcdir/tests/system/upgrade-load.py
pick_ports 3
LISTEN_PORT=${PORTS[0]} FIXED_LISTEN=${PORTS[1]} FIXED_BACKEND=${PORTS[2]}
APP=up

# version TAG [BACKEND-OPTION...]: the app's units for version TAG (emberctl new --force), daemon-reloaded
version() {
        local tag=$1
        shift
        c "$EMBERCTL" new $APP --force --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:auto --idle=60s -- \
                "$TOOLS/ember-test-backend" --listen=127.0.0.1:{port} --mode=tag "--tag=$tag-{generation}" "$@" \
                >"$T_TMP/new.out" 2>&1 && c systemctl daemon-reload
}
ask() { "$TOOLS/ember-test-client" --timeout=10s --send="$2\n" 127.0.0.1:"$1" 2>&1; }
upgrade() { c "$EMBERCTL" upgrade "$@" >"$T_TMP/upgrade.out" 2>&1; }
generations() { c "$EMBERCTL" status "$1" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["generations"]))'; }
generations_are() { [ "$(generations "$1")" = "$2" ]; }
# starting_generation APP: a new generation of APP is starting (an upgrade is in progress)
starting_generation() {
        c "$EMBERCTL" status "$1" --json |
                python3 -c 'import json,sys; sys.exit(all(g["role"] != "starting" for g in json.load(sys.stdin)["generations"]))'
}
# load_start NAME PORT ARGS...: upgrade-load.py in the background until load_stop NAME; its summary in $T_TMP/NAME.json.
# It returns once every client of the load has had an answer (its long-lived connections are open).
load_start() {
        local name=$1 port=$2
        shift 2
        rm -f "$T_TMP/$name.stop" "$T_TMP/$name.progress"
        /usr/bin/python3 "$LOAD" 127.0.0.1:"$port" "$T_TMP/$name.stop" --progress="$T_TMP/$name.progress" "$@" \
                >"$T_TMP/$name.json" 2>"$T_TMP/$name.err" &
        LOAD_PID=$!
        load_wait "$name" 's["answered"] == s["clients"]'
}
load_stop() { touch "$T_TMP/$1.stop"; wait "$LOAD_PID"; }
summary() { /usr/bin/python3 -c "import json,sys; s=json.load(open('$T_TMP/$1.json')); print($2)"; }
# load_now NAME EXPR: EXPR of what the running load NAME has seen so far (s: its summary as it stands)
load_now() { /usr/bin/python3 -c "import json; s=json.load(open('$T_TMP/$1.progress')); print($2)" 2>/dev/null; }
load_holds() { [ "$(load_now "$1" "$2")" = True ]; }
# load_wait NAME EXPR: until EXPR holds of what load NAME has seen (at most 20 s; a wait that ends unmet is said, and
# the assertions after it fail)
load_wait() {
        wait_until 20 load_holds "$1" "$2" && return 0
        diag "load $1: still not $2 after 20 s: $(cat "$T_TMP/$1.progress" 2>/dev/null)"
        return 1
}
# served_by NAME TAG: how many answers load NAME has had from the backend tagged TAG
served_by() { load_now "$1" "s[\"tags\"].get(\"$2\", 0)"; }
# new_answers NAME TAG: until load NAME has had 16 more answers from TAG than it had when this was called
new_answers() { load_wait "$1" "s[\"tags\"].get(\"$2\", 0) >= $(($(served_by "$1" "$2") + 16))"; }
no_failures() { # NAME DESC
        local f
        f=$(summary "$1" '"%d %d %d %d %d" % (s["requests"], s["failed_connect"], s["reset"], s["timeout"], s["wrong"])')
        diag "$2: requests, failed connects, resets, timeouts, wrong answers: $f; tags $(summary "$1" 's["tags"]'); longest $(summary "$1" 's["max_ms"]') ms"
        like "$2: no failed connect, reset, timeout or wrong answer" "$f" '^[1-9][0-9]* 0 0 0 0$'
        [ -s "$T_TMP/$1.err" ] && diag_file "$T_TMP/$1.err"
        return 0
}

ok "app $APP is up with --backend=127.0.0.1:auto" app_up $APP --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:auto \
        --idle=60s -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:{port} --mode=tag --tag=v1-{generation}
like "the backend unit reloads with ember-sandbox --upgrade" "$(unit_prop $APP-backend.service ExecReload)" 'ember-sandbox --upgrade '
is "the first connection starts generation 1 on a port of its own" "$(ask $LISTEN_PORT hi)" "v1-1 hi"
main_pid=$(unit_prop $APP-backend.service MainPID)

# ---- five upgrades in a row under load -------------------------------------------------------------------------
load_start main $LISTEN_PORT --short=16 --long=4
for v in 2 3 4 5 6; do
        version v$v
        upgrade $APP
        rc=$?
        is "upgrade $((v - 1)) of 5 exits 0" "$rc" 0
        [ "$rc" = 0 ] || diag_file "$T_TMP/upgrade.out"
        is "upgrade $((v - 1)): a new connection reaches generation $v" "$(ask $LISTEN_PORT p$v)" "v$v-$v p$v"
        new_answers main "v$v-$v" # the load runs on the new generation before the next upgrade
done
like "emberctl upgrade says which generation serves" "$(cat "$T_TMP/upgrade.out")" "^Upgraded $APP: generation 6 serves on 127\.0\.0\.1:[0-9]+"
status=$(c "$EMBERCTL" status $APP)
like "emberctl status shows generation 6 serving" "$status" '^  6 +serving +[0-9]+ +[0-9]+ +127\.0\.0\.1:[0-9]+ +[0-9]+$'
like "and generation 1 draining its long-lived connections" "$status" '^  1 +draining +[0-9]+ +[0-9]+ +127\.0\.0\.1:[0-9]+ +4$'
is "the unit's main process is still the supervisor it started with" "$(unit_prop $APP-backend.service MainPID)" "$main_pid"
is "the refcount is the total of live connections (4 long-lived, at least)" "$(($(state $APP refcount) >= 4))" 1
load_stop main
no_failures main "5 upgrades under load"
is "every long-lived connection stayed on generation 1 all along" \
        "$(summary main '" ".join(",".join(l["tags"]) + ("/closed" if l["closed_by_server"] else "") + ("/" + l["failed"] if l["failed"] else "") for l in s["long"])')" \
        "v1-1 v1-1 v1-1 v1-1"
cmp_ok "and kept talking (messages each, at least)" "$(summary main 'min(l["messages"] for l in s["long"])')" -ge 50
ok "once they closed, every old generation is gone: one is left" wait_until 10 generations_are $APP 1
is "one supervisor process is left" "$(supervisor_procs)" 1
counts_exact "after the load"
is "five upgrade-ready events, generation 6 the last" "$(journal_events $APP upgrade-ready):$(journal_field $APP upgrade-ready EMBER_GENERATION)" "5:6"
is "five drained events (generations 1 to 5)" "$(journal_events $APP drained)" 5

# ---- a new generation that fails: the old one keeps serving -----------------------------------------------------
version vbad --fail-start
load_start fail $LISTEN_PORT --short=8 --long=0
upgrade $APP
rc=$?
new_answers fail v6-6 # the load goes on, on generation 6, after the failure
load_stop fail
is "a failing upgrade exits 69" "$rc" 69
like "saying why, and that the old generation keeps serving" "$(cat "$T_TMP/upgrade.out")" 'generation 7 failed: exited with status 3 before it was ready; generation 6 keeps serving'
no_failures fail "the failing upgrade"
is "generation 6 still serves" "$(ask $LISTEN_PORT still)" "v6-6 still"
is "the unit is still active" "$(unit_prop $APP-backend.service ActiveState)" active
is "the failure is in the journal once" "$(journal_events $APP upgrade-failed)" 1

# ---- the drain timeout closes stragglers; --wait waits for the drain ---------------------------------------------
version v8
load_start straggler $LISTEN_PORT --short=0 --long=1
t0=$(ms_now)
upgrade $APP --drain-timeout=2s --wait
rc=$?
t1=$(ms_now)
is "upgrade --drain-timeout=2s --wait exits 0" "$rc" 0
like "after generation 6 stopped" "$(cat "$T_TMP/upgrade.out")" "^Generation 6 of $APP has stopped"
cmp_ok "which took the drain timeout, about ($((t1 - t0)) ms)" $((t1 - t0)) -ge 2000
load_wait straggler 's["long"][0]["ended"]' # the client has seen its connection closed
load_stop straggler
is "the straggler was closed by the drain timeout, on generation 6" "$(summary straggler '",".join(s["long"][0]["tags"]) + ("/closed" if s["long"][0]["closed_by_server"] else "") + s["long"][0]["failed"]')" "v6-6/closed"
like "drained says it closed a connection" "$(c journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=drained | tail -n 1)" 'drain timeout passed; closing its 1 connections'

# ---- one upgrade at a time ---------------------------------------------------------------------------------------
version v9 --ready-delay=3s
c "$EMBERCTL" upgrade $APP >"$T_TMP/slow.out" 2>&1 &
slow=$!
wait_until 10 starting_generation $APP || diag "no generation of $APP starting after 10 s: $(c "$EMBERCTL" status $APP)"
upgrade $APP
is "an upgrade while another is starting exits 75" "$?" 75
like "saying which" "$(cat "$T_TMP/upgrade.out")" "an upgrade of $APP to generation 9 is in progress"
wait $slow
is "the first one succeeds" "$?" 0
is "and generation 9 serves" "$(ask $LISTEN_PORT nine)" "v9-9 nine"

# ---- the serving generation killed while the first one drains: the unit starts afresh -----------------------------
load_start killed $LISTEN_PORT --short=0 --long=1
version v9b
upgrade $APP
is "an upgrade beside a long-lived connection" "$?" 0
kill_pid=$(state $APP supervisor.pid)
is "the serving supervisor is not the unit's main process" "$((kill_pid != $(unit_prop $APP-backend.service MainPID)))" 1
c kill -KILL "$kill_pid"
served_tag() { [ "$(ask $LISTEN_PORT k)" = "v9b-$(($(state $APP generation))) k" ]; }
ok "SIGKILL of the serving generation's supervisor: the next connections are served by a fresh start" wait_until 5 served_tag
load_stop killed
ok "and no supervisor of the killed unit is left behind (one runs)" test "$(supervisor_procs)" = 1

# ---- stopping the unit stops every generation -------------------------------------------------------------------
load_start stop $LISTEN_PORT --short=0 --long=1
version v10
upgrade $APP
is "one more upgrade (generation 9 keeps a connection)" "$?" 0
ok "two generations are live" generations_are $APP 2
c systemctl stop $APP-backend.service
ok "systemctl stop: no supervisor is left" wait_until 15 test "$(supervisor_procs)" = 0
is "nor any backend" "$(c pgrep -c -f '^[^ ]*ember-test-backend --listen=127.0.0.1:' || true)" 0
load_stop stop
is "the state is cold" "$(state $APP state)" cold

# ---- a cold app has nothing to upgrade -----------------------------------------------------------------------------
upgrade $APP
is "upgrading a cold app exits 0" "$?" 0
like "saying the next connection starts the new version" "$(cat "$T_TMP/upgrade.out")" 'is cold: nothing to upgrade; its next connection starts the new version'
is "which it does" "$(ask $LISTEN_PORT cold)" "v10-$(state $APP generation) cold"

# ---- a fixed port: new connections wait while the old generation drains ----------------------------------------
ok "app upfix is up on a fixed backend port" app_up upfix --listen=127.0.0.1:$FIXED_LISTEN --backend=127.0.0.1:$FIXED_BACKEND \
        --idle=60s -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$FIXED_BACKEND --mode=tag --tag=f1
is "it serves" "$(ask $FIXED_LISTEN a)" "f1 a"
c "$EMBERCTL" new upfix --force --listen=127.0.0.1:$FIXED_LISTEN --backend=127.0.0.1:$FIXED_BACKEND --idle=60s -- \
        "$TOOLS/ember-test-backend" --listen=127.0.0.1:$FIXED_BACKEND --mode=tag --tag=f2 >"$T_TMP/new.out" 2>&1
c systemctl daemon-reload
load_start fixed $FIXED_LISTEN --short=16 --long=0
upgrade upfix --drain-timeout=2s
is "the fixed-port upgrade exits 0" "$?" 0
new_answers fixed f2 # the load runs on the new version
load_stop fixed
no_failures fixed "the fixed-port upgrade"
diag "the latency spike of a fixed-port upgrade (new connections held while the old generation drains): $(summary fixed 's["max_ms"]') ms"
is "the new version serves" "$(ask $FIXED_LISTEN b)" "f2 b"

# ---- a JVM that needs about a second to listen ---------------------------------------------------------------------
JAVA_DIR=$top_builddir/tests/system/upgrade-java
# the real binary: /usr/bin/java goes through /etc/alternatives, which the container's fresh /etc does not have
JAVA=$(readlink -f "$(command -v java 2>/dev/null)" 2>/dev/null)
if command -v javac >/dev/null && [ -x "$JAVA" ] && mkdir -p "$JAVA_DIR" && javac -d "$JAVA_DIR" "$top_srcdir/tests/sandbox/HelloServer.java" 2>"$T_TMP/javac.err"; then
        pick_ports 1
        JAVA_LISTEN=${PORTS[0]}
        jversion() {
                c "$EMBERCTL" new upjava --force --listen=127.0.0.1:$JAVA_LISTEN --backend=127.0.0.1:auto --idle=60s \
                        --start-timeout=60s -- "$JAVA" -cp "$JAVA_DIR" HelloServer {port} "$1" >"$T_TMP/new.out" 2>&1 &&
                        c systemctl daemon-reload || diag_file "$T_TMP/new.out"
        }
        jversion j1
        ok "app upjava is up" c systemctl enable --now upjava.socket
        like "the JVM answers" "$(curl -sS --max-time 30 http://127.0.0.1:$JAVA_LISTEN/)" '^hello from java .* j1$'
        load_start java $JAVA_LISTEN --short=8 --long=0 --proto=http
        jversion j2
        upgrade upjava
        is "the JVM upgrade exits 0" "$?" 0
        diag "$(cat "$T_TMP/upgrade.out")"
        new_answers java j2 # the load runs on the new JVM
        load_stop java
        no_failures java "the JVM upgrade"
        like "the new JVM answers" "$(curl -sS --max-time 30 http://127.0.0.1:$JAVA_LISTEN/)" '^hello from java .* j2$'
else
        diag_file "$T_TMP/javac.err"
        skip 5 "no javac here (package default-jdk-headless)"
fi
finish
