#!/bin/bash
# --ready=notify: the backend is ready when it says READY=1 on $NOTIFY_SOCKET, not when its port first accepts.
# The backend listens at once but notifies only 1 s later; the first client must be relayed after that, and every
# waiting client must be released by the one notification.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none --ready=notify)
BACKEND_ARGS=(--mode=http --notify-delay=1s)
ember_start

t0=$(now_ms)
client --parallel=5 --send='GET / HTTP/1.0\r\n\r\n' --output="$TEST_DIR/replies" "$ADDR"
is "5 concurrent cold connections end normally" "$?" 0
t1=$(now_ms)
is "all 5 are answered" "$(grep -c '^hello from ' "$TEST_DIR/replies")" 5
cmp_ok "not before READY=1 ($((t1 - t0)) ms; the port accepted at once)" $((t1 - t0)) -ge 900
cmp_ok "soon after READY=1 (within 5 s)" $((t1 - t0)) -le 6000
ready_ms=$(st ready-ms)
cmp_ok "ready-ms ($ready_ms) counts until READY=1" "${ready_ms:-0}" -ge 900
is "one cold start" "$(st cold-starts)" 1
is "state is warm" "$(st state)" warm
finish
