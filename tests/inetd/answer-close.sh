#!/bin/bash
# A backend that reads a request, answers and closes at once (accept, recv, sendall, close; issue 23's six lines of
# Python) gets its answer to the client, on a unix socket (EMBER_TEST_TRANSPORT=unix, the default) and on TCP, cold
# and warm, whether the client half-closes first or not. On a unix socket the backend's only connections are the
# clients': the supervisor's readiness probe is not one (a unix backend that wrote its answer to a probe already
# gone got EPIPE and died, at every cold start; TCP takes such a write and resets only later).
. "$(dirname "$0")/lib.sh"
TRANSPORT=${EMBER_TEST_TRANSPORT:-unix}
PY=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 not installed"
plan 7
ember_setup

cat >"$TEST_DIR/answer.py" <<'PYTHON'
import os, socket, sys
addr, log, pids = sys.argv[1:4]
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
    d = c.recv(4096)
    with open(log, "a") as f:
        f.write(repr(d) + "\n")
    c.sendall(b"answer:" + d)
    c.close()
PYTHON
SANDBOX_ARGS=(--idle=1s --policy=none)
if [ "$TRANSPORT" = unix ]; then
        BACKEND_SPEC=$TEST_DIR/backend.sock
        BACKEND_CMD=("$PY" "$TEST_DIR/answer.py" "$BACKEND_SPEC" "$TEST_DIR/requests" "$TEST_DIR/backend-pids")
else
        BACKEND_CMD=("$PY" "$TEST_DIR/answer.py" "{port}" "$TEST_DIR/requests" "$TEST_DIR/backend-pids")
fi
ember_start

is "cold, the client half-closes first: the answer arrives" "$(client --send='one\n' "$ADDR")" "answer:one"
is "warm, the client half-closes first: the answer arrives" "$(client --send='two\n' "$ADDR")" "answer:two"
is "warm, the client keeps its side open: the answer arrives and the backend's close ends it" \
        "$(client --send='three\n' --no-shutdown "$ADDR")" "answer:three"
wait_until 10 st_is state cold || diag "the backend did not go cold after its idle second"
is "cold, the client keeps its side open: the answer arrives" \
        "$(client --send='four\n' --no-shutdown "$ADDR")" "answer:four"
ok "no backend crashed (no EPIPE on an answer)" eval '! grep -qE "Backend crash|BrokenPipe" "$LOG"'
is "every request reached the backend" "$(grep -c "^b'[a-z]*\\\\n'\$" "$TEST_DIR/requests")" 4
if [ "$TRANSPORT" = unix ]; then
        is "the backend saw the clients' connections and no other (no empty one from the readiness probe)" \
                "$(cat "$TEST_DIR/requests")" "$(printf "b'%s\\\\n'\n" one two three four)"
else
        skip 1 "the readiness probe of a TCP backend is a connection of its own (harmless there)"
fi
finish
