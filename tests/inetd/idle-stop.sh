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
is "$out" wake "the connection is served"
bpid=$(st backend.pid)
spid=$(st supervisor.pid)
ok "backend is running" alive "$bpid"
ok "supervisor is running" alive "$spid"

sleep_until_ms $((t0 + 1000))
ok "1 s into a 2 s idle period the backend still runs" alive "$bpid"
is "$(st state)" warm "and the state is still warm"

wait_until 10 st_is state cold
t1=$(now_ms)
is "$(st state)" cold "the state goes cold"
cmp_ok $((t1 - t0)) -ge 1800 "not before --idle=2s (measured $((t1 - t0)) ms)"
cmp_ok $((t1 - t0)) -le 7000 "within --idle + 5 s"
ok "the backend process is gone" wait_until 5 dead "$bpid"
ok "the supervisor process is gone" wait_until 5 dead "$spid"
ok "backend.pid and supervisor.pid are removed" test ! -e "$STATE/backend.pid" -a ! -e "$STATE/supervisor.pid"

out=$(client --send='again\n' "$ADDR")
is "$out" again "the next connection is served"
is "$(st cold-starts)" 2 "by a fresh cold start"
