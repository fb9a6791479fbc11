#!/bin/bash
# A backend that answers and closes before reading the whole request resets the connection (TCP sends an RST; a unix
# socket closed with bytes unread gives its peer ECONNRESET), and its answer is still in the launcher's receive queue
# when the reset is seen: the client gets the answer all the same, cold and warm, whether it half-closes first or
# not. On a unix socket (EMBER_TEST_TRANSPORT=unix, the default) and on TCP.
. "$(dirname "$0")/lib.sh"
TRANSPORT=${EMBER_TEST_TRANSPORT:-unix}
PY=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 not installed"
plan 5
ember_setup

cat >"$TEST_DIR/answer.py" <<'PYTHON'
import os, socket, sys
addr, pids = sys.argv[1:3]
if addr.startswith("/"):
    if os.path.exists(addr):
        os.unlink(addr)
    s = socket.socket(socket.AF_UNIX)
    s.bind(addr)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(addr)))
s.listen(64)
with open(pids, "a") as f:
    f.write("%d\n" % os.getpid())
while True:
    c, _ = s.accept()
    d = c.recv(1)  # the first byte only: the rest stays unread
    c.sendall(b"answer:" + d + b"\n")
    c.close()
PYTHON
SANDBOX_ARGS=(--idle=1s --policy=none)
if [ "$TRANSPORT" = unix ]; then
        BACKEND_SPEC=$TEST_DIR/backend.sock
        BACKEND_CMD=("$PY" "$TEST_DIR/answer.py" "$BACKEND_SPEC" "$TEST_DIR/backend-pids")
else
        BACKEND_CMD=("$PY" "$TEST_DIR/answer.py" "{port}" "$TEST_DIR/backend-pids")
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
