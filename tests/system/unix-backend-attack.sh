#!/bin/bash
# Issue 24, item 1, under a real systemd: a unix backend running as nobody puts a symlink to PID 1's private socket
# where its own socket was, and a client on the app's public port sends D-Bus's first words, AUTH EXTERNAL for uid 0.
# The launchers of a unix backend were root: then one connected there and PID 1 answered "OK" (the exploit then
# ran a transient unit as root). Now the launcher follows no symlink (and runs as the backend's user, nobody, whom
# PID 1's 0600 socket refuses anyway): the client gets nothing, the journal says why, and the count goes back to 0.
. "$(dirname "$0")/lib.sh"
plan 8

sys_boot
pick_ports 1
P=${PORTS[0]}
TC=$TOOLS/ember-test-client
[ -x "$TC" ] || bail "test tools not built in $TOOLS"
c test -S /run/systemd/private || skip_all "no /run/systemd/private in the container"
refcount_zero() { [ "$(state uattack refcount)" = 0 ]; }

# a backend of six lines that, asked to, plays the attacker; its socket 0666 (the launchers, nobody as the backend,
# need no more than 0755: tests/system/unix-backend-user.sh)
backend_py='import os, socket
p = "/run/uattack/s.sock"
os.path.exists(p) and os.unlink(p)
s = socket.socket(socket.AF_UNIX); s.bind(p); os.chmod(p, 0o666); s.listen(16)
while True:
    c, _ = s.accept(); d = c.recv(4096)
    if d == b"swap\n": os.unlink(p); os.symlink("/run/systemd/private", p); d = b"swapped\n"
    c.sendall(d); c.close()'
c mkdir -p /run/uattack && c chown nobody /run/uattack
ok "app 'uattack': a unix --backend as --user=nobody" app_up uattack --listen=127.0.0.1:$P --backend=/run/uattack/s.sock \
        --rw-path=/run/uattack --user=nobody -- /usr/bin/python3 -c "$backend_py"
like "the launchers take only nobody's socket" "$(c grep '^ExecStart=' /etc/systemd/system/uattack@.service)" \
        "--backend-owner=$(c id -u nobody)\"?\$"
is "a client reaches the backend" "$("$TC" --timeout=20s --send='hello\n' 127.0.0.1:$P 2>&1)" hello
is "the backend, as nobody, puts a symlink to PID 1's private socket in its socket's place" \
        "$("$TC" --timeout=20s --send='swap\n' 127.0.0.1:$P 2>&1)" swapped
is "(it points there now)" "$(c readlink /run/uattack/s.sock)" /run/systemd/private
is "a client's D-Bus AUTH EXTERNAL for uid 0 gets no answer from PID 1 through the launcher" \
        "$("$TC" --timeout=20s --send='\x00AUTH EXTERNAL 30\r\n' 127.0.0.1:$P 2>&1 | tr -d '\r')" ""
c journalctl --sync
like "the journal says why, naming the path" "$(c journalctl -q --no-pager -o cat -u 'uattack@*')" \
        "^Refusing the backend's socket /run/uattack/s\.sock: its path has a symlink"
ok "and the app's count is back to 0" wait_until 10 refcount_zero
tap_passing || diag_journal uattack
finish
