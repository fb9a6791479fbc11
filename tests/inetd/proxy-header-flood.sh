#!/bin/bash
# --accept-proxy-protocol under a flood of clients that send part of a header and go silent: 50 at once hold 50
# launchers for the 3 s bound and no longer, asleep (next to no CPU between them), each exiting 65; nothing is
# counted or woken, and a normal client is served right after (under systemd, MaxConnections= is free again).
. "$(dirname "$0")/lib.sh"
plan 9
BACKEND_ARGS=(--mode=echo --expect-proxy)
bound_app --accept-proxy-protocol --proxy-protocol=v2

N=50
BOUND_MS=3000
BOUND_NAME="the bound"
SLACK_MS=$(slack_ms 1500)  # exiting and being reaped, and our look at 50 of them, on a loaded 2-core machine

flood_bound_kept "silent clients with a partial header" "$(log_lines)" $N --send='PROXY TCP4 1.2.3.'
# (counted as occurrences, not lines: the launchers and systemd-socket-activate write the log at once, and a line
# of one can run on into the next line of another)
is "each exited 65" "$(grep -o 'Child [0-9]* died with code 65' "$LOG" | wc -l)" $N
# the 5 ms peek loop this replaces cost ~3 ms of CPU and ~200 wake-ups a second per launcher
# (their starts included: cpu_budget_ms)
# (not the most one used: sampled in 10 ms ticks, one launcher's reached 100 ms on a loaded machine; a looping
# waiter is what the wake-ups show)
cmp_ok "together they used $(tracked_sum_cpu_ms) ms of CPU (the most one used: $(tracked_max_cpu_ms) ms)" \
        "$(tracked_sum_cpu_ms)" -lt "$(cpu_budget_ms 250)"
cmp_ok "and $(tracked_sum_wakeups) wake-ups together" "$(tracked_sum_wakeups)" -lt $((N * 10))
is "none was counted" "$(st connections)" ""
is "none woke the backend" "$(backend_starts)" 0

is "a normal client is served right after" \
        "$(client --send='PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\nhello\n' "$ADDR")" "$(printf 'proxy v2 192.0.2.7:40000\nhello')"
finish
