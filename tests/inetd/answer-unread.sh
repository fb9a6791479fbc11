#!/bin/bash
# A backend that answers and closes before reading the whole request resets the connection (TCP sends an RST; a unix
# socket closed with bytes unread gives its peer ECONNRESET), and its answer is still in the launcher's receive queue
# when the reset is seen: the client gets the answer all the same, cold and warm, whether it half-closes first or
# not. On a unix socket (EMBER_TEST_TRANSPORT=unix, the default) and on TCP.
. "$(dirname "$0")/lib.sh"
TRANSPORT=${EMBER_TEST_TRANSPORT:-unix}
PY=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 not installed"
ANSWER_BACKEND=$top_srcdir/tests/tools/answer-backend.py
plan 5
ember_setup

SANDBOX_ARGS=(--idle=1s --policy=none)
if [ "$TRANSPORT" = unix ]; then
        BACKEND_SPEC=$TEST_DIR/backend.sock
        BACKEND_CMD=("$PY" "$ANSWER_BACKEND" "$BACKEND_SPEC" "$TEST_DIR/backend-pids" --read=first)
else
        BACKEND_CMD=("$PY" "$ANSWER_BACKEND" "{port}" "$TEST_DIR/backend-pids" --read=first)
fi
ember_start

is "cold, the client half-closes first: the answer arrives" "$(client --send='one\n' "$ADDR")" "answer:o"
is "warm, the client half-closes first: the answer arrives" "$(client --send='two\n' "$ADDR")" "answer:t"
is "warm, the client keeps its side open: the answer arrives" \
        "$(client --send='three\n' --no-shutdown "$ADDR")" "answer:t"
wait_until 10 st_is state cold || diag "the backend did not go cold after its idle second"
is "cold, the client keeps its side open: the answer arrives" \
        "$(client --send='four\n' --no-shutdown "$ADDR")" "answer:f"
ok "no backend crashed" eval '! grep -qE "Backend crash" "$LOG"'
finish
