#!/bin/bash
# emberctl upgrade of a fixed-port app under a real systemd: what it says up front and how long new connections wait.
# A fixed port cannot serve two backends, so the new one starts only once the old generation is gone, and new
# connections wait until then. With no connection open, emberctl upgrade warns of nothing and the wait is the new
# backend's start. With a long-lived connection open, it warns before anyone waits, naming the address, the live
# connections, the bound (--drain-timeout, capped at half of --start-timeout) and HOST:auto as the way without a
# wait; new connections then wait about that bound, never longer than it and a start, and the long-lived connection
# is closed at its end. A HOST:auto app with a long-lived connection open gets no such warning.
. "$(dirname "$0")/lib.sh"

sys_boot
plan 26
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
is "under short connections only, the upgrade exits 0 ($t_up ms)" "$rc" 0
is "no failed connect, reset, timeout or wrong answer" "$(failures quick)" "0 0 0 0"
wait_quick=$(summary quick 's["max_ms"]')
diag "no long-lived connection: $(summary quick 's["requests"]') requests, the longest $wait_quick ms; emberctl upgrade took $t_up ms"
cmp_ok "the longest wait of a new connection is a start, well under a second ($wait_quick ms)" "$wait_quick" -lt 1000

# ---- a long-lived connection open: said up front, and new connections wait for it, at most the drain bound ---------
open_long $LISTEN_PORT
is "a long-lived connection on version f3" "$(talk l1)" "f3 l1"
version f4
load_start held
timed_upgrade $APP
load_stop held
is "with a long-lived connection open, the upgrade exits 0 ($t_up ms)" "$rc" 0
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
wait_held=$(summary held 's["max_ms"]')
diag "one long-lived connection, drain bound 3 s: $(summary held 's["requests"]') requests, the longest $wait_held ms; emberctl upgrade took $t_up ms"
cmp_ok "new connections waited for the drain ($wait_held ms)" "$wait_held" -ge 2500
cmp_ok "and no longer than the bound and a start ($wait_held ms <= 3 s + 1.5 s)" "$wait_held" -le 4500
is "the long-lived connection was closed at the bound" "$(talk l2)" ""
exec {LONG}>&-
is "the new version serves" "$(ask $LISTEN_PORT c)" "f4 c"

# ---- --drain-timeout below the cap: the bound it names -------------------------------------------------------------
open_long $LISTEN_PORT
is "a long-lived connection on version f4" "$(talk m1)" "f4 m1"
version f5
timed_upgrade $APP --drain-timeout=1s
like "--drain-timeout=1s: the upgrade exits 0 ($t_up ms), saying new connections wait at most 1s" "$rc $(cat "$T_TMP/upgrade.out")" \
        "^0 .*new connections wait until then, at most 1s \(--drain-timeout=1s\), when it is closed\."
cmp_ok "and it took about that ($t_up ms <= 1 s + 1.5 s)" "$t_up" -le 2500
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
