#!/bin/bash
# The in-kernel relay (--relay=kernel, root): a connection's two sockets are in the supervisor's socket maps while it
# lives, its bytes go through both ways, and 1,000 short connections in a row leave no entry behind (the kernel
# takes a socket out of the maps as it closes).
. "$(dirname "$0")/lib.sh"
need_kernel_relay
plan 10
[ "$(id -u)" = 0 ] || skip_all "the in-kernel relay needs root (CAP_BPF, CAP_NET_ADMIN)"
ember_setup
SANDBOX_ARGS=(--idle=60s --policy=none)
# HTTP/1.0: the client never half-closes (a socket whose FIN has already arrived cannot join a socket map, and is
# spliced instead); the backend answers and closes, and its EOF is passed on.
BACKEND_ARGS=(--mode=http)
EMBER_TEST_RELAY=kernel
ember_start
REQUEST='GET / HTTP/1.0\r\n\r\n'

out=$(client --send="$REQUEST" --no-shutdown "$ADDR")
like "a request through the in-kernel relay is answered" "$out" "hello from [0-9]+"
grep -q "In-kernel relay ready" "$LOG" || skip_all "BPF sockmap unavailable here: $(grep -m1 'In-kernel relay' "$LOG")"
spid=$(st supervisor.pid)
is "the supervisor holds two socket maps" "$("$SOCKMAP" "$spid" | wc -l)" 2

bg_client "$TEST_DIR/held.out" --send='GET' --hold=infinity "$ADDR"
held=$!
# both sockets in both maps: peers and sources
ok "a live connection is in the maps (4 entries)" wait_until 10 relay_entries_are 4
kill -TERM "$held"
ok "and leaves them when it closes" wait_until 10 relay_entries_are 0

t0=$(now_ms)
refused0=$(grep -c "In-kernel relay refused" "$LOG")
client --repeat=1000 --timeout=300s --send="$REQUEST" --no-shutdown --output="$TEST_DIR/answers" "$ADDR" \
        2>>"$TEST_DIR/client.err"
is "1,000 short connections in a row end normally" "$?" 0
diag "1,000 connections in $(($(now_ms) - t0)) ms"
is "and all 1,000 were answered" "$(grep -c 'hello from' "$TEST_DIR/answers")" 1000
is "all of them in the kernel (none refused)" "$(($(grep -c "In-kernel relay refused" "$LOG") - refused0))" 0
ok "no entry left in the maps once their launchers are gone" wait_until 20 relay_entries_are 0

# 100 connections to relay.sock that never send their sockets (what a launcher that hangs, or a compromised one, can
# do): each costs the supervisor a short wait, then is closed, and the app keeps serving.
python3 - "$STATE/relay.sock" >"$TEST_DIR/silent.out" 2>&1 <<'PY' &
import signal, socket, sys
held = []
for _ in range(100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    held.append(s)
print("connected", flush=True)
signal.alarm(30)  # held until the test kills us (30 s at most)
signal.pause()
PY
silent=$!
wait_until 10 grep -q connected "$TEST_DIR/silent.out"
out=$(client --timeout=10s --send="$REQUEST" --no-shutdown "$ADDR")
like "with 100 silent connections to relay.sock, a request is still answered" "$out" "hello from [0-9]+"
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null
out=$(client --send="$REQUEST" --no-shutdown "$ADDR")
like "and the next one too" "$out" "hello from [0-9]+"
finish
