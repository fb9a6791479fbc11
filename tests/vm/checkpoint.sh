#!/bin/bash
# --idle-action=checkpoint with criu: at the idle deadline the backend is dumped into /var/lib/ember/NAME/checkpoint
# (root's, 0700) and no backend process is left; the next connection restores it: the same pid, its memory (a
# request counter goes on where it stopped), its confinement (user, no_new_privs, seccomp, the unit's cgroup). A
# damaged checkpoint falls back to a cold start and says so; a changed executable discards the checkpoint. A storm
# of connections on a checkpointed app makes one restore and is answered whole; a supervisor killed (SIGKILL) while
# it dumps, or while it restores, heals like any other kill: the next connection is served, the count is right, no
# backend is left over, nor any half-made or half-used checkpoint. What a checkpoint costs and saves is visible:
# emberctl status says checkpointed with its size, the bill (the run's end in the journal, emberctl report) counts
# its disk, emberctl metrics its disk, the restores and their time to ready.
. "$(dirname "$0")/lib.sh"
$EMBERCTL new ckprobe --listen=127.0.0.1:1 --backend=127.0.0.1:2 --idle-action=checkpoint --unit-dir="$T_TMP" \
        -- /bin/true 2>&1 | grep -q 'cannot checkpoint' &&
        skip_all "--idle-action=checkpoint is not built into this .deb (experimental: EMBER_VM_CONFIGURE_FLAGS=--enable-checkpoint make check-vm)"
plan 50

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

# ---- what the checkpoint costs, seen: status, the bill, metrics -------------------------------------------------
bytes=$(journal_field $APP checkpoint EMBER_CHECKPOINT_BYTES)
is "the checkpoint event's size is the directory's" "${bytes:-none}" "$(find "$dir" -maxdepth 1 -type f -printf '%s\n' | awk '{n += $1} END {print n}')"
like "emberctl status: cold, checkpointed, with its size" "$("$EMBERCTL" status $APP 2>&1)" \
        "cold \(checkpointed, $(((${bytes:-0} + 1023) / 1024)) KiB\)"
like "emberctl status --json: its bytes" "$("$EMBERCTL" status --json $APP 2>&1)" "\"checkpoint_bytes\": ?${bytes:-none}[,}]"
is "the bill: the run's end (idle-stop) counts the checkpoint's disk" \
        "$(journal_field $APP idle-stop EMBER_CHECKPOINT_BYTES)" "${bytes:-none}"
like "emberctl report --json: the largest checkpoint" "$("$EMBERCTL" report --json $APP 2>&1)" \
        "\"checkpoint_peak_bytes\":${bytes:-none}[,}]"
# metric NAME: its sample for the app in emberctl metrics ("" if none)
metric() { "$EMBERCTL" metrics $APP 2>/dev/null | awk -v n="$1{app=\"$APP\"}" '$1 == n {print $2}'; }
is "emberctl metrics: ember_checkpoint_bytes is its size, no restore yet" \
        "$(metric ember_checkpoint_bytes)/$(metric ember_restores_total)" "${bytes:-none}/0"

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
ok "the checkpoint was used up" test ! -e "$dir" -a ! -e "$dir.restoring"
restore_ms=$(journal_field $APP restore EMBER_RESTORE_MS)
is "emberctl metrics: one restore, in the restore histogram with its time, not in the cold start's; no disk" \
        "$(metric ember_restores_total) $(metric ember_restore_seconds_count) $(metric ember_restore_seconds_sum) $(metric ember_cold_start_seconds_count) $(metric ember_checkpoint_bytes)" \
        "1 1 $(printf '%d.%03d' $((${restore_ms:-0} / 1000)) $((${restore_ms:-0} % 1000))) 1 0"

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

# ---- the supervisor killed (SIGKILL) while it restores ------------------------------------------------------
# criu's own hook holds the restore half done: its action script (from /etc/criu/default.conf, there for this part
# only) waits at post-restore, when the backend's processes are back (with their old pid) but not yet resumed, for
# a FIFO nobody writes: until the kill ends it with the unit.
restored=${after_kill#*/}
restored=${restored% }
ok "idle again: checkpointed a fifth time" wait_until 120 checkpointed 5
criu_log_diag dump fifth
HOLD=/usr/local/lib/ember-vm/hold-restore FIFO=/run/ember-vm-hold-restore
HOLD_RE=ember-vm/hold-restor[e] # matches the hook, not the pgrep (or its shell) that looks for it
rm -f "$FIFO" && mkfifo -m 0600 "$FIFO"
printf '#!/bin/sh\n# tests/vm/checkpoint.sh: hold criu restore half done\n[ "$CRTOOLS_SCRIPT_ACTION" = post-restore ] || exit 0\nread -r _ <%s\n' \
        "$FIFO" >"$HOLD" && chmod 0755 "$HOLD"
mkdir -p /etc/criu && printf 'action-script %s\n' "$HOLD" >/etc/criu/default.conf
IFS=/ read -r restores failed colds <<<"$(starts)"
line_client $PORT count >"$T_TMP/held" &
held_client=$!
# restore_held: the backend unit's supervisor runs criu, which holds at post-restore, and pid $restored is back
restore_held() {
        local sup
        sup=$(unit_prop $APP-backend.service MainPID)
        [ "${sup:-0}" != 0 ] && pgrep -x criu -P "$sup" >/dev/null && pgrep -f "$HOLD_RE" >/dev/null && [ -d "/proc/$restored" ]
}
ok "a connection: the supervisor's criu restore is held half done (pid $restored back, not resumed)" wait_until 120 restore_held
rm -f /etc/criu/default.conf
systemctl kill -s KILL --kill-whom=main $APP-backend.service
wait "$held_client"
is "the connection that waited is served, by a cold start (a fresh counter)" "$(cat "$T_TMP/held")" 1
is "no restore, one restore-failed, one cold start more" "$(starts)" "$restores/$((failed + 1))/$((colds + 1))"
like "which says the restore was cut short" \
        "$(journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=restore-failed | tail -n 1)" \
        "starting it cold instead: the last restore from the checkpoint was cut short"
ok "no criu, no hook and nothing of the half-restored backend is left" \
        sh -c "! pgrep -x criu && ! pgrep -f '$HOLD_RE' && [ ! -d /proc/$restored ]"
after_restore_kill="$(backend_pids)/$(state $APP backend.pid) "
is "one backend process, the app's" "${after_restore_kill%%/*}" "${after_restore_kill#*/}"
ok "no checkpoint is left, whole, half-made or half-used ($dir, .new, .restoring)" \
        test ! -e "$dir" -a ! -e "$dir.new" -a ! -e "$dir.restoring"
counts_exact "after the kill during the restore" $APP
report=$("$EMBERCTL" report --json $APP 2>&1)
is "emberctl report: the restores, and the cold starts without them (those whose backend became ready)" \
        "$(grep -o '"cold_starts":[0-9]*,"restores":[0-9]*' <<<"$report")" \
        "\"cold_starts\":$(($(journal_events $APP ready) - $(journal_events $APP restore))),\"restores\":$(journal_events $APP restore)"
criu_log_diag restore held
rm -f "$FIFO" "$HOLD"
finish
