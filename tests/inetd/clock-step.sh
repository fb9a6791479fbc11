#!/bin/bash
# The wall clock stepped +1 h and -1 h under a running supervisor (libfaketime, CLOCK_MONOTONIC left alone, as a
# real step of CLOCK_REALTIME leaves it): the idle stop still comes --idle after the last connection, neither at
# once nor an hour late, and the next connection is served. Deadlines live on CLOCK_MONOTONIC only.
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
        [ -e "$f" ] && FAKETIME_LIB=$f && break
done
[ -n "$FAKETIME_LIB" ] || skip_all "libfaketime not installed (package faketime)"
grep -qa __asan_init "$SANDBOX" 2>/dev/null && skip_all "built with AddressSanitizer, which must be the first preloaded library"
plan 11
ember_setup
CLOCK=$TEST_DIR/clock
echo "+0" >"$CLOCK"
SA_ENV=(-E "LD_PRELOAD=$FAKETIME_LIB" -E "FAKETIME_TIMESTAMP_FILE=$CLOCK" -E FAKETIME_NO_CACHE=1 -E DONT_FAKE_MONOTONIC=1)
SANDBOX_ARGS=(--idle=2s --policy=none)
ember_start

# the fake clock is really in effect for the supervisor: a run started under +1h records a start an hour ahead
echo "+1h" >"$CLOCK"
is "served under a clock 1 h ahead" "$(client --send='probe\n' "$ADDR")" probe
cmp_ok "the supervisor saw the step (started-at is an hour ahead)" "$(st started-at)" -ge $(($(date +%s) + 3500))
echo "+0" >"$CLOCK"
wait_until 10 st_is state cold

for step in +1h -1h; do
        is "clock $step: served before the step" "$(client --send="$step\n" "$ADDR")" "$step"
        bpid=$(backend_pids | tail -n 1)
        echo "$step" >"$CLOCK"
        t0=$(now_ms)
        ok "clock $step: the backend stops after the idle period" wait_until 10 dead "$bpid"
        t1=$(now_ms)
        cmp_ok "clock $step: not at once ($((t1 - t0)) ms; --idle=2s)" $((t1 - t0)) -ge 1500
        cmp_ok "clock $step: nor late" $((t1 - t0)) -le 5000
        echo "+0" >"$CLOCK"
done
is "the next connection is served" "$(client --send='after\n' "$ADDR")" after
finish
