#!/bin/bash
# 50 concurrent connections to a cold app start exactly one backend; all 50 wait for it and are served by it.
. "$(dirname "$0")/lib.sh"
plan 9
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
# a slow start keeps the cold window open long enough for all 50 to arrive while the backend is starting
BACKEND_ARGS=(--mode=http --ready-delay=500ms)
ember_start

client --parallel=50 --timeout=30s --send='GET / HTTP/1.0\r\n\r\n' --output="$TEST_DIR/replies" "$ADDR" \
        2>>"$TEST_DIR/client.err"
is "all 50 concurrent connections end normally" "$?" 0
is "all 50 got an answer" "$(grep -c '^hello from ' "$TEST_DIR/replies")" 50
pids=$(sed -n 's/^hello from //p' "$TEST_DIR/replies" | sort -u)
is "all 50 answers come from one backend pid" "$(printf '%s\n' "$pids" | grep -c .)" 1
is "cold-starts is 1" "$(st cold-starts)" 1
is "one backend process was ever started" "$(backend_starts)" 1
is "backend.pid is the pid that answered" "$(st backend.pid)" "$pids"
ok "refcount returns to 0" wait_until 10 st_is refcount 0
is "50 connections counted" "$(st connections)" 50
ok "all 50 launchers exited" wait_until 10 launchers_gone
finish
