#!/bin/bash
# A backend that never becomes ready: the client is closed after ember-launch's --start-timeout (not before, not
# much after), gets no data, and the reason is logged.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
LAUNCH_ARGS=(--start-timeout=2s)
SANDBOX_ARGS=(--idle=2s --policy=none --start-timeout=60s)
BACKEND_ARGS=(--never-ready)
ember_start

t0=$(now_ms)
client --timeout=20s --no-shutdown --report --send='anyone?' --output="$TEST_DIR/out" "$ADDR" 2>"$TEST_DIR/report"
rc=$?
t1=$(now_ms)
diag "$(cat "$TEST_DIR/report")"
ok "the client is closed, not left hanging (exit $rc; 0 = EOF, 4 = reset, 3 = hung)" test "$rc" -eq 0 -o "$rc" -eq 4
cmp_ok "not before --start-timeout=2s (closed after $((t1 - t0)) ms)" $((t1 - t0)) -ge 1800
cmp_ok "soon after --start-timeout (within 5 s)" $((t1 - t0)) -le 7000
is "the client got no data" "$(stat -c %s "$TEST_DIR/out")" 0
ok "the launcher exited" wait_until 5 launchers_gone
like "ember-launch logs that the start timed out" "$(grep -i 'ember-launch' "$LOG" | lowercase)" 'time.?out|timed out'
like "ember-launch exits 69 (EX_UNAVAILABLE)" "$(lowercase <"$LOG")" 'died with code 69'
finish
