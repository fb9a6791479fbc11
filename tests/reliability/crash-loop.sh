#!/bin/bash
# A backend that crashes at every start is restarted with growing backoff, never in a tight loop; clients are
# closed within their start timeout with the reason logged; once the backend is fixed the next client is served.
. "$(dirname "$0")/../inetd/lib.sh"
plan 7
ember_setup
cat >"$TEST_DIR/backend" <<WRAP
#!/bin/sh
[ -e "$TEST_DIR/broken" ] && exit 3
exec "$BACKEND" "\$@"
WRAP
chmod +x "$TEST_DIR/backend"
touch "$TEST_DIR/broken"
BACKEND=$TEST_DIR/backend
LAUNCH_ARGS=(--start-timeout=3s)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

fails=0
t0=$(now_ms)
for i in 1 2 3 4; do
        client --timeout=10s --send='x\n' --output=none "$ADDR" 2>/dev/null
        out=$(client --timeout=10s --send='x\n' "$ADDR" 2>/dev/null)
        [ -z "$out" ] && fails=$((fails + 1))
done
t1=$(now_ms)
is "$fails" 4 "every client of a crashing backend is closed without an answer"
cmp_ok $((t1 - t0)) -le 30000 "each within its start timeout ($((t1 - t0)) ms for 8 clients)"
starts=$(st cold-starts)
cmp_ok "$starts" -le 24 "bounded starts: $starts for 8 clients (3 tries each at most)"
like "$(cat "$LOG")" 'crash.*exited with status 3|exited with status 3' "the journal/log says why: exit status 3"
like "$(cat "$LOG")" 'crashed [0-9]+ times in a row, waiting [0-9]+ ms' "restarts back off"

rm "$TEST_DIR/broken"
served() { [ "$(client --timeout=10s --send='fixed\n' "$ADDR" 2>/dev/null)" = fixed ]; }
t0=$(now_ms)
ok "once fixed, clients are served again within the longest backoff (10 s) and a start timeout" wait_until 20 served
diag "recovered after $(( $(now_ms) - t0 )) ms"
is "$(st crashes)" 0 "the crash count resets after a good start"
exit 0
