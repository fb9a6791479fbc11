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
is "$?" 0 "curl gets an answer from the cold backend"
like "$r1" '^hello from [0-9]+$' "the answer names the backend's pid"
r2=$(curl -sS --max-time 15 "http://$ADDR/" 2>>"$LOG")
is "$r2" "$r1" "a second curl is answered by the same backend pid"
r3=$(client --send='GET / HTTP/1.0\r\n\r\n' "$ADDR" | tail -n1)
is "$r3" "$r1" "a third connection (raw HTTP/1.0) is answered by the same backend pid"
pid=${r1#hello from }
is "$(st backend.pid)" "$pid" "backend.pid is the pid that answered"
is "$(st cold-starts)" 1 "one cold start for three connections"
is "$(backend_starts)" 1 "one backend process for three connections"
ok "refcount returns to 0" wait_until 5 st_is refcount 0
is "$(st connections)" 3 "connections counts all three"
