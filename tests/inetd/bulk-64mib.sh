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
is "$?" 0 "the 64 MiB connection ends normally"
diag "$(cat "$TEST_DIR/report")"
is "$(stat -c %s "$TEST_DIR/out")" 67108864 "67108864 bytes came back"
is "$(sha256sum <"$TEST_DIR/out" | cut -d' ' -f1)" "$want" "sha256 of what came back matches what was sent"
rm -f "$TEST_DIR/out"
# the same through a second, concurrent pair, to catch cross-talk between relays
head -c 8M /dev/urandom >"$TEST_DIR/in2"
bg_client "$TEST_DIR/out1" --send-file="$TEST_DIR/in" "$ADDR"
p1=$!
client --timeout=90s --send-file="$TEST_DIR/in2" --output="$TEST_DIR/out2" "$ADDR"
is "$?" 0 "a concurrent 8 MiB transfer ends normally"
wait "$p1"
is "$?" 0 "the concurrent 64 MiB transfer ends normally"
ok "the concurrent 64 MiB transfer is intact" cmp -s "$TEST_DIR/in" "$TEST_DIR/out1"
ok "the concurrent 8 MiB transfer is intact" cmp -s "$TEST_DIR/in2" "$TEST_DIR/out2"
