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
is "$?" 0 "all 50 concurrent connections end normally"
is "$(grep -c '^hello from ' "$TEST_DIR/replies")" 50 "all 50 got an answer"
pids=$(sed -n 's/^hello from //p' "$TEST_DIR/replies" | sort -u)
is "$(printf '%s\n' "$pids" | grep -c .)" 1 "all 50 answers come from one backend pid"
is "$(st cold-starts)" 1 "cold-starts is 1"
is "$(backend_starts)" 1 "one backend process was ever started"
is "$(st backend.pid)" "$pids" "backend.pid is the pid that answered"
ok "refcount returns to 0" wait_until 10 st_is refcount 0
is "$(st connections)" 50 "50 connections counted"
ok "all 50 launchers exited" wait_until 10 launchers_gone
