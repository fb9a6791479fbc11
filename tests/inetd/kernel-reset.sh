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

t0=$(now_ms)
# --hold: open while the launcher hands the sockets over (a FIN before that and the connection is spliced)
client --timeout=20s --send='hello\n' --hold=1s "$ADDR" >"$TEST_DIR/out" 2>"$TEST_DIR/err"
rc=$?
ms=$(($(now_ms) - t0))
grep -q "In-kernel relay unavailable" "$LOG" && skip_all "BPF sockmap unavailable here: $(grep -m1 "In-kernel relay" "$LOG")"
is "the client's connection is reset, not ended (exit 4)" "$rc" 4
diag "reset after $ms ms: $(cat "$TEST_DIR/err")"
ok "after the 1 s hold and the 2 s the launcher waits for missing bytes, not much later (${ms} ms)" \
        test "$ms" -ge 2500 -a "$ms" -le 10000
is "and it got nothing" "$(stat -c %s "$TEST_DIR/out")" 0
is "the launcher says why, once" "$(grep -c 'in-kernel relay lost or repeated bytes of this connection; resetting it' "$LOG")" 1
ok "and exits 71" grep -q 'died with code 71' "$LOG"
ok "the connection's count is released" wait_until 5 st_is refcount 0
finish
