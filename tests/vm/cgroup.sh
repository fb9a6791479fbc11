#!/bin/bash
# What only cgroup v2 shows: every controller is there, the backend unit's cgroup holds the supervisor and the
# backend, and emberctl metrics reads the live run's figures from it (memory.peak, cpu.stat usage_usec, sampled by
# the supervisor every second): they agree with the cgroup's own files while the backend is warm.
. "$(dirname "$0")/lib.sh"
plan 10

controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
diag "cgroup.controllers: $controllers"
missing=
for c in cpu memory io pids; do [[ " $controllers " == *" $c "* ]] || missing="$missing $c"; done
is "cgroup v2 with the cpu, memory, io and pids controllers" "${missing:-none missing}" "none missing"

APP=cg PORT=18101 BPORT=18102
MiB=$((1 << 20))
ok "app $APP is up (emberctl new --now)" app_new $APP --listen=127.0.0.1:$PORT --backend=127.0.0.1:$BPORT --idle=60s -- \
        /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT
is "the backend touched 32 MiB" "$(line_client $PORT "eat 32")" "ate 32"
cg=/sys/fs/cgroup/system.slice/$APP-backend.service
bpid=$(state $APP backend.pid)
spid=$(unit_prop $APP-backend.service MainPID)
procs=$(cat $cg/cgroup.procs 2>/dev/null | tr '\n' ' ')
ok "the backend unit's cgroup holds the supervisor ($spid) and the backend ($bpid): $procs" \
        test -n "$bpid" -a -n "$(grep -x "$bpid" $cg/cgroup.procs)" -a -n "$(grep -x "$spid" $cg/cgroup.procs)"

metric() { "$EMBERCTL" metrics $APP | sed -n "s/^$1{app=\"$APP\"} //p"; }
peak_agrees() { [ "$(metric ember_backend_memory_peak_bytes)" = "$(cat $cg/memory.peak)" ]; }
ok "ember_backend_memory_peak_bytes is the cgroup's memory.peak" wait_until 15 peak_agrees
m=$(metric ember_backend_memory_peak_bytes)
diag "memory.peak $(cat $cg/memory.peak), metric $m ($((${m:-0} / MiB)) MiB)"
cmp_ok "which is at least the 32 MiB touched" "${m:-x}" -ge $((32 * MiB))
cmp_ok "and at most 64 MiB" "${m:-x}" -le $((64 * MiB))
usage() { sed -n 's/^usage_usec //p' $cg/cpu.stat; }
# the supervisor samples every second: within 0.2 s of the cgroup's figure at some look
cpu_agrees() {
        local u m
        u=$(usage)
        m=$(metric ember_backend_cpu_seconds_total | awk '{ printf "%d", $1 * 1000000 }')
        [ -n "$m" ] && [ $((u - m)) -le 200000 ] && [ $((m - u)) -le 200000 ]
}
ok "ember_backend_cpu_seconds_total follows cpu.stat usage_usec (within 0.2 s)" wait_until 15 cpu_agrees
diag "cpu.stat usage_usec $(usage), metric $(metric ember_backend_cpu_seconds_total) s"
like "emberctl status: warm, the backend's pid" "$("$EMBERCTL" status $APP)" "^$APP +warm .*$bpid"
is "emberctl stop: cold" "$("$EMBERCTL" stop $APP >/dev/null 2>&1; state $APP state)" cold
finish
