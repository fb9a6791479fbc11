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
is "every client of a crashing backend is closed without an answer" "$fails" 4
cmp_ok "each within its start timeout ($((t1 - t0)) ms for 8 clients)" $((t1 - t0)) -le 30000
starts=$(st cold-starts)
cmp_ok "bounded starts: $starts for 8 clients (3 tries each at most)" "$starts" -le 24
like "the journal/log says why: exit status 3" "$(lowercase <"$LOG")" 'crash.*exited with status 3|exited with status 3'
like "restarts back off" "$(lowercase <"$LOG")" 'crashed [0-9]+ times in a row, waiting [0-9]+ ms'

rm "$TEST_DIR/broken"
served() { [ "$(client --timeout=10s --send='fixed\n' "$ADDR" 2>/dev/null)" = fixed ]; }
t0=$(now_ms)
ok "once fixed, clients are served again within the longest backoff (10 s) and a start timeout" wait_until 20 served
diag "recovered after $(( $(now_ms) - t0 )) ms"
is "the crash count resets after a good start" "$(st crashes)" 0
finish
