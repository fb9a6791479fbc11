#!/bin/bash
# --idle-action=checkpoint with criu: at the idle deadline the backend is dumped into /var/lib/ember/NAME/checkpoint
# (root's, 0700) and no backend process is left; the next connection restores it: the same pid, its memory (a
# request counter goes on where it stopped), its confinement (user, no_new_privs, seccomp, the unit's cgroup). A
# damaged checkpoint falls back to a cold start and says so; a changed executable discards the checkpoint.
. "$(dirname "$0")/lib.sh"
$EMBERCTL new ckprobe --listen=127.0.0.1:1 --backend=127.0.0.1:2 --idle-action=checkpoint --unit-dir="$T_TMP" \
        -- /bin/true 2>&1 | grep -q 'cannot checkpoint' &&
        skip_all "--idle-action=checkpoint is not built into this .deb (experimental: EMBER_VM_CONFIGURE_FLAGS=--enable-checkpoint make check-vm)"
plan 21

APP=ckpt PORT=18311 BPORT=18312
dir=/var/lib/ember/$APP/checkpoint
ok "app $APP is up (emberctl new --idle-action=checkpoint --now)" app_new $APP --listen=127.0.0.1:$PORT \
        --backend=127.0.0.1:$BPORT --idle=3s --idle-action=checkpoint -- /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT
is "the backend counts" "$(line_client $PORT count count)" "1
2"
bpid=$(state $APP backend.pid)
uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$bpid/status)
# criu_log_diag dump|restore TAG: a failed criu's errors (ember keeps its log as criu-dump.log, criu-restore.log), and
# the whole log brought out of the VM as checkpoint-criu-ACTION-TAG.log
criu_log_diag() {
        local log=/var/lib/ember/$APP/criu-$1.log
        [ -f "$log" ] || return 0
        diag "criu-$1.log ($2): $(grep -E 'Error|Warn|fail' "$log" | tail -n 20)"
        keep_file "$log" "checkpoint-criu-$1-$2.log"
        rm -f "$log"
}
state_is() { [ "$(state $APP state)" = "$1" ]; }
events() { echo "$(journal_events $APP checkpoint)/$(journal_events $APP restore)/$(journal_events $APP restore-failed)"; }
ok "after the idle period the app is cold" wait_until 120 state_is cold
is "one checkpoint, no restore yet" "$(events)" 1/0/0
criu_log_diag dump first
ok "the checkpoint is in $dir, root's, mode 0700" test "$(stat -c %U:%a "$dir" 2>&1)" = root:700
diag "checkpoint: $(journal_field $APP checkpoint EMBER_CHECKPOINT_BYTES) bytes in $(journal_field $APP checkpoint EMBER_CHECKPOINT_MS) ms"
ok "no backend process is left while checkpointed" sh -c "! kill -0 $bpid 2>/dev/null"
is "the backend unit is inactive" "$(unit_prop $APP-backend.service ActiveState)" inactive

is "the next connection is served by the restored backend: the counter goes on" "$(line_client $PORT count)" 3
is "one restore, no failure" "$(events)" 1/1/0
criu_log_diag restore first
is "the restored backend has its old pid" "$(state $APP backend.pid)" "$bpid"
diag "restore: ready after $(journal_field $APP restore EMBER_RESTORE_MS) ms"
is "its user" "$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$bpid/status)" "$uid"
is "no_new_privs" "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$bpid/status)" 1
is "its seccomp filter (mode 2)" "$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$bpid/status)" 2
like "the backend unit's cgroup of this run" "$(cat /proc/$bpid/cgroup)" "$APP-backend.service"
ok "the checkpoint was used up" test ! -e "$dir"

# ---- a damaged checkpoint -------------------------------------------------------------------------------------
ok "idle again: checkpointed again" wait_until 120 sh -c "[ \"\$(journal_events $APP checkpoint)\" = 2 ] && [ \"\$(cat /run/ember/$APP/state)\" = cold ]"
criu_log_diag dump second
for f in "$dir"/pstree.img; do : >"$f"; done
is "a damaged checkpoint: the connection is served by a cold start (a fresh counter)" "$(line_client $PORT count)" 1
is "one restore-failed" "$(journal_events $APP restore-failed)" 1
like "which says why" "$(journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=restore-failed)" "criu restore failed"
criu_log_diag restore damaged

# ---- a changed executable -------------------------------------------------------------------------------------
ok "idle again: checkpointed a third time" wait_until 120 sh -c "[ \"\$(journal_events $APP checkpoint)\" = 3 ] && [ \"\$(cat /run/ember/$APP/state)\" = cold ]"
criu_log_diag dump third
touch "$(readlink -f /usr/bin/python3)"
is "the executable changed: the checkpoint is discarded, a cold start serves (a fresh counter)" \
        "$(line_client $PORT count):$(journal_events $APP restore)" 1:1
finish
