#!/bin/bash
# Self-healing under a real systemd, stops and restarts: `systemctl stop NAME-backend` with live connections,
# `systemctl restart NAME.socket` and `systemctl daemon-reload` under load, and a backend that exits 0 by itself
# while idle and while connections are live. After each: the next connection is served within 2 s, the counts are
# exact, no orphan is left, and one journal line says what happened.
. "$(dirname "$0")/lib.sh"
plan 36

sys_boot
CLIENT=$TOOLS/ember-test-client

# ---- systemctl stop NAME-backend with live connections ---------------------------------------------------------
echo_app stopper
"$CLIENT" --parallel=5 --send='held' --hold=infinity --output=none --timeout=60s 127.0.0.1:$LISTEN_PORT \
        >/dev/null 2>"$T_TMP/held.err" &
held=$!
_five() { [ "$(state $APP refcount)" = 5 ]; }
ok "5 live connections" wait_until 20 _five
before=$(journal_events $APP stop)
c systemctl stop $APP-backend.service
gone() { ! kill -0 "$1" 2>/dev/null; }
ok "backend stop: the 5 live connections are closed" wait_until 10 gone "$held"
counts_exact "backend stop"
is "backend stop: state cold" "$(state $APP state)" cold
no_orphan "backend stop"
journal_once "backend stop" stop "$before"
served_within 2000 "backend stop"

# ---- systemctl restart NAME.socket and daemon-reload under load -----------------------------------------------
# Load: 4 workers making connection after connection, and 3 long conversations (a line every 100 ms for 3 s) that
# must survive the restart with every byte echoed.
for what in "restart $APP.socket" "daemon-reload"; do
        "$CLIENT" --parallel=3 --send="$(printf 'line %s\n' $(seq 30))" --interval=100ms --expect-echo --output=none \
                --timeout=30s 127.0.0.1:$LISTEN_PORT >/dev/null 2>"$T_TMP/talk.err" &
        talkers=$!
        "$CLIENT" --parallel=4 --repeat=150 --send='x' --expect-echo --output=none --timeout=30s \
                127.0.0.1:$LISTEN_PORT >/dev/null 2>"$T_TMP/load.err" &
        load=$!
        sleep 1
        # shellcheck disable=SC2086
        c systemctl $what
        wait "$talkers"
        is "$what under load: 3 conversations across it, every byte echoed" "$?" 0
        diag_file "$T_TMP/talk.err"
        wait "$load"
        is "$what under load: every one of 600 connections answered" "$?" 0
        diag_file "$T_TMP/load.err"
        is "$what: both sockets are active" "$(unit_prop $APP.socket ActiveState):$(unit_prop $APP-backend.socket ActiveState)" active:active
        counts_exact "$what"
        no_orphan "$what"
        served_within 2000 "$what"
done

# ---- a backend that exits 0 by itself ----------------------------------------------------------------------------
# It exits 0 by itself once /run/quit/now exists, and removes it (the container's /run is its own; the backend
# unit's file system is read-only, so the directory is given to it with --rw-path).
c mkdir -p /run/quit
echo_app quitter --rw-path=/run/quit -- --exit-on=/run/quit/now
cold() { [ "$(state $APP state)" = cold ]; }

before=$(journal_events $APP exit)
c touch /run/quit/now
ok "exit 0 while idle: the supervisor records cold" wait_until 5 cold
is "exit 0 while idle: not counted as a crash" "$(state $APP crashes)" 0
journal_once "exit 0 while idle" exit "$before"
served_within 2000 "exit 0 while idle"
counts_exact "exit 0 while idle"
no_orphan "exit 0 while idle"

"$CLIENT" --parallel=3 --send='held' --hold=infinity --output=none --timeout=60s 127.0.0.1:$LISTEN_PORT \
        >/dev/null 2>&1 &
held=$!
_three() { [ "$(state $APP refcount)" = 3 ]; }
ok "3 live connections" wait_until 20 _three
before=$(journal_events $APP exit)
c touch /run/quit/now
ok "exit 0 with live connections: they are closed" wait_until 10 gone "$held"
ok "exit 0 with live connections: the supervisor records cold" wait_until 5 cold
journal_once "exit 0 with live connections" exit "$before"
counts_exact "exit 0 with live connections"
served_within 2000 "exit 0 with live connections"
no_orphan "exit 0 with live connections"

tap_passing || { APP=stopper diag_journal stopper; diag_journal quitter; }
finish
