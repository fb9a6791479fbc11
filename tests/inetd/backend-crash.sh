#!/bin/bash
# A backend that crashes mid-connection: the client sees EOF (or a reset) promptly instead of hanging, and the next
# connection gets a fresh backend.
. "$(dirname "$0")/lib.sh"
plan 11
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
BACKEND_ARGS=(--mode=echo --crash-after-bytes=100000)
ember_start

out=$(client --send='before\n' "$ADDR")
is "a small connection is served" "$out" before
bpid=$(st backend.pid)
ok "backend is running" alive "$bpid"

head -c 1M /dev/urandom >"$TEST_DIR/in"
t0=$(now_ms)
# no half-close: only the backend's death can end this connection
client --timeout=15s --no-shutdown --report --send-file="$TEST_DIR/in" --output="$TEST_DIR/out" "$ADDR" \
        2>"$TEST_DIR/report"
rc=$?
t1=$(now_ms)
diag "$(cat "$TEST_DIR/report")"
ok "the client sees EOF or a reset (exit $rc; 0 = EOF, 4 = reset, 3 = hung until its deadline)" \
        test "$rc" -eq 0 -o "$rc" -eq 4
cmp_ok "promptly (in $((t1 - t0)) ms; the client would wait 15 s)" $((t1 - t0)) -le 5000
cmp_ok "it got no more than the 100000 bytes relayed before the crash" "$(stat -c %s "$TEST_DIR/out")" -le 100000
ok "the crashed backend is gone" wait_until 5 dead "$bpid"
ok "the state goes cold" wait_until 5 st_is state cold
like "the supervisor logs the crash" "$(lowercase <"$LOG")" 'crash|signal|abort'

out=$(client --send='after\n' "$ADDR")
is "the next connection is served" "$out" after
bpid2=$(st backend.pid)
isnt "by a fresh backend (pid $bpid2, was $bpid)" "$bpid2" "$bpid"
is "cold-starts is 2" "$(st cold-starts)" 2
finish
