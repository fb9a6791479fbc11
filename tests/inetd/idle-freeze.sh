#!/bin/bash
# --idle-action=freeze without a cgroup v2 of a unit's own (inetd mode): at the idle deadline the backend's process
# group is stopped (SIGSTOP), the state says frozen; the next connection thaws it (the same process serves: no cold
# start); --freeze-for then stops it for good, and the next connection cold-starts.
. "$(dirname "$0")/lib.sh"
plan 17
ember_setup
SANDBOX_ARGS=(--idle=1s --idle-action=freeze --freeze-for=3s --policy=none)
ember_start

proc_state() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null; }
runs() { [ -n "$(proc_state "$1")" ] && [ "$(proc_state "$1")" != T ]; }

is "the connection is served" "$(client --send='one\n' "$ADDR")" one
bpid=$(st backend.pid)
ok "the backend runs" alive "$bpid"
ok "after the idle period the state is frozen" wait_until 10 st_is state frozen
is "its process is stopped, not gone" "$(proc_state "$bpid")" T
like "the supervisor said so (freeze, sigstop)" "$(grep -c 'Backend frozen (sigstop)' "$LOG")" '^[1-9]'
is "a frozen backend is no cold start" "$(st cold-starts)" 1

is "the next connection is served, the state warm again" "$(client --send='two\n' "$ADDR"; st state)" "two
warm"
is "by the same backend process, thawed" "$(st backend.pid)" "$bpid"
ok "which runs again" runs "$bpid"
is "still one cold start" "$(st cold-starts)" 1
is "one backend process ever" "$(backend_starts)" 1
like "the supervisor said it thawed it" "$(grep -c 'Backend thawed for a connection' "$LOG")" '^[1-9]'
is "the thawed run counts no crash" "$(st crashes)" 0

ok "idle again, it is frozen again" wait_until 10 st_is state frozen
ok "after --freeze-for=3s frozen it is stopped: cold" wait_until 10 st_is state cold
ok "and its process is gone" wait_until 5 dead "$bpid"
is "the next connection is served by a cold start" "$(client --send='three\n' "$ADDR"; st cold-starts)" "three
2"
finish
