#!/bin/bash
# Idle stop: --idle after the last connection leaves, the backend and its supervisor are stopped and the state is
# cold; not before. The next connection cold-starts a fresh backend.
. "$(dirname "$0")/lib.sh"
plan 13
ember_setup
SANDBOX_ARGS=(--idle=2s --policy=none)
ember_start

out=$(client --send='wake\n' "$ADDR")
t0=$(now_ms)
is "the connection is served" "$out" wake
bpid=$(st backend.pid)
spid=$(st supervisor.pid)
ok "backend is running" alive "$bpid"
ok "supervisor is running" alive "$spid"

sleep_until_ms $((t0 + 1000))
ok "1 s into a 2 s idle period the backend still runs" alive "$bpid"
is "and the state is still warm" "$(st state)" warm

wait_until 10 st_is state cold
t1=$(now_ms)
is "the state goes cold" "$(st state)" cold
cmp_ok "not before --idle=2s (measured $((t1 - t0)) ms)" $((t1 - t0)) -ge 1800
cmp_ok "within --idle + 5 s" $((t1 - t0)) -le 7000
ok "the backend process is gone" wait_until 5 dead "$bpid"
ok "the supervisor process is gone" wait_until 5 dead "$spid"
ok "backend.pid and supervisor.pid are removed" test ! -e "$STATE/backend.pid" -a ! -e "$STATE/supervisor.pid"

out=$(client --send='again\n' "$ADDR")
is "the next connection is served" "$out" again
is "by a fresh cold start" "$(st cold-starts)" 2
finish
