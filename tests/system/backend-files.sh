#!/bin/bash
# The default backend sandbox under a real systemd: no mount namespace (it would cost every cold start), a system
# user of the app's own (NAME-backend, made by emberctl new through systemd-sysusers, its file removed by emberctl rm)
# and the backend's files confined by ember-sandbox --landlock: it reads the system but not /home, /root or
# /run/user, writes only /tmp, /var/tmp, the pseudo devices, its --state-dir ($STATE_DIRECTORY, made again by
# ember-sandbox if removed) and --rw-path, and (Landlock ABI 6) signals no process outside its own. With --hardening=strict, systemd's own sandbox (a mount namespace) instead.
. "$(dirname "$0")/lib.sh"
plan 30

sys_boot
pick_ports 4
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]} STRICT_PORT=${PORTS[2]} STRICT_BACKEND=${PORTS[3]}
ABI=$(c python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))' 2>/dev/null)

# The backend first tries what its sandbox should allow and refuse, each as one word in its state directory, then
# serves. "!" before a word: refused, as it should be.
probe='out=/var/lib/files-state/seen
try() { w=$1; shift; if "$@" 2>/dev/null; then echo "$w"; else echo "!$w"; fi; }
{
        id -un
        try read-etc sh -c "cat /etc/passwd >/dev/null"
        try read-home ls /home
        try read-root ls /root
        try read-run-user ls /run/user
        try write-etc touch /etc/ember-files-probe
        try write-usr touch /usr/ember-files-probe
        try write-var-lib touch /var/lib/ember-files-probe
        try write-run touch /run/ember-files-probe
        try write-tmp touch /tmp/ember-files-probe
        try write-var-tmp touch /var/tmp/ember-files-probe
        try write-rw-path touch /srv/files-rw/probe
        try write-dev-null sh -c "echo x >/dev/null"
        try write-proc sh -c "echo 0 >/proc/self/oom_score_adj"
        try signal-pid1 kill -0 1
        try state-env test "$STATE_DIRECTORY" = /var/lib/files-state
} >"$out"
exec "$0" --listen=127.0.0.1:'$BACKEND_PORT' --mode=echo'
c mkdir -p /srv/files-rw /home/someone
c chmod 1777 /srv/files-rw
ok "app files is up (default sandbox, --state-dir, --rw-path)" app_up files --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --state-dir=files-state --rw-path=/srv/files-rw -- \
        /bin/sh -c "$probe" "$TOOLS/ember-test-backend" || diag_file "$T_TMP/new.out"
like "emberctl new made the backend's own user by systemd-sysusers" "$(c getent passwd files-backend)" '^files-backend:x:[0-9]+:'
ok "from a sysusers.d file of the app's" c test -f /etc/sysusers.d/ember-files.conf
is "it serves (cold)" "$("$TOOLS/ember-test-client" --timeout=10s --send=cold 127.0.0.1:$LISTEN_PORT 2>&1)" cold
is "and warm" "$("$TOOLS/ember-test-client" --timeout=10s --send=warm 127.0.0.1:$LISTEN_PORT 2>&1)" warm
seen=$(c cat /var/lib/files-state/seen 2>/dev/null | tr '\n' ' ')
echo "# the backend saw: $seen"
bpid=$(state files backend.pid)
is "the backend runs as that user" "$(c stat -c %U "/proc/$bpid")" files-backend
is "in PID 1's own mount namespace: no namespace built at each cold start" \
        "$(c readlink "/proc/$bpid/ns/mnt")" "$(c readlink /proc/1/ns/mnt)"
for w in read-etc write-tmp write-var-tmp write-rw-path write-dev-null state-env; do
        like "the backend may: $w" "$seen" "(^| )$w( |\$)"
done
for w in read-home read-root read-run-user write-etc write-usr write-var-lib write-run write-proc; do
        like "the backend may not: $w" "$seen" "(^| )!$w( |\$)"
done
if [ "${ABI:-0}" -ge 6 ] 2>/dev/null; then
        like "Landlock ABI $ABI: it may not signal a process outside its own (PID 1 here)" "$seen" '(^| )!signal-pid1( |$)'
else
        skip 1 "Landlock ABI ${ABI:-none} < 6: no signal scoping on this kernel"
fi
is "its state directory is its user's" "$(c stat -c %U /var/lib/files-state)" files-backend
c "$EMBERCTL" stop files >/dev/null 2>&1
files_cold() { [ "$(state files state)" = cold ]; }
wait_until 20 files_cold || diag "files did not go cold"
c rm -rf /var/lib/files-state
is "with its state directory removed while cold, the next start serves" \
        "$("$TOOLS/ember-test-client" --timeout=10s --send=again 127.0.0.1:$LISTEN_PORT 2>&1)" again
is "and has made it again, its user's, with what the backend wrote" \
        "$(c stat -c %U /var/lib/files-state/seen 2>&1)" files-backend

# ---- --hardening=strict: systemd's sandbox instead ------------------------------------------------------------------
ok "app strictfiles is up with --hardening=strict" app_up strictfiles --listen=127.0.0.1:$STRICT_PORT \
        --backend=127.0.0.1:$STRICT_BACKEND --hardening=strict -- "$TOOLS/ember-test-backend" \
        --listen=127.0.0.1:$STRICT_BACKEND --mode=echo
is "it serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=strict 127.0.0.1:$STRICT_PORT 2>&1)" strict
spid=$(state strictfiles backend.pid)
ok "in a mount namespace of its unit's" test "$(c readlink "/proc/$spid/ns/mnt")" != "$(c readlink /proc/1/ns/mnt)"

# ---- emberctl rm ------------------------------------------------------------------------------------------------------
ok "emberctl rm files" c "$EMBERCTL" rm files
ok "removes the app's sysusers.d file" c test ! -e /etc/sysusers.d/ember-files.conf

tap_passing || diag_journal files
finish
