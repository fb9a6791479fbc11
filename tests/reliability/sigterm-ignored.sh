#!/bin/bash
# A backend that ignores SIGTERM is killed with SIGKILL after --stop-timeout when the idle stop comes.
. "$(dirname "$0")/../inetd/lib.sh"
plan 4
ember_setup
SANDBOX_ARGS=(--idle=1s --stop-timeout=1s --policy=none)
BACKEND_ARGS=(--mode=echo --ignore-sigterm)
ember_start

out=$(client --send='x\n' "$ADDR")
is "$out" x "served"
bpid=$(st backend.pid)
t0=$(now_ms)
ok "the stubborn backend is gone after idle + stop timeout" wait_until 10 dead "$bpid"
t1=$(now_ms)
cmp_ok $((t1 - t0)) -le 5000 "within idle 1 s + stop timeout 1 s + slack ($((t1 - t0)) ms)"
like "$(cat "$LOG")" 'still running .* after SIGTERM, sending SIGKILL' "the supervisor says it had to SIGKILL"
exit 0
