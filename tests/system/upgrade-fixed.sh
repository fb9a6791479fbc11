#!/bin/bash
# emberctl upgrade of a fixed-port app under a real systemd: what it says up front and how long new connections wait.
# A fixed port cannot serve two backends, so the new one starts only once the old generation is gone, and new
# connections wait until then. With no connection open, emberctl upgrade warns of nothing and the wait is the new
# backend's start. With a long-lived connection open, it warns before anyone waits, naming the address, the live
# connections, the bound (--drain-timeout, capped at half of --start-timeout) and HOST:auto as the way without a
# wait; new connections then wait for the drain, which ends at that bound, closing the long-lived connection. A
# HOST:auto app with a long-lived connection open gets no such warning.
# What is asserted does not depend on the machine's speed: why each drain ended and with which bound (the old
# generation's own words in the journal), that the new backend was ready only after the old one had drained (journal
# order), and that new connections waited for the drain (the first one the new version answered began before the
# drain ended). How long they waited is a measurement, reported (diag "figure: ..."), never a pass/fail bound: the
# figures doc/upgrades.md cites come from here; a benchmark tracking them would run this scenario in bench/.
. "$(dirname "$0")/lib.sh"

sys_boot
plan 30
LOAD=$top_srcdir/tests/system/upgrade-load.py
pick_ports 3
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]} AUTO_PORT=${PORTS[2]}
APP=fix
START_TIMEOUT=6s # so the default drain (5 min) is capped at 3 s: half of it

# version TAG: fix's units for version TAG on its fixed backend port, daemon-reloaded
version() {
        c "$EMBERCTL" new $APP --force --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --idle=60s \
                --start-timeout=$START_TIMEOUT -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT \
                --mode=tag "--tag=$1" >"$T_TMP/new.out" 2>&1 && c systemctl daemon-reload
}
ask() { "$TOOLS/ember-test-client" --timeout=20s --send="$2\n" 127.0.0.1:"$1" 2>&1; }
upgrade() { c "$EMBERCTL" upgrade "$@" >"$T_TMP/upgrade.out" 2>&1; }
# timed_upgrade ARGS...: upgrade, its exit status in rc and its time in t_up (ms)
timed_upgrade() {
        local t0
        t0=$(ms_now)
        upgrade "$@"
        rc=$?
        t_up=$(($(ms_now) - t0))
}
served() { state $APP connections; }
served_past() { [ "$(served)" -ge "$1" ]; }
# load NAME: short connections (two clients, a new connection per request) until load_stop NAME; they have begun
# once the app has served 20 more connections
load_start() {
        local before
        before=$(served)
        rm -f "$T_TMP/$1.stop"
        /usr/bin/python3 "$LOAD" 127.0.0.1:$LISTEN_PORT "$T_TMP/$1.stop" --short=2 --long=0 --max-seconds=60 \
                >"$T_TMP/$1.json" 2>"$T_TMP/$1.err" &
        LOAD_PID=$!
        wait_until 20 served_past $((before + 20))
}
# load_stop NAME: once the new generation has served 20 connections too
load_stop() {
        wait_until 20 served_past $(($(served) + 20))
        touch "$T_TMP/$1.stop"
        wait "$LOAD_PID"
}
summary() { /usr/bin/python3 -c "import json; s=json.load(open('$T_TMP/$1.json')); print($2)"; }
# said GEN [EVENT]: what generation GEN of the app logged (only its EMBER_EVENT=EVENT entries if given)
said() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o cat "EMBER_APP=$APP" "EMBER_GENERATION=$1" ${2:+"EMBER_EVENT=$2"}
}
# logged_at GEN EVENT: when generation GEN logged EVENT (µs of CLOCK_MONOTONIC, the journal's __MONOTONIC_TIMESTAMP)
logged_at() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o export "EMBER_APP=$APP" "EMBER_GENERATION=$1" "EMBER_EVENT=$2" |
                sed -n 's/^__MONOTONIC_TIMESTAMP=//p' | tail -n 1
}
# ready_after_drain OLD: the new generation (OLD + 1) became ready only after OLD had drained, in the journal's order
ready_after_drain() {
        local drained ready
        drained=$(logged_at "$1" drained) ready=$(logged_at $(($1 + 1)) upgrade-ready)
        ok "generation $(($1 + 1)) was ready only after generation $1 had drained: one backend on the port at a time" \
                test "${drained:-x}" -lt "${ready:-0}"
}
failures() { summary "$1" '"%d %d %d %d" % (s["failed_connect"], s["reset"], s["timeout"], s["wrong"])'; }
# a long-lived connection from here (the container shares our network namespace): LONG is its descriptor
open_long() { exec {LONG}<>"/dev/tcp/127.0.0.1/$1"; }
talk() { local line=; echo "$1" >&"$LONG" 2>/dev/null && read -t 20 -r line <&"$LONG"; echo "$line"; }

ok "app $APP is up on a fixed backend port, --start-timeout=$START_TIMEOUT" app_up $APP \
        --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --idle=60s --start-timeout=$START_TIMEOUT -- \
        "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=tag --tag=f1
is "it serves" "$(ask $LISTEN_PORT a)" "f1 a"

# ---- no connection open: nothing to warn of, new connections wait for the new backend's start only ----------------
version f2
upgrade $APP
is "a quiet fixed-port upgrade exits 0" "$?" 0
ok "and warns of nothing" bash -c "! grep -q 'fixed address' '$T_TMP/upgrade.out'"
is "the new version serves" "$(ask $LISTEN_PORT b)" "f2 b"

version f3
load_start quick
timed_upgrade $APP
load_stop quick
is "under short connections only, the upgrade exits 0" "$rc" 0
is "no failed connect, reset, timeout or wrong answer" "$(failures quick)" "0 0 0 0"
diag "figure: no long-lived connection: $(summary quick '"%d requests, the longest %d ms" % (s["requests"], s["max_ms"])'); emberctl upgrade took $t_up ms"
old=$(($(state $APP generation) - 1))
like "generation $old drained once its last connection closed, no bound to wait out: new connections waited for a start" \
        "$(said $old drained)" 'its last connection closed$'
ready_after_drain $old

# ---- a long-lived connection open: said up front, and new connections wait for it, at most the drain bound ---------
open_long $LISTEN_PORT
is "a long-lived connection on version f3" "$(talk l1)" "f3 l1"
version f4
load_start held
timed_upgrade $APP
load_stop held
is "with a long-lived connection open, the upgrade exits 0" "$rc" 0
out=$(cat "$T_TMP/upgrade.out")
diag "$out"
like "emberctl upgrade says the backend has a fixed address and live connections" "$out" \
        "$APP's backend has a fixed address \(127\.0\.0\.1:$BACKEND_PORT\), which the new backend can take only once the [0-9]+ live connections? to the old one ha(s|ve) ended"
like "that new connections wait until they end, at most 3s: half the start timeout" "$out" \
        "new connections wait until then, at most 3s \(--drain-timeout, here half of --start-timeout=6s\)"
like "and that HOST:auto makes no connection wait" "$out" "give the app --backend=127\.0\.0\.1:auto"
warned=$(grep -n 'fixed address' "$T_TMP/upgrade.out" | cut -d: -f1)
done_at=$(grep -n '^Upgraded' "$T_TMP/upgrade.out" | cut -d: -f1)
ok "before the upgrade's result (line $warned, then $done_at)" test "${warned:-9}" -lt "${done_at:-0}"
is "no failed connect, reset, timeout or wrong answer" "$(failures held)" "0 0 0 0"
diag "figure: one long-lived connection, drain bound 3 s: $(summary held '"%d requests, the longest %d ms" % (s["requests"], s["max_ms"])'); emberctl upgrade took $t_up ms"
old=$(($(state $APP generation) - 1))
like "generation $old drained with the bound emberctl named, 3 s" "$(said $old)" 'draining [0-9]+ connections \(drain timeout 3 s\)'
like "and its drain ended at that bound, closing the long-lived connection" "$(said $old drained)" \
        'the drain timeout passed; closing its 1 connections$'
ready_after_drain $old
first_new=$(summary held 's["first_usec"].get("f4", "")') drained=$(logged_at $old drained)
ok "new connections waited for the drain: the first that f4 answered began before generation $old drained" \
        test "${first_new:-x}" -lt "${drained:-0}"
diag "figure: the first connection f4 answered began $(((${drained:-0} - ${first_new:-0}) / 1000)) ms before the drain ended"
is "the long-lived connection was closed" "$(talk l2)" ""
exec {LONG}>&-
is "the new version serves" "$(ask $LISTEN_PORT c)" "f4 c"

# ---- --drain-timeout below the cap: the bound it names -------------------------------------------------------------
open_long $LISTEN_PORT
is "a long-lived connection on version f4" "$(talk m1)" "f4 m1"
version f5
timed_upgrade $APP --drain-timeout=1s
like "--drain-timeout=1s: the upgrade exits 0, saying new connections wait at most 1s" "$rc $(cat "$T_TMP/upgrade.out")" \
        "^0 .*new connections wait until then, at most 1s \(--drain-timeout=1s\), when it is closed\."
diag "figure: --drain-timeout=1s with one long-lived connection: emberctl upgrade took $t_up ms"
old=$(($(state $APP generation) - 1))
like "generation $old drained with the bound asked for, 1 s" "$(said $old)" 'draining 1 connections \(drain timeout 1 s\)'
like "and its drain ended at that bound" "$(said $old drained)" 'the drain timeout passed; closing its 1 connections$'
is "the long-lived connection was closed" "$(talk m2)" ""
exec {LONG}>&-

# ---- HOST:auto: the generations run side by side, nobody waits, nothing to warn of --------------------------------
ok "app auto is up with --backend=127.0.0.1:auto" app_up auto --listen=127.0.0.1:$AUTO_PORT --backend=127.0.0.1:auto \
        --idle=60s -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:{port} --mode=tag --tag=a1
open_long $AUTO_PORT
is "a long-lived connection on auto" "$(talk n1)" "a1 n1"
c "$EMBERCTL" new auto --force --listen=127.0.0.1:$AUTO_PORT --backend=127.0.0.1:auto --idle=60s -- \
        "$TOOLS/ember-test-backend" --listen=127.0.0.1:{port} --mode=tag --tag=a2 >"$T_TMP/new.out" 2>&1
c systemctl daemon-reload
upgrade auto
like "its upgrade exits 0 with no warning" "$? $(cat "$T_TMP/upgrade.out")" "^0 Upgraded auto: generation 2 serves"
exec {LONG}>&-

tap_passing || { diag_journal $APP; diag_file "$T_TMP/held.err"; }
finish
