#!/bin/bash
# Half-close: a client that shuts down its write side still receives every reply; the backend sees the EOF
# (the "count" backend answers only after the client's EOF has reached it).
. "$(dirname "$0")/lib.sh"
need socat
plan 9
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
BACKEND_ARGS=(--mode=count)
ember_start

out=$(client --send='0123456789' "$ADDR")
is "client half-closes after 10 bytes and the connection then ends normally" "$?" 0
is "the reply, sent only after the backend saw EOF, arrives after the half-close" "$out" 10

head -c 1M /dev/urandom >"$TEST_DIR/in"
out=$(client --send-file="$TEST_DIR/in" "$ADDR")
is "1 MiB then half-close: the backend saw all 1048576 bytes and its reply came back" "$out" 1048576

out=$(client --send='' "$ADDR")
is "an immediate half-close (0 bytes) is passed on and answered" "$out" 0

out=$(printf 'via socat' | timeout 20 socat -t 15 -T 15 - "TCP:$ADDR" 2>>"$LOG")
is "socat (stdin EOF -> shutdown) gets the reply after its half-close" "$out" 9

out=$(client --send='abc' --no-shutdown --timeout=1500ms "$ADDR")
rc=$?
is "without the client's half-close the backend sees no EOF (client waits until its own deadline)" "$rc" 3
is "and no reply is fabricated" "$out" ""

ok "the launchers of the count backend exited" wait_until 10 launchers_gone
ok "refcount returns to 0" wait_until 10 st_is refcount 0
finish
