#!/bin/bash
# The in-kernel relay losing bytes: the test build of the supervisor (ember-sandbox-test, EMBER_TEST_RELAY_DROP_FIRST)
# builds a program that drops each socket's first skb. The launcher finds the client's bytes missing at the backend
# once the client half-closes and nothing more came for 2 s, and resets both connections instead of ending them
# with a FIN, so that neither side takes the damaged stream for a complete one; it says so once and exits 71.
. "$(dirname "$0")/lib.sh"
need_kernel_relay
plan 6
SANDBOX=$top_builddir/sandbox/ember-sandbox-test
[ -x "$SANDBOX" ] || bail "$SANDBOX is not built (make check builds it)"
kernel_relay_setup
export EMBER_TEST_RELAY_DROP_FIRST=1
SA_ENV=(-E EMBER_TEST_RELAY_DROP_FIRST)
ember_start

# held open until the launcher has handed the sockets over (a FIN before that and the connection is spliced), then
# released (SIGUSR1): the client half-closes, and the launcher's wait for the missing bytes begins
"$CLIENT" --timeout=20s --send='hello\n' --hold=infinity "$ADDR" >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
held=$!
BG_PIDS+=("$held")
wait_until 10 run_begun
grep -q "In-kernel relay unavailable" "$LOG" && skip_all "BPF sockmap unavailable here: $(grep -m1 "In-kernel relay" "$LOG")"
wait_until 10 relay_entries_are 4
t0=$(now_ms)
kill -USR1 "$held"
wait "$held"
rc=$?
ms=$(($(now_ms) - t0))
is "the client's connection is reset, not ended (exit 4)" "$rc" 4
diag "reset $ms ms after its FIN: $(cat "$TEST_DIR/err")"
ok "after the 2 s the launcher waits for missing bytes once the client half-closed, not much later (${ms} ms)" \
        test "$ms" -ge 2000 -a "$ms" -le 9000
is "and it got nothing" "$(stat -c %s "$TEST_DIR/out")" 0
is "the launcher says why, once" "$(grep -c 'in-kernel relay lost or repeated bytes of this connection; resetting it' "$LOG")" 1
ok "and exits 71" grep -q 'died with code 71' "$LOG"
ok "the connection's count is released" wait_until 5 st_is refcount 0
finish
