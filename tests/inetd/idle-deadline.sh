#!/bin/bash
# A connection that arrives at the idle deadline, while the backend is being stopped, is served (by the old backend
# or by the next one), never dropped. Trials land from 700 ms before to 500 ms after the deadline. The early
# trials are there because under the sanitizer build and a loaded CI a launcher can need 200 ms to take its count.
. "$(dirname "$0")/lib.sh"
offsets=(300 600 800 900 950 980 1000 1010 1020 1050 1100 1200 1500)
plan $((${#offsets[@]} + 4))
EMBER_TEST_DEADLINE=150
ember_setup
SANDBOX_ARGS=(--idle=1s --policy=none)
ember_start

i=0 by_warm=0 by_next=0
for off in "${offsets[@]}"; do
        i=$((i + 1))
        client --send='warm\n' --output=none "$ADDR" || diag "warm-up connection $i failed"
        t=$(now_ms)
        starts=$(st cold-starts)
        sleep_until_ms $((t + off))
        out=$(client --timeout=15s --send="trial $i\n" "$ADDR")
        is "connection ${off} ms after the last one left (--idle=1s) is served" "$out" "trial $i"
        if [ "$(st cold-starts)" = "$starts" ]; then by_warm=$((by_warm + 1)); else by_next=$((by_next + 1)); fi
done
# Sampling proves nothing unless it straddled the deadline: some trials before it, some after (stop-window.sh
# steps through the window itself).
cmp_ok "some trials landed before the idle stop (served warm: $by_warm)" "$by_warm" -ge 1
cmp_ok "some trials landed after it began (served by the next backend: $by_next)" "$by_next" -ge 1
diag "cold starts over ${#offsets[@]} trials: $(st cold-starts)"
ok "no launcher is left hanging" wait_until 10 launchers_gone
ok "refcount returns to 0" wait_until 10 st_is refcount 0
finish
