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
is "$out" hi "the connection is served"
bpid=$(st backend.pid)
sleep 1.5
ok "1.5 s after the last connection (idle 1 s + stop-timeout 1 s) the backend still runs: SIGTERM is ignored" \
        alive "$bpid"
ok "it is gone once the stop timeout passes" wait_until 6 dead "$bpid"
t1=$(now_ms)
cmp_ok $((t1 - t0)) -le 7000 "within idle + stop-timeout + 5 s ($((t1 - t0)) ms)"
ok "the state goes cold" wait_until 5 st_is state cold
like "$(cat "$LOG")" 'SIGKILL|KILL' "the supervisor logs the SIGKILL"
