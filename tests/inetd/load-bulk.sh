#!/bin/bash
# Load with data: 200 concurrent connections each moving 4 MiB both ways, every byte compared with what was sent.
. "$(dirname "$0")/lib.sh"
plan 5
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

head -c 4M /dev/urandom >"$TEST_DIR/in" || bail "cannot create test data"
t0=$(now_ms)
client --parallel=200 --timeout=90s --send-file="$TEST_DIR/in" --expect-echo "$ADDR" 2>>"$TEST_DIR/client.err"
rc=$?
t1=$(now_ms)
diag "200 x 4 MiB echoed in $((t1 - t0)) ms"
is "200 concurrent 4 MiB round trips: every byte back, in order (0 = all intact, 6 = mismatch)" "$rc" 0
diag "$(cat "$TEST_DIR/client.err")"
is "1 cold start" "$(st cold-starts)" 1
ok "all launchers exited" wait_until 20 launchers_gone
ok "refcount returns to 0" wait_until 10 st_is refcount 0
is "200 connections counted" "$(st connections)" 200
finish
