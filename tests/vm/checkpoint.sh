#!/bin/bash
# --idle-action=checkpoint with criu: at the idle deadline the backend is dumped into /var/lib/ember/NAME/checkpoint
# (root's, 0700) and no backend process is left; the next connection restores it: the same pid, its memory (a
# request counter goes on where it stopped), its confinement (user, no_new_privs, seccomp, the unit's cgroup). A
# damaged checkpoint falls back to a cold start and says so; a changed executable discards the checkpoint. A storm
# of connections on a checkpointed app makes one restore and is answered whole; a supervisor killed (SIGKILL) while
# it dumps heals like any other kill: the next connection is served, the count is right, no backend is left over.
. "$(dirname "$0")/lib.sh"
$EMBERCTL new ckprobe --listen=127.0.0.1:1 --backend=127.0.0.1:2 --idle-action=checkpoint --unit-dir="$T_TMP" \
        -- /bin/true 2>&1 | grep -q 'cannot checkpoint' &&
        skip_all "--idle-action=checkpoint is not built into this .deb (experimental: EMBER_VM_CONFIGURE_FLAGS=--enable-checkpoint make check-vm)"
plan 33

APP=ckpt PORT=18311 BPORT=18312 STORM=8
dir=/var/lib/ember/$APP/checkpoint
BUSER=$APP-backend

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
# checkpointed N: the Nth checkpoint is made and the app is cold
checkpointed() { [ "$(journal_events $APP checkpoint)" = "$1" ] && state_is cold; }
# status_lines PID KEY...: those lines of /proc/PID/status, the confinement a restore must give back
status_lines() {
        local pid=$1
        shift
        grep -E "^($(
                IFS='|'
                echo "$*"
        )):" "/proc/$pid/status" 2>&1
}
CONFINEMENT=(Uid Gid Groups NoNewPrivs Seccomp Seccomp_filters CapEff CapBnd)
# backend_pids: the processes of the backend's user (the backend and nothing else runs as it)
backend_pids() { pgrep -u "$BUSER" | sort | tr '\n' ' '; }
no_backend_left() { [ -z "$(backend_pids)" ]; }

ok "app $APP is up (emberctl new --idle-action=checkpoint --now)" app_new $APP --listen=127.0.0.1:$PORT \
        --backend=127.0.0.1:$BPORT --idle=3s --idle-action=checkpoint -- /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT ||
        bail "without the app nothing else here can pass"
is "the backend counts" "$(line_client $PORT count count)" "1
2"
bpid=$(state $APP backend.pid)
confined=$(status_lines "$bpid" "${CONFINEMENT[@]}")
diag "the backend's confinement: $(echo "$confined" | tr '\t\n' ' /')"
ok "after the idle period the app is cold" wait_until 120 state_is cold
is "one checkpoint, no restore yet" "$(events)" 1/0/0
criu_log_diag dump first
ok "the checkpoint is in $dir, root's, mode 0700" test "$(stat -c %U:%a "$dir" 2>&1)" = root:700
diag "checkpoint: $(journal_field $APP checkpoint EMBER_CHECKPOINT_BYTES) bytes in $(journal_field $APP checkpoint EMBER_CHECKPOINT_MS) ms"
ok "no backend process is left while checkpointed" no_backend_left
is "the backend unit is inactive" "$(unit_prop $APP-backend.service ActiveState)" inactive

is "the next connection is served by the restored backend: the counter goes on" "$(line_client $PORT count)" 3
is "one restore, no failure" "$(events)" 1/1/0
criu_log_diag restore first
is "the restored backend has its old pid" "$(state $APP backend.pid)" "$bpid"
diag "restore: ready after $(journal_field $APP restore EMBER_RESTORE_MS) ms"
is "its confinement: user, groups, no_new_privs, seccomp filters, capabilities" \
        "$(status_lines "$bpid" "${CONFINEMENT[@]}")" "$confined"
like "the backend unit's cgroup of this run" "$(cat /proc/$bpid/cgroup 2>&1)" "^0::/system.slice/$APP-backend.service\$"
is "its output still reaches the journal (its pipe was given back)" \
        "$(line_client $PORT "say restored-$bpid" >/dev/null; wait_until 30 sh -c "journalctl -q -o cat -u $APP-backend.service | grep -qx 'said restored-$bpid'" && echo yes)" yes
ok "the checkpoint was used up" test ! -e "$dir"

# ---- a damaged checkpoint -------------------------------------------------------------------------------------
ok "idle again: checkpointed again" wait_until 120 checkpointed 2
criu_log_diag dump second
failed=$(journal_events $APP restore-failed)
: >"$dir"/pstree.img
is "a damaged checkpoint: the connection is served by a cold start (a fresh counter)" "$(line_client $PORT count)" 1
is "said once: one restore-failed more" "$(journal_events $APP restore-failed)" $((failed + 1))
like "which says why" "$(journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=restore-failed | tail -n 1)" \
        "starting it cold instead: criu restore failed"
criu_log_diag restore damaged

# ---- a changed executable -------------------------------------------------------------------------------------
ok "idle again: checkpointed a third time" wait_until 120 checkpointed 3
criu_log_diag dump third
restores=$(journal_events $APP restore)
touch "$(readlink -f /usr/bin/python3)"
is "the executable changed: the checkpoint is discarded, a cold start serves (a fresh counter)" \
        "$(line_client $PORT count):$(journal_events $APP restore)" "1:$restores"
like "the discard is said" "$(journalctl -q --no-pager -o cat -u $APP-backend.service | grep 'discarded' | tail -n 1)" \
        "executable changed"

# ---- a storm of connections on a checkpointed app ------------------------------------------------------------
ok "idle again: checkpointed a fourth time" wait_until 120 checkpointed 4
criu_log_diag dump fourth
# restore/restore-failed/cold-start events so far
starts() { echo "$(journal_events $APP restore)/$(journal_events $APP restore-failed)/$(journal_events $APP cold-start)"; }
IFS=/ read -r restores failed colds <<<"$(starts)"
pids=()
for i in $(seq 1 $STORM); do
        line_client $PORT count >"$T_TMP/storm.$i" &
        pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
# at once, before the idle period (3 s) ends again
after_storm="$(backend_pids)/$(state $APP backend.pid) "
is "a storm of $STORM connections: every one answered by the restored backend, its counter going on from 1" \
        "$(cat "$T_TMP"/storm.* | sort -n | tr '\n' ' ')" "$(seq 2 $((STORM + 1)) | tr '\n' ' ')"
is "one backend process for the storm" "${after_storm%%/*}" "${after_storm#*/}"
is "exactly one restore for the storm, no failure, no cold start" "$(starts)" "$((restores + 1))/$failed/$colds"
criu_log_diag restore storm
counts_exact "after the storm" $APP

# ---- the supervisor killed (SIGKILL) while it dumps ---------------------------------------------------------
supervisor=$(unit_prop $APP-backend.service MainPID)
dumping() { pgrep -x criu -P "$supervisor" >/dev/null; }
ok "idle again: the supervisor runs criu dump" wait_until 120 dumping
systemctl kill -s KILL --kill-whom=main $APP-backend.service
ok "the backend unit has ended" wait_until 60 sh -c "! systemctl is-active --quiet $APP-backend.service"
ok "no backend process and no criu are left" wait_until 60 sh -c "[ -z \"\$(pgrep -u $BUSER)\" ] && ! pgrep -x criu"
like "the next connection is served" "$(line_client $PORT count)" '^[0-9]+$'
after_kill="$(backend_pids)/$(state $APP backend.pid) "
is "one backend process, the app's" "${after_kill%%/*}" "${after_kill#*/}"
counts_exact "after the kill" $APP
ok "the dump cut short is not kept ($dir.new)" test ! -e "$dir.new"
criu_log_diag dump killed
criu_log_diag restore killed
finish
