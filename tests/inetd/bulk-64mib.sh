#!/bin/bash
# 64 MiB of random bytes go through ember-launch and come back unchanged (sha256), in order, none lost.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

head -c 64M /dev/urandom >"$TEST_DIR/in" || bail "cannot create 64 MiB of random data"
want=$(sha256sum <"$TEST_DIR/in" | cut -d' ' -f1)
client --timeout=90s --report --send-file="$TEST_DIR/in" --output="$TEST_DIR/out" "$ADDR" 2>"$TEST_DIR/report"
is "the 64 MiB connection ends normally" "$?" 0
diag "$(cat "$TEST_DIR/report")"
is "67108864 bytes came back" "$(stat -c %s "$TEST_DIR/out")" 67108864
is "sha256 of what came back matches what was sent" "$(sha256sum <"$TEST_DIR/out" | cut -d' ' -f1)" "$want"
rm -f "$TEST_DIR/out"
# the same through a second, concurrent pair, to catch cross-talk between relays
head -c 8M /dev/urandom >"$TEST_DIR/in2"
bg_client "$TEST_DIR/out1" --send-file="$TEST_DIR/in" "$ADDR"
p1=$!
client --timeout=90s --send-file="$TEST_DIR/in2" --output="$TEST_DIR/out2" "$ADDR"
is "a concurrent 8 MiB transfer ends normally" "$?" 0
wait "$p1"
is "the concurrent 64 MiB transfer ends normally" "$?" 0
ok "the concurrent 64 MiB transfer is intact" cmp -s "$TEST_DIR/in" "$TEST_DIR/out1"
ok "the concurrent 8 MiB transfer is intact" cmp -s "$TEST_DIR/in2" "$TEST_DIR/out2"
finish
