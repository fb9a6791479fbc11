#!/bin/bash
# A backend that ignores SIGTERM is SIGKILLed --stop-timeout after the idle stop began, and the app goes cold.
. "$(dirname "$0")/lib.sh"
plan 6
ember_setup
SANDBOX_ARGS=(--idle=1s --stop-timeout=1s --policy=none)
BACKEND_ARGS=(--mode=echo --ignore-sigterm)
ember_start

out=$(client --send='hi\n' "$ADDR")
t0=$(now_ms)
is "the connection is served" "$out" hi
bpid=$(st backend.pid)
sleep 1.5
ok "1.5 s after the last connection (idle 1 s + stop-timeout 1 s) the backend still runs: SIGTERM is ignored" \
        alive "$bpid"
ok "it is gone once the stop timeout passes" wait_until 6 dead "$bpid"
t1=$(now_ms)
cmp_ok "within idle + stop-timeout + 5 s ($((t1 - t0)) ms)" $((t1 - t0)) -le 7000
ok "the state goes cold" wait_until 5 st_is state cold
like "the supervisor logs the SIGKILL" "$(lowercase <"$LOG")" 'sigkill|kill'
finish
