#!/bin/bash
# A backend that exits during its start: the waiting clients are closed promptly (well before --start-timeout), the
# reason is logged, and the next connection tries a fresh start.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
LAUNCH_ARGS=(--start-timeout=20s)
SANDBOX_ARGS=(--idle=2s --policy=none)
BACKEND_ARGS=(--fail-start --ready-delay=300ms)
ember_start

t0=$(now_ms)
client --parallel=3 --no-shutdown --timeout=30s --send='x' --output="$TEST_DIR/out" "$ADDR" 2>>"$TEST_DIR/client.err"
rc=$?
t1=$(now_ms)
ok "3 waiting clients are closed, not left hanging (exit $rc; 0 = EOF, 4 = reset, 3 = hung)" \
        test "$rc" -eq 0 -o "$rc" -eq 4
cmp_ok "promptly: in $((t1 - t0)) ms, not after --start-timeout=20s" $((t1 - t0)) -le 6000
is "they got no data" "$(stat -c %s "$TEST_DIR/out" 2>/dev/null || echo 0)" 0
ok "their launchers exited" wait_until 5 launchers_gone
like "the log says how the backend ended (status 3)" "$(lowercase <"$LOG")" 'exited with status 3|status=3|code 3'
ok "the state goes cold" wait_until 5 st_is state cold
starts=$(backend_starts)
client --no-shutdown --timeout=15s --send='y' --output=none "$ADDR"
cmp_ok "the next connection tries a fresh start" "$(backend_starts)" -gt "$starts"
finish
