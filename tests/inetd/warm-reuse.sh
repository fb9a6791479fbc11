#!/bin/bash
# Warm reuse: while the backend is warm, later connections are served by the same backend process.
. "$(dirname "$0")/lib.sh"
need curl
plan 9
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
BACKEND_ARGS=(--mode=http)
ember_start

r1=$(curl -sS --max-time 15 "http://$ADDR/" 2>>"$LOG")
is "curl gets an answer from the cold backend" "$?" 0
like "the answer names the backend's pid" "$(lowercase <<<"$r1")" '^hello from [0-9]+$'
r2=$(curl -sS --max-time 15 "http://$ADDR/" 2>>"$LOG")
is "a second curl is answered by the same backend pid" "$r2" "$r1"
r3=$(client --send='GET / HTTP/1.0\r\n\r\n' "$ADDR" | tail -n1)
is "a third connection (raw HTTP/1.0) is answered by the same backend pid" "$r3" "$r1"
pid=${r1#hello from }
is "backend.pid is the pid that answered" "$(st backend.pid)" "$pid"
is "one cold start for three connections" "$(st cold-starts)" 1
is "one backend process for three connections" "$(backend_starts)" 1
ok "refcount returns to 0" wait_until 5 st_is refcount 0
is "connections counts all three" "$(st connections)" 3
finish
