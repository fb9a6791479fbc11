#!/bin/bash
# The refcount file is the number of live connections: 1 while one is open, 0 once it is closed.
. "$(dirname "$0")/lib.sh"
plan 9
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

bg_client "$TEST_DIR/c1.out" --send='one\n' --hold=infinity "$ADDR"
c1=$!
ok "refcount becomes 1 while a connection is open" wait_until 10 st_is refcount 1
ok "the open connection is served" wait_until 5 grep -qx one "$TEST_DIR/c1.out"
is "refcount stays 1 while the connection is relayed" "$(st refcount)" 1
is "refcount file is decimal + newline" "$(od -An -c "$STATE/refcount" | tr -d ' ')" '1\n'

bg_client "$TEST_DIR/c2.out" --send='two\n' --hold=infinity "$ADDR"
c2=$!
ok "a second open connection makes it 2" wait_until 10 st_is refcount 2
kill -TERM "$c2"
ok "closing one brings it back to 1" wait_until 10 st_is refcount 1
kill -TERM "$c1"
ok "closing the last brings it to 0" wait_until 10 st_is refcount 0
ok "all launchers exited" wait_until 5 launchers_gone
is "the backend stays warm during the idle period" "$(st state)" warm
finish
