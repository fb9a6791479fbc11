#!/bin/bash
# ember-launch --idle-timeout: a connection without traffic for that long is closed (half-open, slowloris); one with
# traffic is not.
. "$(dirname "$0")/lib.sh"
plan 6
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --idle-timeout=2s)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

t0=$(now_ms)
client --timeout=20s --send='silent\n' --hold=infinity --output="$TEST_DIR/out" "$ADDR"
rc=$?
t1=$(now_ms)
ok "a silent connection is closed by the launcher (exit $rc; 3 = still open at the client's deadline)" \
        test "$rc" -eq 0 -o "$rc" -eq 4
cmp_ok "not before --idle-timeout=2s ($((t1 - t0)) ms)" $((t1 - t0)) -ge 1900
cmp_ok "soon after it (within 5 s)" $((t1 - t0)) -le 7000
is "the bytes before the silence were relayed" "$(cat "$TEST_DIR/out")" silent
ok "refcount returns to 0" wait_until 5 st_is refcount 0

# a connection with a line every 250 ms for 4 s outlives --idle-timeout=2s
ticks=$(for i in $(seq 1 16); do printf 'tick %d\\n' "$i"; done)
out=$(client --timeout=30s --interval=250ms --send="$ticks" "$ADDR")
is "a connection with traffic every 250 ms for 4 s outlives --idle-timeout=2s" "$(printf '%s\n' "$out" | grep -c '^tick ')" 16
finish
