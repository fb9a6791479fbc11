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
# must survive the restart with every byte echoed. A restart closes the listening socket for a moment (systemd
# does; a daemon-reload keeps it): a connect() in that window is refused, and one that completed just before the close
# but was still in the kernel's queue is reset. Nobody accepted those, and the client may retry; every connection
# systemd accepted (its NAccepted counter) must be answered.
_load_tally() { # ERRFILE: "answered refused reset" of the load's connections (--report: one line each)
        echo "$(grep -c ' end=eof$' "$1") $(grep -c '^ember-test-client: connect: Connection refused$' "$1")" \
                "$(grep -c '^sent=[0-9]* received=0 ms=[0-9]* end=reset$' "$1")"
}
_live() { [ "$(state $APP refcount)" = "$1" ]; }                                 # N: that many live connections
_answered() { [ "$(grep -c ' end=eof$' "$T_TMP/load.err" 2>/dev/null)" -ge "$1" ]; } # N: the load has N answers
for what in "restart $APP.socket" "daemon-reload"; do
        accepted_before=$(unit_prop $APP.socket NAccepted)
        "$CLIENT" --parallel=3 --send="$(printf 'line %s\n' $(seq 30))" --interval=100ms --expect-echo --output=none \
                --timeout=30s 127.0.0.1:$LISTEN_PORT >/dev/null 2>"$T_TMP/talk.err" &
        talkers=$!
        # the conversations are under way (accepted, their launchers joined) before the load and the restart begin
        wait_until 10 _live 3 || diag "$what: 3 conversations not live after 10 s (refcount '$(state $APP refcount)')"
        rm -f "$T_TMP/load.err"
        "$CLIENT" --parallel=4 --repeat=150 --send='x' --expect-echo --output=none --report --timeout=30s \
                127.0.0.1:$LISTEN_PORT >/dev/null 2>"$T_TMP/load.err" &
        load=$!
        wait_until 10 _answered 4 || diag "$what: the load has no 4 answers after 10 s"
        # shellcheck disable=SC2086
        c systemctl $what
        wait "$talkers"
        is "$what under load: 3 conversations across it, every byte echoed" "$?" 0
        diag_file "$T_TMP/talk.err"
        wait "$load"
        accepted=$(($(unit_prop $APP.socket NAccepted) - accepted_before - 3))
        read -r answered refused reset <<<"$(_load_tally "$T_TMP/load.err")"
        if [ "$what" = daemon-reload ]; then # the listening socket stays open: nothing may be refused either
                is "$what under load: all 600 connections accepted and answered" "$answered:$accepted" 600:600
        else
                is "$what under load: of 600 connections $accepted accepted, all answered ($refused refused, $reset reset while closed)" \
                        "$answered:$((answered + refused + reset))" "$accepted:600"
        fi
        grep -v ' end=eof$' "$T_TMP/load.err" >"$T_TMP/load.bad"
        diag_file "$T_TMP/load.bad"
        is "$what: both sockets are active" "$(unit_prop $APP.socket ActiveState):$(unit_prop $APP-backend.socket ActiveState)" active:active
        counts_exact "$what"
        no_orphan "$what"
        served_within 2000 "$what"
done

# ---- a backend that exits 0 by itself ----------------------------------------------------------------------------
# It exits 0 by itself once /run/quit/now exists, and removes it (the container's /run is its own; the backend
# unit's file system is read-only, so the directory is given to it with --rw-path).
c mkdir -p -m 0777 /run/quit # the backend, a user of its own, removes the file
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
