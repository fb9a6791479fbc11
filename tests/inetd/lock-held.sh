#!/bin/bash
# A state lock that its holder never lets go of (a frozen or traced launcher): every wait for it is bounded. A new
# connection gives up within its start timeout instead of hanging, the supervisor goes on ticking (and says so once),
# and once the holder is gone everything is served again. A supervisor that starts meanwhile gives up at its start
# timeout (exit 75).
. "$(dirname "$0")/lib.sh"
need flock
plan 9
ember_setup
LAUNCH_ARGS=(--start-timeout=2s)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

lock_taken() { ! flock -n "$STATE/lock" true; } # someone else holds the state lock
is "served before" "$(client --send='warm\n' "$ADDR")" warm
flock -o "$STATE/lock" sleep 30 & # -o: the lock stays with flock, not its sleep
holder=$!
BG_PIDS+=("$holder")
wait_until 5 lock_taken || diag "flock has not taken the state lock after 5 s"
t0=$(now_ms)
out=$(client --timeout=20s --send='stuck\n' "$ADDR")
t1=$(now_ms)
is "a connection while the lock is held gets no answer" "$out" ""
cmp_ok "and is closed within its start timeout of 2 s ($((t1 - t0)) ms), not left hanging" $((t1 - t0)) -le 4000
like "the launcher says why" "$(lowercase <"$LOG")" 'state lock of .* was held by someone for longer than the start timeout'
ok "the supervisor says, once, that it goes on without the lock" wait_until 5 grep -q 'held by someone for over a second' "$LOG"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
is "once the holder is gone the next connection is served" "$(client --send='free\n' "$ADDR")" free
ok "and the counts are exact" wait_until 5 st_is refcount 0

# a supervisor that starts while the lock is held gives up at its start timeout, and says so, instead of waiting
flock -o "$STATE/lock" sleep 30 &
holder=$!
BG_PIDS+=("$holder")
wait_until 5 lock_taken || diag "flock has not taken the state lock after 5 s"
t0=$(now_ms)
"$SANDBOX" --app="$APP" --backend="$BADDR" --start-timeout=1s --policy=none -- /bin/true 2>"$TEST_DIR/sup.err"
rc=$?
t1=$(now_ms)
is "a supervisor starting under a held lock exits 75 (try again) after its start timeout ($((t1 - t0)) ms)" \
        "$rc:$((t1 - t0 < 4000))" 75:1
like "saying why" "$(cat "$TEST_DIR/sup.err")" 'Failed to take the state lock: Connection timed out'
kill -KILL "$holder"
wait "$holder" 2>/dev/null
finish
