#!/bin/bash
# Self-healing under a real systemd, kills: SIGKILL of the whole backend unit, of the supervisor alone, of the
# backend alone (what the kernel's OOM killer does; with a cgroup v2 memory controller also a real OOM kill under
# MemoryMax=), a stale supervisor.pid naming a live unrelated process, and systemd's TimeoutStopSec= expiring
# mid-stop. After each: the next connection is served
# within 2 s, the counts are exact, no orphan is left, and one journal line says what happened.
. "$(dirname "$0")/lib.sh"

sys_boot
# a real OOM kill needs a cgroup v2 memory controller in the container: 4 tests where there is one, 1 skip where not
memcg=
c grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null && memcg=1
if [ -n "$memcg" ]; then plan 41; else plan 38; fi
echo_app heal
warm() { [ "$(state $APP state)" = warm ]; }
backend_inactive() { [ "$(unit_prop $APP-backend.service ActiveState)" != active ] && [ "$(unit_prop $APP-backend.service ActiveState)" != deactivating ]; }
ok "warm" wait_until 5 warm

# ---- SIGKILL of the whole backend unit ------------------------------------------------------------------------
before=$(journal_events $APP stale-state)
c systemctl kill -s KILL $APP-backend.service
ok "unit SIGKILL: the backend unit is down" wait_until 10 backend_inactive
is "unit SIGKILL: the state file still says warm (nobody was left to say otherwise)" "$(state $APP state)" warm
like "unit SIGKILL: emberctl status shows the state as stale" "$(c "$EMBERCTL" status $APP)" "^$APP +cold \(stale 'warm'"
served_within 2000 "unit SIGKILL"
counts_exact "unit SIGKILL"
no_orphan "unit SIGKILL"
journal_once "unit SIGKILL" stale-state "$before"
is "unit SIGKILL: the state is warm again, with a new supervisor" "$(state $APP state):$(c "$EMBERCTL" status $APP --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["supervisor_running"])')" "warm:True"

# ---- SIGKILL of the supervisor alone ----------------------------------------------------------------------------
before=$(journal_events $APP stale-state)
spid=$(unit_prop $APP-backend.service MainPID)
bpid=$(state $APP backend.pid)
c kill -KILL "$spid"
gone() { ! c kill -0 "$1" 2>/dev/null; }
ok "supervisor SIGKILL: its backend dies with it (parent-death signal), at once" wait_until 2 gone "$bpid"
served_within 2000 "supervisor SIGKILL"
counts_exact "supervisor SIGKILL"
no_orphan "supervisor SIGKILL"
journal_once "supervisor SIGKILL" stale-state "$before"

# ---- the backend alone: what the OOM killer does -------------------------------------------------------------
before=$(journal_events $APP crash)
bpid=$(state $APP backend.pid)
c kill -KILL "$bpid"
served_within 2000 "backend SIGKILL (as by the OOM killer)"
counts_exact "backend SIGKILL"
no_orphan "backend SIGKILL"
journal_once "backend SIGKILL" crash "$before"
like "backend SIGKILL: the crash says how it ended" "$(c journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=crash | tail -n 1)" 'killed by signal KILL'

# ---- a real OOM kill, where the container has a cgroup v2 memory controller -------------------------------------
if [ -n "$memcg" ]; then
        c sh -c "mkdir -p /run/systemd/system/$APP-backend.service.d && printf '[Service]\nMemoryMax=64M\nMemorySwapMax=0\n' >/run/systemd/system/$APP-backend.service.d/oom.conf && systemctl daemon-reload"
        before=$(journal_events $APP crash)
        c systemctl stop $APP-backend.service
        served_within 5000 "OOM: a fresh backend under MemoryMax=64M"
        bpid=$(state $APP backend.pid)
        c sh -c "python3 -c 'b = bytearray(512 << 20)' & echo \$! > /sys/fs/cgroup/system.slice/$APP-backend.service/cgroup.procs" || true
        served_within 2000 "OOM"
        counts_exact "OOM"
        no_orphan "OOM"
else
        skip 1 "OOM: no cgroup v2 memory controller in this container (cgroup v1/hybrid host): MemoryMax= cannot apply; the OOM killer's SIGKILL of the backend is the case above"
fi

# ---- a stale supervisor.pid naming a live, unrelated process ---------------------------------------------------
c systemctl stop $APP-backend.service
ok "stopped: cold" wait_until 10 sh -c "[ \"\$(nsenter -t $C_PID -a cat /run/ember/$APP/state)\" = cold ]"
before=$(journal_events $APP stale-state)
c sh -c "echo warm >/run/ember/$APP/state && echo 1 >/run/ember/$APP/supervisor.pid"
c "$EMBERCTL" stop $APP >"$T_TMP/stop.out" 2>&1
like "stale supervisor.pid=1: emberctl stop asks systemd, finds the backend unit inactive, signals nobody" "$(cat "$T_TMP/stop.out")" '^heal is not running \(heal-backend.service is inactive\)'
is "stale supervisor.pid=1: PID 1 is still the container's systemd" "$(unit_prop $APP.socket ActiveState)" active
like "stale supervisor.pid=1: emberctl status shows the state as stale" "$(c "$EMBERCTL" status $APP)" "^$APP +cold \(stale 'warm'"
served_within 2000 "stale supervisor.pid"
counts_exact "stale supervisor.pid"
no_orphan "stale supervisor.pid"
journal_once "stale supervisor.pid" stale-state "$before"

# ---- systemd's TimeoutStopSec= expiring: the supervisor SIGKILLed in "stopping" -----------------------------------
# A backend that ignores SIGTERM, a supervisor told to wait for it forever, and a unit whose TimeoutStopSec= is 2 s:
# systemd SIGKILLs the whole unit mid-stop and "stopping" is left behind.
echo_app stuck --stop-timeout=infinity -- --ignore-sigterm
c sh -c "mkdir -p /run/systemd/system/$APP-backend.service.d && printf '[Service]\nTimeoutStopSec=2s\n' >/run/systemd/system/$APP-backend.service.d/timeout.conf && systemctl daemon-reload"
before=$(journal_events $APP stale-state)
c systemctl stop $APP-backend.service
is "TimeoutStopSec=: systemd gave up on the stop and killed the unit" "$(unit_prop $APP-backend.service Result)" timeout
is "TimeoutStopSec=: the state file still says stopping" "$(state $APP state)" stopping
served_within 2000 "TimeoutStopSec="
counts_exact "TimeoutStopSec="
no_orphan "TimeoutStopSec="
journal_once "TimeoutStopSec=" stale-state "$before"

tap_passing || { diag_journal heal; diag_journal stuck; }
finish
