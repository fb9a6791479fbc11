#!/bin/bash
# A compromised unix backend cannot redirect the launcher (issue 24, item 1). The backend runs as nobody, its socket
# in a directory it owns; asked to, it replaces the socket with a symlink to a root-owned 0600 socket in a 0700
# directory (as it did with /run/systemd/private to get root from PID 1). The launcher, root here as under systemd,
# follows no symlink: the next client gets nothing of root's socket, which never sees a connection; the launcher
# says why, naming the path, closes the client with exit 77 and leaves no count behind.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (a backend as nobody, a root-only socket)"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
PY=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 not installed"
plan 8
ember_setup
chmod 0711 "$TEST_DIR" # nobody reaches its own directory below, and nothing else here
NOBODY=$(id -u nobody)

# root's socket: what a launcher must never reach for a backend (PID 1's private socket in the real attack)
mkdir -m 0700 "$TEST_DIR/secret"
SECRET=$TEST_DIR/secret/private.sock
cat >"$TEST_DIR/secret.py" <<'PYTHON'
import os, socket, sys
path, log = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o600)
s.listen(16)
while True:
    c, _ = s.accept()
    with open(log, "a") as f:
        f.write("accepted\n")
    c.sendall(b"ROOT-SOCKET\n")
    c.close()
PYTHON
"$PY" "$TEST_DIR/secret.py" "$SECRET" "$TEST_DIR/secret-log" >>"$LOG" 2>&1 &
BG_PIDS+=($!)
wait_until 10 test -S "$SECRET" || bail "root's socket did not come up"

# the backend: echoes, and on "swap" puts a symlink to root's socket where its own socket was
mkdir -m 0755 "$TEST_DIR/b" && chown nobody "$TEST_DIR/b"
cat >"$TEST_DIR/backend.py" <<'PYTHON'
import os, socket, sys
path, secret, pids = sys.argv[1:4]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
with open(pids, "a") as f:
    f.write("%d\n" % os.getpid())
while True:
    c, _ = s.accept()
    d = c.recv(4096)
    if d == b"swap\n":
        os.unlink(path)
        os.symlink(secret, path)
        d = b"swapped\n"
    c.sendall(d)
    c.close()
PYTHON
chmod 0644 "$TEST_DIR/backend.py"
touch "$TEST_DIR/backend-pids" && chown nobody "$TEST_DIR/backend-pids"
BACKEND_SPEC=$TEST_DIR/b/backend.sock
BACKEND_CMD=("$PY" "$TEST_DIR/backend.py" "$BACKEND_SPEC" "$SECRET" "$TEST_DIR/backend-pids")
SANDBOX_ARGS=(--idle=60s --policy=none --user=nobody)
LAUNCH_ARGS=(--start-timeout=10s --backend-owner="$NOBODY")
ember_start

is "a client reaches the backend, which runs as nobody" "$(client --send='hello\n' "$ADDR")" hello
is "the backend's socket is nobody's" "$(stat -c %u "$BACKEND_SPEC")" "$NOBODY"
is "the backend swaps its socket for a symlink to root's 0600 socket" "$(client --send='swap\n' "$ADDR")" swapped
ok "(it is a symlink now)" test -L "$BACKEND_SPEC"
is "the next client gets nothing of root's socket" "$(client --send='AUTH EXTERNAL 30\r\n' "$ADDR" 2>&1)" ""
is "root's socket never saw a connection" "$(cat "$TEST_DIR/secret-log" 2>/dev/null)" ""
like "the launcher says why, naming the path" "$(cat "$LOG")" \
        "Refusing the backend's socket $(re_quote "$BACKEND_SPEC"): its path has a symlink.*closing the client"
ok "and exits 77 with no count left behind" wait_until 10 eval \
        'grep -q "died with code 77" "$LOG" && st_is refcount 0 && launchers_gone'
finish
