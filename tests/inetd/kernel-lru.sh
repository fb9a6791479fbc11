#!/bin/bash
# The verdict program's own map ("flows": where each relayed socket's bytes end) is an LRU hash that nobody deletes
# from. Here it is made smaller than the number of live sockets (the test build's EMBER_TEST_RELAY_FLOWS=8, 32 live
# sockets), so that the LRU takes entries from sockets still relaying: every transfer must still come back intact
# (an entry made again only loses the memory needed to cut a retransmission's repeated head).
. "$(dirname "$0")/lib.sh"
need_kernel_relay
plan 5
SANDBOX=$top_builddir/sandbox/ember-sandbox-test
[ -x "$SANDBOX" ] || bail "$SANDBOX is not built (make check builds it)"
kernel_relay_setup
export EMBER_TEST_RELAY_FLOWS=8
SA_ENV=(-E EMBER_TEST_RELAY_FLOWS)
ember_start

# held open until the launcher has handed the sockets over (a FIN before that and the connection is spliced), then
# released (SIGUSR1)
bg_client "$TEST_DIR/first.out" --send='x\n' --hold=infinity "$ADDR"
first=${BG_PIDS[-1]}
wait_until 10 run_begun
spid=$(st supervisor.pid)
grep -q "In-kernel relay unavailable" "$LOG" && skip_all "BPF sockmap unavailable here: $(grep -m1 "In-kernel relay" "$LOG")"
wait_until 10 relay_entries_are 4
kill -USR1 "$first"
wait "$first"
is "a first echo through the in-kernel relay" "$(cat "$TEST_DIR/first.out")" x
flows() { "$SOCKMAP" --flows "$spid" | sed -n 's/.*entries=//p'; }
is "its two sockets made two entries in the flows map" "$(flows)" 2

head -c 4M /dev/urandom >"$TEST_DIR/in" || bail "cannot create 4 MiB of random data"
refused0=$(grep -c "In-kernel relay refused" "$LOG")
client --timeout=120s --parallel=16 --send-file="$TEST_DIR/in" --expect-echo "$ADDR" 2>"$TEST_DIR/err"
is "16 concurrent 4 MiB echoes (32 relayed sockets, 8 entries) all come back intact" "$?" 0
diag "$(tail -3 "$TEST_DIR/err")"
is "all of them in the kernel (none refused)" "$(($(grep -c "In-kernel relay refused" "$LOG") - refused0))" 0
n=$(flows)
ok "the map never held more than its 8 entries (now ${n:-?}), so the LRU took them from live sockets" test "${n:-99}" -le 8
finish
