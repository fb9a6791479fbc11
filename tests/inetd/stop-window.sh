#!/bin/bash
# The stop window, stepped through instead of sampled: the test build of the supervisor (ember-sandbox-test) holds
# itself in "stopping", state lock taken, until told to go on. A connection made inside that window must wait for
# the lock (no answer yet, nothing refused) and then be served by the next backend; none is lost.
. "$(dirname "$0")/lib.sh"
trials=5
plan $((trials * 6 + 1))
ember_setup
SANDBOX=$top_builddir/sandbox/ember-sandbox-test
[ -x "$SANDBOX" ] || bail "$SANDBOX is not built (make check builds it)"
HOOK=$TEST_DIR/hook
mkdir -p "$HOOK"
SA_ENV=(-E "EMBER_TEST_HOLD_STOPPING=$HOOK")
SANDBOX_ARGS=(--idle=1s --policy=none)
ember_start

held() { [ -e "$HOOK/held" ]; }
# waits_for_lock PID: PID is blocked in flock() on the state lock (/proc/locks: "-> FLOCK ... PID MAJ:MIN:INODE")
waits_for_lock() {
        grep -Eq "^[0-9]+: +-> FLOCK +ADVISORY +WRITE +$1 [0-9a-f]+:[0-9a-f]+:$(stat -c %i "$STATE/lock") " /proc/locks
}
unanswered() { kill -0 "$1" && [ ! -s "$2" ]; } # PID OUT: the client still waits, nothing came back
for ((i = 1; i <= trials; i++)); do
        client --send='warm\n' --output=none "$ADDR" || diag "warm-up $i failed"
        starts=$(st cold-starts)
        wait_until 10 held
        is "trial $i: the supervisor is held in stopping (the window is hit)" "$(st state)" stopping
        bg_client "$TEST_DIR/out$i" --send="trial $i\n" "$ADDR"
        c=$!
        ok "trial $i: a connection made inside the window has its launcher" wait_until 5 launcher_count_is 1
        ok "trial $i: which waits for the state lock" wait_until 5 waits_for_lock "$(launcher_pids)"
        ok "trial $i: unanswered and not refused" unanswered "$c" "$TEST_DIR/out$i"
        touch "$HOOK/release"
        wait "$c"
        rc=$?
        is "trial $i: once the stop goes on, it is served" "$(cat "$TEST_DIR/out$i"):$rc" "trial $i:0"
        is "trial $i: by the next backend" "$(st cold-starts)" $((starts + 1))
done
ok "no launcher left behind" wait_until 10 launchers_gone
finish
