#!/bin/bash
# --start-on=data's wait for the client's first byte is bounded by --idle-timeout, asleep: a silent client (one, or
# 50 at once) is closed after it, exit 0, nothing counted or started, next to no CPU; a client whose first byte comes
# later, within it, is served.
. "$(dirname "$0")/lib.sh"
plan 16
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --start-on=data --idle-timeout=2s)
SANDBOX_ARGS=(--idle=30s --policy=none)
timed_lives
ember_start

BOUND_MS=2000
SLACK_MS=$(slack_ms 1500)   # exiting and being reaped, and our look every 50 ms, on a loaded 2-core machine
CPU_MAX_MS=$(cpu_budget_ms 50) # its start included; /proc/PID/stat counts in 10 ms ticks
WAKEUPS_MAX=30

mark=$(log_lines)
bg_client /dev/null --send='' --no-shutdown "$ADDR"
wait_until 10 spawned_count_is "$mark" 1
pid=$(spawned_since "$mark")
track "$pid"
wait_until 15 tracked_gone # generous; the bound is checked below
cmp_ok "a silent client's launcher waits the whole --idle-timeout (lived $(tracked_max_life_ms) ms)" \
        "$(tracked_min_life_ms)" -ge $((BOUND_MS - 20))
cmp_ok "and is gone within it and $SLACK_MS ms" "$(tracked_max_life_ms)" -le $((BOUND_MS + SLACK_MS))
ok "it exits 0: nothing was asked" wait_until 5 exited_with "$pid" 0
cmp_ok "waiting cost $(tracked_max_cpu_ms) ms of CPU" "$(tracked_max_cpu_ms)" -lt $CPU_MAX_MS
cmp_ok "and $(tracked_max_wakeups) wake-ups" "$(tracked_max_wakeups)" -lt $WAKEUPS_MAX

N=50
mark=$(log_lines)
t0=$(now_ms)
bg_client /dev/null --parallel=$N --send='' --no-shutdown "$ADDR"
track
ok "$N silent clients get $N launchers" wait_until 30 track_spawned "$mark" $N
wait_until 40 tracked_gone
t1=$(now_ms)
diag "the last was gone $((t1 - t0)) ms after the first connect"
cmp_ok "each is gone within --idle-timeout and $SLACK_MS ms of its start (at most $(tracked_max_life_ms) ms)" \
        "$(tracked_max_life_ms)" -le $((BOUND_MS + SLACK_MS))
cmp_ok "none is cut before --idle-timeout (the least one lived: $(tracked_min_life_ms) ms)" "$(tracked_min_life_ms)" \
        -ge $((BOUND_MS - 20))
# (occurrences, not lines: writers of the log can run one line on into another)
is "each exited 0" "$(tail -n +"$((mark + 1))" "$LOG" | grep -o 'Child [0-9]* died with code 0' | wc -l)" $N
cmp_ok "the most any one used: $(tracked_max_cpu_ms) ms of CPU" "$(tracked_max_cpu_ms)" -lt $CPU_MAX_MS
cmp_ok "and $(tracked_sum_wakeups) wake-ups together" "$(tracked_sum_wakeups)" -lt $((N * 10))
is "none was counted" "$(st connections)" ""
is "none started the backend" "$(backend_starts)" 0

out=$(client --delay=1s --send='late\n' "$ADDR")
is "a client whose first byte comes 1 s after it connects is served" "$out" late
is "by one cold start" "$(st cold-starts)" 1
is "one backend process" "$(backend_starts)" 1
finish
