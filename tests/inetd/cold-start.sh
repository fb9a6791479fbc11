#!/bin/bash
# Cold start: the first connection to a cold app starts exactly one backend and is served by it.
. "$(dirname "$0")/lib.sh"
plan 10
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

ok "nothing runs before the first connection" test "$(backend_starts)" -eq 0
ok "no supervisor before the first connection" test ! -e "$STATE/supervisor.pid"

out=$(client --send='hello ember\n' "$ADDR")
is "the first connection ends normally (EOF after half-close)" "$?" 0
is "the cold backend echoes the bytes back" "$out" "hello ember"
is "cold-starts is 1" "$(st cold-starts)" 1
is "exactly one backend process was started" "$(backend_starts)" 1
is "state is warm after the connection" "$(st state)" warm
bpid=$(st backend.pid)
is "backend.pid names the backend process" "${bpid:-none}" "$(backend_pids | head -n1)"
ok "the backend is still running (idle period not over)" alive "$bpid"
ok "the supervisor is running" alive "$(st supervisor.pid)"
finish
