#!/bin/bash
# A backend that ignores SIGTERM is SIGKILLed --stop-timeout after the idle stop began, and the app goes cold.
. "$(dirname "$0")/lib.sh"
plan 5
ember_setup
SANDBOX_ARGS=(--idle=1s --stop-timeout=1s --policy=none)
BACKEND_ARGS=(--mode=echo --ignore-sigterm)
ember_start

out=$(client --send='hi\n' "$ADDR")
t0=$(now_ms)
is "the connection is served" "$out" hi
bpid=$(st backend.pid)
ok "after --idle=1s the supervisor stops the backend (state stopping, SIGTERM)" wait_until 5 st_is state stopping
ok "it is gone once the stop timeout passes" wait_until 6 dead "$bpid"
diag "from the connection to the backend's end: $(($(now_ms) - t0)) ms (--idle=1s, --stop-timeout=1s)"
ok "the state goes cold" wait_until 5 st_is state cold
like "SIGTERM was ignored: the supervisor found the backend still running after the stop timeout, and SIGKILLed it" \
        "$(cat "$LOG")" "Backend $bpid still running 1000 ms after SIGTERM, sending SIGKILL"
finish
