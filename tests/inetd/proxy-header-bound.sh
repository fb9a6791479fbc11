#!/bin/bash
# --accept-proxy-protocol's bound against clients that hold the header back: however the bytes come (a partial
# header then silence, a byte a second), a launcher waits for the header at most 3 s from its start, asleep in
# poll() (next to no CPU, a wake-up per arriving piece), then exits 65 with one line saying why; nothing is counted
# or woken. A slow balancer whose header is complete within the 3 s is served.
. "$(dirname "$0")/lib.sh"
plan 21
BACKEND_ARGS=(--mode=echo --expect-proxy)
bound_app --accept-proxy-protocol --proxy-protocol=v2

BOUND_MS=3000
BOUND_NAME="the bound"
SLACK_MS=$(slack_ms 1500)   # exiting and being reaped, and our look every 50 ms, on a loaded 2-core machine
CPU_MAX_MS=$(cpu_budget_ms 50) # its start included; /proc/PID/stat counts in 10 ms ticks
WAKEUPS_MAX=30  # the 5 ms peek loop this replaces woke ~200 times a second
V2_SIG='\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a'
# v2 PROXY TCP4 203.0.113.9:51000 -> 198.51.100.2:443 (28 bytes)
V2_TCP4="$V2_SIG"'\x21\x11\x00\x0c\xcb\x00\x71\x09\xc6\x33\x64\x02\xc7\x38\x01\xbb'
# 44 bytes
V1_TCP4='PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\n'

# held_back DESC CLIENT_ARGS...: a client that does not complete its header in time. Its launcher lives the bound and is
# gone soon after (from its own start, which the bound counts from), exited 65, said why, and cost next to nothing.
held_back() {
        local desc=$1
        shift
        bg_client /dev/null "$@" "$ADDR"
        if ! wait_until 10 launcher_count_is 1; then
                not_ok "$desc: its launcher runs"
                skip 4 "no launcher to follow"
                return
        fi
        bound_kept "$desc" "$(launcher_pids)" 65
}

cp "$LOG" "$LOG.before"
held_back "'PROXY TCP4 1.2.3.' then silence" --send='PROXY TCP4 1.2.3.' --no-shutdown
held_back "a v2 header cut in its addresses, then silence" --send="${V2_TCP4:0:80}" --no-shutdown
held_back "a valid v1 header a byte a second" --send="${V1_TCP4}hello\\n" --interval=1s --chunk=1 --no-shutdown
new_log=$(diff "$LOG.before" "$LOG" | sed -n 's/^> //p')
is "each says why, once" "$(grep -o 'Invalid PROXY protocol header from 127\.0\.0\.1:[0-9]*: no complete PROXY header within the deadline' <<<"$new_log" | wc -l)" 3
is "none was counted" "$(st connections)" ""
is "none woke the backend" "$(backend_starts)" 0

# a slow balancer: the header in three pieces a second apart, complete at 2 s, then its client's bytes at 3 s
out=$(client --send="${V1_TCP4}hello\\n" --interval=1s --chunk=15 "$ADDR")
is "a v1 header in pieces a second apart, complete within the bound, is served" "$out" "$(printf 'proxy v2 192.0.2.7:40000\nhello')"
out=$(client --send="${V2_TCP4}v2 bytes\\n" --interval=1s --chunk=10 "$ADDR")
is "a v2 header too" "$out" "$(printf 'proxy v2 203.0.113.9:51000\nv2 bytes')"
is "both woke the backend once" "$(backend_starts)" 1
finish
