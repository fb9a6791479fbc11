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
is "$?" 0 "the first connection ends normally (EOF after half-close)"
is "$out" "hello ember" "the cold backend echoes the bytes back"
is "$(st cold-starts)" 1 "cold-starts is 1"
is "$(backend_starts)" 1 "exactly one backend process was started"
is "$(st state)" warm "state is warm after the connection"
bpid=$(st backend.pid)
is "${bpid:-none}" "$(backend_pids | head -n1)" "backend.pid names the backend process"
ok "the backend is still running (idle period not over)" alive "$bpid"
ok "the supervisor is running" alive "$(st supervisor.pid)"
