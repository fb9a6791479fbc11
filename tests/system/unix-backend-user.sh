#!/bin/bash
# Issue 24, item 2 (no launcher runs as root), under a real systemd: a unix backend's launchers run as the backend's
# own --user, who owns its socket, and so connect to it with the socket's own mode. The backend here runs as nobody
# and makes its socket 0755, as a server of its own user does: only nobody may connect. On main the launchers were
# root without capabilities, which gets EACCES there (and was "a launcher running as root"): no answer, cold or warm.
. "$(dirname "$0")/lib.sh"
plan 19

sys_boot
pick_ports 2
P=${PORTS[0]}
command -v curl >/dev/null 2>&1 || bail "curl is missing"
NOBODY=$(c id -u nobody)

# an HTTP/1.0 server of a few lines on a unix socket, 0755, that says whose it is
backend_py='import os, socket
p = "/run/uuser/s.sock"
os.path.exists(p) and os.unlink(p)
s = socket.socket(socket.AF_UNIX); s.bind(p); os.chmod(p, 0o755); s.listen(16)
while True:
    c, _ = s.accept()
    if c.recv(65536):
        b = b"uid=%d\n" % os.getuid()
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
    c.close()'
c mkdir -p /run/uuser && c chown nobody /run/uuser
get() { curl -sS --max-time 20 "http://127.0.0.1:$P/" 2>&1; }

ok "app 'uuser': a unix --backend as --user=nobody" app_up uuser --listen=127.0.0.1:$P --backend=/run/uuser/s.sock \
        --rw-path=/run/uuser --idle=60s --user=nobody -- /usr/bin/python3 -c "$backend_py"
like "its connections' unit runs the launcher as nobody, the backend's user" \
        "$(c grep '^User=' /etc/systemd/system/uuser@.service)" '^User=nobody$'
is "cold: curl gets the backend's answer through a socket 0755 of nobody's" "$(get)" "uid=$NOBODY"
is "(the socket is 0755, nobody's)" "$(c stat -c '%a %U' /run/uuser/s.sock)" "755 nobody"
pid=$(state uuser backend.pid)
# systemd-analyze security of a connection's unit: nobody counts as a user other services share, so not as good as a
# TCP app's own launchers' user (tests/system/security.sh); and where this kernel's Landlock keeps the launcher from
# any TCP connect (ABI 4), the unit asks PID 1 for no IP filter (templates/hardening-lean.conf): 6.7, 6.1 with it
inst="uuser@0-127.0.0.1:$P-127.0.0.1:1.service"
score=$(c systemd-analyze security --no-pager "$inst" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p')
ok "its connections' unit is rated at most 6.7 by systemd-analyze security ($score)" \
        c systemd-analyze security --no-pager --threshold=67 "$inst"
# ember-launch(8), ENVIRONMENT: the units give the launcher the journal as streams, not EMBER_LOG=journal
is "the connections' unit gives the launcher the journal as its streams, and no EMBER_LOG" \
        "$(c grep -E '^(StandardOutput|StandardError|Environment)=' /etc/systemd/system/uuser@.service | tr '\n' ' ')" \
        "StandardOutput=journal StandardError=journal "
c journalctl --sync
like "its cold start's entry is structured (EMBER_APP=uuser) and its instance's (_SYSTEMD_UNIT=uuser@...)" \
        "$(c journalctl -q --no-pager -o cat -u 'uuser@*' EMBER_APP=uuser SYSLOG_IDENTIFIER=ember-launch)" 'Waking the backend'
is "warm: the same backend answers again" "$(get)" "uid=$NOBODY"
is "(one cold start, the same backend)" "$(state uuser cold-starts):$(state uuser backend.pid)" "1:$pid"
is "the launcher files are nobody's; the state directory stays root's" \
        "$(c stat -c %U /run/ember/uuser/refcount /run/ember/uuser/lock /run/ember/uuser | tr '\n' ' ')" "nobody nobody root "

# a connection held open (the backend waits for its request): its launcher, seen in /proc
exec 5<>/dev/tcp/127.0.0.1/$P
has_launcher() { [ -n "$(launcher_pid uuser)" ]; }
ok "a held connection has a running launcher" wait_until 10 has_launcher
lp=$(launcher_pid uuser)
is "the launcher (MainPID $lp of its instance) runs as nobody: real, effective, saved and fs uid" \
        "$(proc_status "$lp" Uid | tr -s '\t ' ' ')" "$NOBODY $NOBODY $NOBODY $NOBODY"
is "and is not dumpable: its /proc is root's, so the backend's user cannot ptrace it or read its fds" \
        "$(c stat -c %U "/proc/$lp/environ")" root
(printf 'GET / HTTP/1.0\r\n\r\n' >&5) 2>/dev/null # in a subshell: a closed connection's SIGPIPE ends only it
like "the held connection is served too" "$(timeout 20 cat <&5 | tail -n 1)" "^uid=$NOBODY"
exec 5>&-
refcount_zero() { [ "$(state uuser refcount)" = 0 ]; }
ok "and the count is back to 0" wait_until 10 refcount_zero

out=$(c "$EMBERCTL" new uuserx --listen=127.0.0.1:${PORTS[1]} --backend=/run/uuser/x.sock --user=ember \
        --unit-dir=/run -- /bin/true 2>&1)
is "a unix backend as --user=ember, whose launchers would be every TCP app's, is refused (64)" "$?" 64
like "which says why" "$out" "is the launchers' user \\(of every TCP app\\)"
# ember-sandbox's own rule (a hand-written unit): the backend may be its launchers' user only for a unix backend, and
# never as ember, every TCP app's launchers' user
sbx() { c env EMBER_RUNTIME_DIR=/tmp/sbx "$libexecdir/ember/ember-sandbox" --app=sbx --policy=none "$@" -- /bin/true 2>&1; }
out=$(sbx --backend=127.0.0.1:${PORTS[1]} --user=nobody --launch-user=nobody); rc=$?
is "ember-sandbox refuses a TCP backend as its launchers' user (64: ${out%%$'\n'*})" "$rc" 64
out=$(sbx --backend=/run/uuser/x.sock --user=ember --launch-user=ember); rc=$?
is "and a unix backend as ember (64: ${out%%$'\n'*})" "$rc" 64
tap_passing || diag_journal uuser
finish
