#!/bin/bash
# 200 concurrent connections each moving 4 MiB both ways, every byte compared: 0 lost, 0 failed.
. "$(dirname "$0")/../inetd/lib.sh"
plan 4
ember_setup
EMBER_TEST_DEADLINE=300
SANDBOX_ARGS=(--idle=30s --policy=none)
LAUNCH_ARGS=(--start-timeout=30s)
ember_start

head -c 4M /dev/urandom >"$TEST_DIR/in"
client --timeout=240s --parallel=200 --expect-echo --send-file="$TEST_DIR/in" --output=none "$ADDR" \
        2>"$TEST_DIR/client.err"
is "$?" 0 "200 × 4 MiB echoed byte for byte (800 MiB each way)"
is "$(st cold-starts)" 1 "one cold start"
ok "refcount returns to 0" wait_until 20 st_is refcount 0
ok "all launchers exited" wait_until 20 launchers_gone
exit 0
