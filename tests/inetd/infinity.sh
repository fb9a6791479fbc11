#!/bin/bash
# "infinity" means never, at every option: --stop-timeout=infinity never SIGKILLs a backend that ignores SIGTERM
# (it used to wrap to "now" and kill it at once), --idle-timeout=infinity and --start-timeout=infinity never fire,
# and a duration far beyond poll()'s range (50 days) is not cut short.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
LAUNCH_ARGS=(--start-timeout=infinity --idle-timeout=50d)
SANDBOX_ARGS=(--idle=1s --stop-timeout=infinity --start-timeout=infinity --policy=none)
BACKEND_ARGS=(--mode=echo --ignore-sigterm)
ember_start

is "served with every timeout at infinity or 50 days" "$(client --send='hi\n' "$ADDR")" hi
bpid=$(backend_pids | tail -n 1)
stopping() { st_is state stopping; }
ok "after --idle=1s the supervisor stops the backend (SIGTERM, ignored)" wait_until 5 stopping
sleep 2 # the point: time passes, and "never" must not come to an end in it
ok "--stop-timeout=infinity: 2 s later the backend is still running, not SIGKILLed" alive "$bpid"
is "and the app stays stopping, as asked" "$(st state)" stopping
kill_ours -KILL "$bpid"
ok "once the backend is gone the app goes cold" wait_until 5 st_is state cold

# a silent connection under --idle-timeout=50d stays open (it used to be cut after 6.95 h, and 50d cast to int ms
# overflowed): held for 3 s here, it is still open when the client gives up
client --timeout=3s --send='quiet\n' --hold=infinity --output="$TEST_DIR/out" "$ADDR"
is "--idle-timeout=50d: a silent connection is still open after 3 s (the client's own timeout ends it)" "$?" 3
is "and its bytes were relayed" "$(cat "$TEST_DIR/out")" quiet
finish
