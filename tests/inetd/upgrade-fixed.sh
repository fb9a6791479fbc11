#!/bin/bash
# Upgrade of a fixed-port backend: two generations cannot listen on one port, so the new generation takes over at
# once and new connections wait (as on a cold start) while the old one drains, at most half the start timeout; then
# the old backend stops, the new one starts and the waiting connections are served. A latency spike, never a
# refused or reset connection; what was still open at the end of the drain is closed.
. "$(dirname "$0")/lib.sh"
plan 9
ember_setup
LAUNCH_ARGS=(--start-timeout=10s)
SANDBOX_ARGS=(--idle=30s --policy=none --drain-timeout=2s --start-timeout=10s)
BACKEND_ARGS=(--mode=tag --tag=v1-{generation})
ember_start

declare -A LONG_FD
open_long() { local fd; exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && LONG_FD[$1]=$fd; }
talk() { local line; echo "$2" >&"${LONG_FD[$1]}" && read -t 10 -r line <&"${LONG_FD[$1]}"; echo "$line"; }

is "generation 1 serves" "$(client --send='hi\n' "$ADDR")" "v1-1 hi"
open_long a
is "a long-lived connection on generation 1" "$(talk a one)" "v1-1 one"
gen1_sup=$(st supervisor.pid)

# short connections all through the upgrade, one every 100 ms
(
        for i in $(seq 1 40); do
                t0=$(now_ms)
                out=$("$CLIENT" --timeout=20s --send="s$i\n" "$ADDR" 2>&1)
                echo "$out $(($(now_ms) - t0))"
                sleep 0.1 # the pace of this client: the upgrade falls among its connections
        done
) >"$TEST_DIR/short.out" &
load=$!
short_served() { [ "$(grep -c '^v1-1 s' "$TEST_DIR/short.out")" -ge "$1" ]; }
wait_until 10 short_served 2 || diag "no 2 short connections served by generation 1 after 10 s" # they have begun
"$SANDBOX" --app="$APP" --backend="$BADDR" "${SANDBOX_ARGS[@]}" --upgrade -- \
        "$BACKEND" --listen="$BADDR" --pid-log="$TEST_DIR/backend-pids" --mode=tag --tag=v2-{generation} >"$TEST_DIR/upgrade.out" 2>&1
is "the upgrade returns 0 once generation 2 serves" "$?" 0
wait "$load"
served=$(grep -c '^v[12]-[12] s[0-9]* [0-9]*$' "$TEST_DIR/short.out")
is "every one of 40 short connections during the upgrade was served" "$served" 40
diag "$(grep -v '^v[12]-[12] s[0-9]* [0-9]*$' "$TEST_DIR/short.out")"
ok "the later ones by generation 2" grep -q '^v2-2 s40 ' "$TEST_DIR/short.out"
spike=$(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' "$TEST_DIR/short.out")
diag "longest wait of a short connection during the upgrade: $spike ms"
# every short connection was served (above) while generation 1 held the port until its drain timeout: they waited
# out the drain, not the start timeout (which would have failed them after 10 s)
like "generation 1's drain ended at its drain timeout (2 s), closing the long-lived connection" \
        "$(cat "$LOG")" "the drain timeout passed; closing its 1 connections"
ok "generation 1 is gone after its drain timeout" wait_until 5 dead "$gen1_sup"
is "its long-lived connection was closed at the drain's end" "$(talk a two)" ""
is "a new connection reaches generation 2" "$(client --send='new\n' "$ADDR")" "v2-2 new"
finish
