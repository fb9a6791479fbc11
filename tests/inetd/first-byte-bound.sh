#!/bin/bash
# --start-on=data's wait for the client's first byte is bounded by --idle-timeout, asleep: a silent client (one, or
# 50 at once) is closed after it, exit 0, nothing counted or started, next to no CPU; a client whose first byte comes
# later, within it, is served.
. "$(dirname "$0")/lib.sh"
plan 15
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --start-on=data --idle-timeout=2s)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

BOUND_MS=2000
CPU_MAX_MS=50   # /proc/PID/stat counts in 10 ms ticks
WAKEUPS_MAX=30

mark=$(log_lines)
t0=$(now_ms)
bg_client /dev/null --send='' --no-shutdown "$ADDR"
wait_until 10 spawned_count_is "$mark" 1
pid=$(spawned_since "$mark")
track "$pid"
wait_until 15 tracked_gone # generous; the bound is checked below
t1=$(now_ms)
cmp_ok "a silent client's launcher waits the whole --idle-timeout ($((t1 - t0)) ms)" $((t1 - t0)) -ge $((BOUND_MS - 100))
cmp_ok "and is gone within it and 1.5 s" $((t1 - t0)) -le $((BOUND_MS + 1500))
ok "it exits 0: nothing was asked" wait_until 5 exited_with "$pid" 0
cmp_ok "waiting cost $(tracked_max_cpu_ms) ms of CPU" "$(tracked_max_cpu_ms)" -lt $CPU_MAX_MS
cmp_ok "and $(tracked_max_wakeups) wake-ups" "$(tracked_max_wakeups)" -lt $WAKEUPS_MAX

N=50
mark=$(log_lines)
t0=$(now_ms)
bg_client /dev/null --parallel=$N --send='' --no-shutdown "$ADDR"
wait_until 20 spawned_count_is "$mark" $N
track $(spawned_since "$mark")
tracked_gone
is "$N silent clients hold $N launchers at once" "$TRACKED_THERE" $N
wait_until 30 tracked_gone
t1=$(now_ms)
cmp_ok "all are gone within --idle-timeout and 3 s ($((t1 - t0)) ms)" $((t1 - t0)) -le $((BOUND_MS + 3000))
is "each exited 0" "$(tail -n +"$((mark + 1))" "$LOG" | grep -c '^Child [0-9]* died with code 0$')" $N
cmp_ok "the most any one used: $(tracked_max_cpu_ms) ms of CPU" "$(tracked_max_cpu_ms)" -lt $CPU_MAX_MS
cmp_ok "and $(tracked_sum_wakeups) wake-ups together" "$(tracked_sum_wakeups)" -lt $((N * 10))
is "none was counted" "$(st connections)" ""
is "none started the backend" "$(backend_starts)" 0

out=$(client --delay=1s --send='late\n' "$ADDR")
is "a client whose first byte comes 1 s after it connects is served" "$out" late
is "by one cold start" "$(st cold-starts)" 1
is "one backend process" "$(backend_starts)" 1
finish
