#!/bin/bash
# --accept-proxy-protocol and --proxy-protocol: the launcher reads an upstream balancer's PROXY v1 or v2 header
# strictly before anything is woken, and tells the backend the client's real address in a header of its own. A
# health check (a v2 LOCAL header, then close) wakes nothing; a malformed, partial or missing header closes the
# connection with one line saying why, and the backend neither starts nor sees a byte.
. "$(dirname "$0")/lib.sh"
plan 18
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --accept-proxy-protocol --proxy-protocol=v2)
SANDBOX_ARGS=(--idle=30s --policy=none)
BACKEND_ARGS=(--mode=echo --expect-proxy)
ember_start

V2_SIG='\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a'
# a v2 LOCAL header, family UNSPEC, no addresses: what HAProxy's health checks with send-proxy-v2 send
V2_LOCAL="$V2_SIG"'\x20\x00\x00\x00'
# v2 PROXY TCP4 203.0.113.9:51000 -> 198.51.100.2:443
V2_TCP4="$V2_SIG"'\x21\x11\x00\x0c\xcb\x00\x71\x09\xc6\x33\x64\x02\xc7\x38\x01\xbb'
starts() { backend_starts; }

# health checks wake nothing, with --start-on=connect too
for i in 1 2 3; do client --send="$V2_LOCAL" --output=none "$ADDR"; done
ok "three v2 LOCAL health checks: their launchers exit (nothing of them can start a backend after)" \
        wait_until 5 launchers_gone
is "three v2 LOCAL health checks (header, then close) start no backend" "$(starts)" 0
is "and leave the state cold" "$(st state)" ""

is "a v1 header's client address reaches the backend in a v2 header" \
        "$(client --send='PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\nhello\n' "$ADDR")" "$(printf 'proxy v2 192.0.2.7:40000\nhello')"
is "that woke the backend once" "$(starts)" 1
is "a v2 header's client address too" "$(client --send="${V2_TCP4}v2 bytes\\n" "$ADDR")" "$(printf 'proxy v2 203.0.113.9:51000\nv2 bytes')"
is "a v2 LOCAL header followed by data: the connection's own address" \
        "$(client --send="${V2_LOCAL}local\\n" "$ADDR" | sed 's/127\.0\.0\.1:[0-9]*/127.0.0.1:PORT/')" "$(printf 'proxy v2 127.0.0.1:PORT\nlocal')"
is "an IPv6 client" "$(client --send='PROXY TCP6 2001:db8::5 2001:db8::1 1234 80\r\nsix\n' "$ADDR")" "$(printf 'proxy v2 [2001:db8::5]:1234\nsix')"

# what must be refused: the backend sees nothing of it
conns_before=$(st connections)
: >"$LOG.mark"
cp "$LOG" "$LOG.before"
is "a request without a header is closed" "$(client --send='GET / HTTP/1.0\r\n\r\n' "$ADDR")" ""
is "a header that is not one (PROXY TCP5) is closed" "$(client --send='PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n' "$ADDR")" ""
is "a v1 line longer than 107 bytes is closed" "$(client --send="PROXY TCP4 1.2.3.4 5.6.7.8 1 2$(printf '%0100d' 0)\r\n" "$ADDR")" ""
is "a header cut short by a close is closed" "$(client --send='PROXY TCP4 192.0.2.7 19' "$ADDR")" ""
t0=$(now_ms)
is "a client that sends nothing is closed after the header deadline" "$(client --send='' --no-shutdown "$ADDR")" ""
t1=$(now_ms)
cmp_ok "after about 3 s ($((t1 - t0)) ms)" $((t1 - t0)) -ge 2900
is "none of them reached the backend: no connection was counted" "$(st connections)" "$conns_before"
new_log=$(diff "$LOG.before" "$LOG" | sed -n 's/^> //p')
like "the missing signature is said" "$new_log" 'Invalid PROXY protocol header from 127\.0\.0\.1:[0-9]+: no PROXY signature'
like "the cut-short header is said" "$new_log" 'Invalid PROXY protocol header from 127\.0\.0\.1:[0-9]+: .*closed in the middle'
is "each refusal is one line" "$(grep -c 'Invalid PROXY protocol header' <<<"$new_log")" 5
finish
