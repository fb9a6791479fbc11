#!/bin/bash
# What a backend leaves in its process group (a daemonizing server's child) goes with it, when it crashes and when
# it is stopped for idling: the supervisor kills the group while the exited backend is still unreaped, so that the
# group's id, the backend's pid, cannot be anyone else's by then (it used to be signalled after the reaping).
. "$(dirname "$0")/lib.sh"
plan 5
ember_setup
SANDBOX_ARGS=(--idle=1s --policy=none)
mark=ember-leftover-$$
# the backend: a shell that leaves a child behind in its process group, then becomes the echo server
BACKEND_CMD=(bash -c "(exec -a $mark sleep 1000) & exec \"\$0\" --listen=127.0.0.1:{port} --mode=echo --pid-log=$TEST_DIR/backend-pids" "$BACKEND")
ember_start
leftovers() { pgrep -f "^$mark " || true; }
none_left() { [ -z "$(leftovers)" ]; }

is "served" "$(client --send='hi\n' "$ADDR")" hi
ok "the backend's child runs beside it" test -n "$(leftovers)"
kill_ours -KILL "$(backend_pids | tail -n 1)"
ok "the backend crashed: its child is gone too" wait_until 5 none_left ||
        diag "left: $(leftovers | xargs -r ps -o pid,pgid,args -p)"
is "served again" "$(client --send='again\n' "$ADDR")" again
ok "stopped for idling: its child is gone too" wait_until 10 none_left ||
        diag "left: $(leftovers | xargs -r ps -o pid,pgid,args -p)"
finish
