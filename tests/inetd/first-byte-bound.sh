#!/bin/bash
# --start-on=data's wait for the client's first byte is bounded by --idle-timeout, asleep: a silent client (one, or
# 50 at once) is closed after it, exit 0, nothing counted or started, next to no CPU; a client whose first byte comes
# later, within it, is served.
. "$(dirname "$0")/lib.sh"
plan 16
bound_app --start-on=data --idle-timeout=2s

BOUND_MS=2000
BOUND_NAME="--idle-timeout"
SLACK_MS=$(slack_ms 1500)   # exiting and being reaped, and our look every 50 ms, on a loaded 2-core machine
CPU_MAX_MS=$(cpu_budget_ms 50) # its start included; /proc/PID/stat counts in 10 ms ticks
WAKEUPS_MAX=30

# one silent client: its launcher ends at the bound with exit 0 (nothing was asked)
mark=$(log_lines)
bg_client /dev/null --send='' --no-shutdown "$ADDR"
wait_until 10 spawned_count_is "$mark" 1
bound_kept "a silent client" "$(spawned_since "$mark")" 0

N=50
mark=$(log_lines)
flood_bound_kept "silent clients" "$mark" $N --send=''
# (occurrences, not lines: writers of the log can run one line on into another)
is "each exited 0" "$(tail -n +"$((mark + 1))" "$LOG" | grep -o 'Child [0-9]* died with code 0' | wc -l)" $N
# The CPU of all of them, against the budget of one times N: one launcher's CPU, sampled in 10 ms ticks, reached 100 ms
# on a loaded machine (a pristine Debian 13 container running the suite) with the 50 woken 51 times in all. A waiter
# that loops is what the wake-ups show; the CPU check is that waiting costs next to nothing in all.
cmp_ok "together they used $(tracked_sum_cpu_ms) ms of CPU, under $CPU_MAX_MS ms each (the most one used: $(tracked_max_cpu_ms) ms)" \
        "$(tracked_sum_cpu_ms)" -lt $((N * CPU_MAX_MS))
cmp_ok "and $(tracked_sum_wakeups) wake-ups together" "$(tracked_sum_wakeups)" -lt $((N * 10))
is "none was counted" "$(st connections)" ""
is "none started the backend" "$(backend_starts)" 0

out=$(client --delay=1s --send='late\n' "$ADDR")
is "a client whose first byte comes 1 s after it connects is served" "$out" late
is "by one cold start" "$(st cold-starts)" 1
is "one backend process" "$(backend_starts)" 1
finish
