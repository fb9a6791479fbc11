#!/bin/bash
# Issue 24, item 1, under a real systemd: whatever its user, a backend reaches neither PID 1's private socket, the
# system bus nor journald's control socket, and still logs. Each backend first probes the three (connect, then D-Bus's
# first words, AUTH EXTERNAL for uid 0, where one answers), tries what the attack did (systemd-run of a command that
# writes /run), logs a line on stdout and one through syslog, and then serves.
# - as a user of its own (the default, DynamicUser=): the sockets' own checks hold (PID 1's and journald's are root's
#   0600; the bus takes the connection and rejects a claim to be uid 0, its peer check), nothing added to the unit;
# - as root (--user=root): the unit hides the three (InaccessiblePaths=, ctl/new.c backend_root_hidden()). On main a
#   root backend's AUTH EXTERNAL got PID 1's "OK" and its systemd-run ran a command as root.
. "$(dirname "$0")/lib.sh"
plan 19

sys_boot
pick_ports 4

probe_py='import errno, socket, sys
out = open(sys.argv[1], "w")
def probe(name, path):
    s = socket.socket(socket.AF_UNIX); s.settimeout(5)
    try:
        s.connect(path)
    except OSError as e:
        return out.write("%s refused %s\n" % (name, errno.errorcode.get(e.errno, e.errno)))
    try:
        s.sendall(b"\0AUTH EXTERNAL 30\r\n"); r = s.recv(256).decode("ascii", "replace").split("\r\n")[0]
    except OSError as e:
        r = "error " + errno.errorcode.get(e.errno, str(e.errno))
    out.write("%s answered %s\n" % (name, r or "nothing"))
for name, path in (("private", "/run/systemd/private"), ("bus", "/run/dbus/system_bus_socket"),
                   ("journal-io", "/run/systemd/journal/io.systemd.journal"),
                   ("pid1-root", "/proc/1/root/run/systemd/private")):
    probe(name, path)'
printf '%s\n' "$probe_py" | c tee /etc/ember-pid1-probe.py >/dev/null

# attacker NAME PORT: the backend's command for app NAME (its state directory /var/lib/NAME), serving on PORT
attacker() {
        echo 'python3 /etc/ember-pid1-probe.py /var/lib/'"$1"'/probe
systemd-run --quiet --wait sh -c "id >/run/pwned-by-'"$1"'" 2>/var/lib/'"$1"'/run.err; echo $? >/var/lib/'"$1"'/run
echo "ember-probe stdout '"$1"'"; logger -t ember-probe "ember-probe syslog '"$1"'"
exec "$0" --listen=127.0.0.1:'"$2"' --mode=echo'
}
probe_of() { c sed -n "s/^$2 //p" "/var/lib/$1/probe"; }
# logs NAME: its backend's stdout line (a stream: its unit's) and syslog line (a datagram from logger, which may be gone
# before journald looks up its unit: found by its identifier) are both in the journal
logs() {
        c journalctl -q --no-pager -o cat -u "$1-backend.service" | grep -qx "ember-probe stdout $1" &&
                c journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=ember-probe | grep -qx "ember-probe syslog $1"
}

# ---- a backend of its own user (the default) -------------------------------------------------------------------
ok "app pdyn (no --user: DynamicUser=) is up" app_up pdyn --listen=127.0.0.1:${PORTS[0]} --backend=127.0.0.1:${PORTS[1]} \
        --state-dir=pdyn -- /bin/sh -c "$(attacker pdyn ${PORTS[1]})" "$TOOLS/ember-test-backend"
is "and serves" "$("$TOOLS/ember-test-client" --timeout=20s --send=d 127.0.0.1:${PORTS[0]} 2>&1)" d
is "its unit hides nothing (the default unit is as before)" "$(c grep -c '^InaccessiblePaths=' /etc/systemd/system/pdyn-backend.service)" 0
like "PID 1's private socket refuses it (root's, 0600)" "$(probe_of pdyn private)" '^refused EACCES$'
like "the system bus rejects its claim to be uid 0 (the bus's peer check; or there is no bus)" "$(probe_of pdyn bus)" \
        '^(answered REJECTED|refused ENOENT$)'
like "journald's control socket refuses it (root's, 0600)" "$(probe_of pdyn journal-io)" '^refused (EACCES|ENOENT)$'
isnt "its systemd-run failed ($(c cat /var/lib/pdyn/run.err 2>&1 | head -n 1))" "$(c cat /var/lib/pdyn/run 2>&1)" 0
ok "and PID 1 ran nothing for it" c test ! -e /run/pwned-by-pdyn
ok "it logs: stdout and syslog reach the journal" wait_until 10 logs pdyn

# ---- a root backend (--user=root) --------------------------------------------------------------------------------
ok "app proot (--user=root) is up" app_up proot --listen=127.0.0.1:${PORTS[2]} --backend=127.0.0.1:${PORTS[3]} \
        --state-dir=proot --user=root -- /bin/sh -c "$(attacker proot ${PORTS[3]})" "$TOOLS/ember-test-backend"
is "and serves" "$("$TOOLS/ember-test-client" --timeout=20s --send=r 127.0.0.1:${PORTS[2]} 2>&1)" r
like "its unit hides the three sockets" "$(c grep '^InaccessiblePaths=' /etc/systemd/system/proot-backend.service)" \
        '^InaccessiblePaths=-/run/systemd/private -/run/dbus/system_bus_socket -/run/systemd/journal/io\.systemd\.journal$'
like "PID 1's private socket does not answer its AUTH EXTERNAL for uid 0 (on main: OK)" "$(probe_of proot private)" '^refused '
like "nor does the system bus" "$(probe_of proot bus)" '^refused '
like "nor can it reach journald's control socket" "$(probe_of proot journal-io)" '^refused '
like "nor PID 1's socket through /proc/1/root (no ptrace access to PID 1)" "$(probe_of proot pid1-root)" '^refused '
isnt "its systemd-run failed ($(c cat /var/lib/proot/run.err 2>&1 | head -n 1))" "$(c cat /var/lib/proot/run 2>&1)" 0
ok "and PID 1 ran nothing for it (on main it wrote /run/pwned-by-proot as root)" c test ! -e /run/pwned-by-proot
ok "it still logs: stdout and syslog reach the journal" wait_until 10 logs proot
diag "pdyn's probes: $(c cat /var/lib/pdyn/probe 2>&1 | tr "\n" ";")"; diag "proot's: $(c cat /var/lib/proot/probe 2>&1 | tr "\n" ";")"
tap_passing || {
        diag_journal proot; }
finish
