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
is "$?" 0 "5 concurrent cold connections end normally"
t1=$(now_ms)
is "$(grep -c '^hello from ' "$TEST_DIR/replies")" 5 "all 5 are answered"
cmp_ok $((t1 - t0)) -ge 900 "not before READY=1 ($((t1 - t0)) ms; the port accepted at once)"
cmp_ok $((t1 - t0)) -le 6000 "soon after READY=1 (within 5 s)"
ready_ms=$(st ready-ms)
cmp_ok "${ready_ms:-0}" -ge 900 "ready-ms ($ready_ms) counts until READY=1"
is "$(st cold-starts)" 1 "one cold start"
is "$(st state)" warm "state is warm"
