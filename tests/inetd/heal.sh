#!/bin/bash
# Self-healing in inetd mode (no systemd as the parent): the supervisor SIGKILLed alone (its backend dies with it,
# the stale "warm" is repaired by the next launcher), a stale supervisor.pid naming a live unrelated process, the
# state directory deleted while warm, and a backend that exits 0 by itself. After each: the next connection is
# served, the refcount is exact, no orphan is left, one log line says what happened.
. "$(dirname "$0")/lib.sh"
plan 36
ember_setup
SANDBOX_ARGS=(--idle=60s --policy=none)
# The backend exits 0 by itself once $TEST_DIR/quit exists.
BACKEND_ARGS=(--mode=echo --exit-on="$TEST_DIR/quit")
ember_start

served() { [ "$(client --timeout=5s --send="$1\n" "$ADDR")" = "$1" ]; }
live_backends() { # backend processes of this test still running
        local n=0 p
        for p in $(backend_pids); do alive "$p" && n=$((n + 1)); done
        echo "$n"
}
supervisor_alive() { alive "$(st supervisor.pid)"; }
log_count() { grep -c -- "$1" "$LOG"; }

ok "cold start: served" served first
ok "and warm" wait_until 5 st_is state warm

# ---- the supervisor SIGKILLed alone -------------------------------------------------------------------------------
spid=$(st supervisor.pid)
bpid=$(backend_pids | tail -n 1)
before=$(log_count "State 'warm' had no live supervisor")
kill_ours -KILL "$spid"
ok "supervisor SIGKILL: its backend dies with it" wait_until 2 dead "$bpid"
is "supervisor SIGKILL: the state file still says warm" "$(st state)" warm
ok "supervisor SIGKILL: the next connection is served" served second
is "supervisor SIGKILL: one log line says the state was stale" "$(($(log_count "State 'warm' had no live supervisor") - before))" 1
ok "supervisor SIGKILL: refcount back to 0" wait_until 5 st_is refcount 0
is "supervisor SIGKILL: one backend runs, no orphan" "$(live_backends)" 1

# ---- a stale supervisor.pid naming a live, unrelated process ------------------------------------------------------
sleep 300 &
decoy=$!
BG_PIDS+=("$decoy")
spid=$(st supervisor.pid)
kill_ours -KILL "$spid"
ok "a second supervisor SIGKILLed" wait_until 2 dead "$spid"
echo "$decoy" >"$STATE/supervisor.pid"
before=$(log_count "State 'warm' had no live supervisor")
ok "stale supervisor.pid: the next connection is served" served third
is "stale supervisor.pid: one log line says the state was stale" "$(($(log_count "State 'warm' had no live supervisor") - before))" 1
ok "stale supervisor.pid: the unrelated process was left alone" alive "$decoy"
ok "stale supervisor.pid: refcount back to 0" wait_until 5 st_is refcount 0
is "stale supervisor.pid: one backend runs, no orphan" "$(live_backends)" 1

# ---- the state directory deleted while warm ----------------------------------------------------------------------
spid=$(st supervisor.pid)
bpid=$(backend_pids | tail -n 1)
rm -rf "$STATE"
ok "state dir deleted: the supervisor stops its backend within 2 s" wait_until 2 dead "$bpid"
ok "state dir deleted: and exits" wait_until 5 dead "$spid"
like "state dir deleted: the supervisor says why" "$(lowercase <"$LOG")" 'state directory was removed or replaced'
ok "state dir deleted: the next connection is served" served fourth
ok "state dir deleted: refcount back to 0" wait_until 5 st_is refcount 0
is "state dir deleted: one backend runs, no orphan" "$(live_backends)" 1

# ---- a second supervisor started by hand ------------------------------------------------------------------------------
ino() { stat -c %i "$STATE/wake.sock" 2>/dev/null; }
before=$(ino)
"$SANDBOX" --app="$APP" --backend="$BADDR" --policy=none -- "$BACKEND" --listen="$BADDR" >"$TEST_DIR/second.out" 2>&1
is "a second supervisor started by hand while one runs is refused (69)" "$?" 69
like "and says so" "$(lowercase <"$TEST_DIR/second.out")" 'another ember-sandbox .* already supervises'
is "and leaves wake.sock alone (it used to replace it with its own, then die)" "$(ino)" "$before"
ok "the app is still served" served sixth

# ---- the state directory replaced by a symlink to itself -----------------------------------------------------------
spid=$(st supervisor.pid)
bpid=$(backend_pids | tail -n 1)
mv "$STATE" "$STATE.real" && ln -s "$STATE.real" "$STATE"
ok "symlink swap: the supervisor sees the directory replaced and stops its backend within 2 s" wait_until 2 dead "$bpid"
ok "symlink swap: and exits" wait_until 5 dead "$spid"
rm -f "$STATE" && mv "$STATE.real" "$STATE"
ok "swapped back: the next connection is served" served seventh

# ---- something else on the backend's address -------------------------------------------------------------------------
spid=$(st supervisor.pid)
kill_ours -TERM "$spid"
ok "stopped" wait_until 5 st_is state cold
"$BACKEND" --listen="$BADDR" --mode=echo >/dev/null 2>&1 &
squatter=$!
BG_PIDS+=("$squatter")
wait_until 5 port_listening "$BPORT"
is "a squatter on the backend's address: the connection is closed" "$(client --timeout=10s --send='x\n' "$ADDR")" ""
like "and the supervisor says why instead of calling the squatter ready, naming it" "$(lowercase <"$LOG")" \
        "port $BPORT is taken by (pid $squatter \\(ember-test-back\\)|a process) of uid $(id -u)" # not dumpable: seen by root
kill -KILL "$squatter"
wait "$squatter" 2>/dev/null
ok "once it is gone the next connection is served" wait_until 5 served eighth

# ---- the backend exits 0 by itself ---------------------------------------------------------------------------------
before=$(log_count 'Backend exit after')
touch "$TEST_DIR/quit"
ok "exit 0: the app goes cold" wait_until 5 st_is state cold
is "exit 0: one log line says the backend exited" "$(($(log_count 'Backend exit after') - before))" 1
is "exit 0: not counted as a crash" "$(st crashes)" 0
ok "exit 0: the next connection is served" served fifth
is "exit 0: one backend runs, no orphan" "$(live_backends)" 1
finish
