#!/bin/bash
# Self-healing under a real systemd, the state directory: deleted while warm (the supervisor notices within a
# second, stops the backend and has the wake socket rebound in a new directory), and /run full (a small tmpfs on
# /run/ember: writes fail with ENOSPC, the connection is refused with a clear error, nothing is left stuck, and the
# app serves again once there is room). After each: the next connection is served within 2 s, the counts are exact,
# no orphan is left, and one journal line says what happened.
. "$(dirname "$0")/lib.sh"
plan 25

sys_boot
echo_app heal

# ---- the state directory deleted while warm ---------------------------------------------------------------------
before=$(journal_events $APP state-lost)
bpid=$(state $APP backend.pid)
c rm -rf /run/ember/$APP
t0=$(ms_now)
served_within 2500 "state dir deleted (a connection right after the rm waits for the wake socket to come back)"
gone() { ! c kill -0 "$1" 2>/dev/null; }
ok "state dir deleted: the old backend is stopped within 2 s of the rm (no orphan runs on)" wait_until 1 gone "$bpid"
diag "stopped within $(($(ms_now) - t0)) ms of the rm"
journal_once "state dir deleted" state-lost "$before"
served_within 2000 "state dir deleted, the one after"
is "state dir deleted: a new state directory with a wake socket" "$(c stat -c %F /run/ember/$APP/wake.sock)" socket
counts_exact "state dir deleted"
no_orphan "state dir deleted"

# ---- the state directory deleted again and again ------------------------------------------------------------------
# Each time the wake socket unit is stopped and started again: six in a row within 10 s must stay within its start
# limit (systemd's default of 5 per 10 s made the sixth fail with start-limit-hit).
for i in 1 2 3 4 5 6; do
        c rm -rf /run/ember/$APP
        served_within 2500 "state dir deleted, round $i of 6"
done
is "the wake socket is active after all six" "$(unit_prop $APP-backend.socket ActiveState)" active
no_orphan "state dir deleted six times"

# ---- /run full ------------------------------------------------------------------------------------------------
c systemctl stop $APP.socket $APP-backend.socket $APP-backend.service
c sh -c "mount -t tmpfs -o size=64k,mode=0755 ember-full /run/ember"
c systemctl start $APP.socket
c sh -c "dd if=/dev/zero of=/run/ember/filler bs=4k count=64 2>/dev/null; true"
# ember's own lines, by the EMBER_APP= they carry: a launcher that fails exits at once, and journald, too late to read
# its cgroup, may not know its unit (seen in a nested container: -u "$APP@*" found nothing). Whichever of the
# launcher or the supervisor first meets the full /run says so (a launcher's files are made before /run fills).
launch_log() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=ember-launch "EMBER_APP=$APP" + \
                SYSLOG_IDENTIFIER=ember-sandbox "EMBER_APP=$APP"
}
before=$(launch_log | grep -c 'No space left on device')
out=$("$TOOLS/ember-test-client" --timeout=10s --send=full 127.0.0.1:$LISTEN_PORT 2>&1)
is "/run full: the connection is closed without an answer" "$out" ""
after=$(launch_log | grep -c 'No space left on device')
ok "/run full: one clear error in the journal ($((after - before)) lines say 'No space left on device')" test $((after - before)) -ge 1
counts_exact "/run full"
st=$(state $APP state)
is "/run full: nothing is left stuck (a missing state file is cold)" "${st:-cold}" cold
like "/run full: the error names the state directory and the cause" "$(launch_log | grep 'No space left' | tail -n 1)" "/run/ember/$APP.*No space left on device"
no_orphan "/run full"
c rm -f /run/ember/filler
served_within 2000 "/run full, then room again"
counts_exact "/run full, then room again"

tap_passing || diag_journal $APP
finish
