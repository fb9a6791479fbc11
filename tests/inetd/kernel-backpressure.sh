#!/bin/bash
# Backpressure through the in-kernel relay: a client that sends without reading, to an echo backend, must soon be
# stopped by TCP, as through splice, instead of the kernel queueing whatever comes (before: all 512 MiB within a
# second). Once a direction's backlog passes 64 MiB the launcher has its source socket taken out of the program's
# map and relays that direction itself; every byte comes back in order once the client reads.
. "$(dirname "$0")/lib.sh"
need_kernel_relay
plan 5
need python3
kernel_relay_setup
export EMBER_DEBUG=1
ember_start

# Blocks of 64 KiB, each its index repeated: a byte lost, repeated or out of order shows as the wrong index.
cat >"$TEST_DIR/client.py" <<'PY'
import select, socket, struct, sys, time
port, total, quiet = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
BLOCK = 65536
def block(i): return struct.pack('>Q', i) * (BLOCK // 8)
s = socket.create_connection(("127.0.0.1", port))
s.setblocking(False)
sent, pending, nblock = 0, b"", 0
def send_some():
    global sent, pending, nblock
    if not pending and sent < total:
        pending, nblock = block(nblock), nblock + 1
    try:
        n = s.send(pending)
    except BlockingIOError:
        return
    sent += n
    pending = pending[n:]
deadline = time.monotonic() + quiet
while time.monotonic() < deadline and sent < total:
    select.select([], [s], [], 0.05)
    send_some()
print("quiet_sent=%d" % sent, flush=True)
got, buf, bad, shut = 0, b"", None, False
while True:
    if sent >= total and not pending and not shut:
        s.shutdown(socket.SHUT_WR)
        shut = True
    r, w, _ = select.select([s], [] if shut else [s], [], 30)
    if not r and not w:
        bad = bad or "timeout with %d received" % got; break
    if w: send_some()
    if r:
        d = s.recv(1 << 20)
        if not d: break
        buf += d
        while len(buf) >= BLOCK:
            if bad is None and buf[:BLOCK] != block(got // BLOCK):
                bad = "block %d is not what was sent" % (got // BLOCK)
            got += BLOCK; buf = buf[BLOCK:]
got += len(buf)
print("received=%d" % got)
print("verdict=%s" % (bad or "in order"))
PY
# Both directions are detached, and a detach can lose an skb (the kernel race in bench/README.md, made rare by
# quieting the sender): the launcher then resets the connection, never ends it as whole. Up to 3 tries.
resets=0
for try in 1 2 3; do
        detached0=$(grep -c 'sends faster than the .* takes' "$LOG")
        timeout 100 python3 "$TEST_DIR/client.py" "$PORT" $((1024 << 20)) 3 >"$TEST_DIR/out" 2>&1
        rc=$?
        grep -q ConnectionResetError "$TEST_DIR/out" || break
        resets=$((resets + 1))
        diag "try $try: reset (the detach race)"
done
is "the client's connection ends normally ($resets of the tries reset)" "$rc" 0
diag "$(tr '\n' ' ' <"$TEST_DIR/out")"
quiet=$(sed -n 's/^quiet_sent=//p' "$TEST_DIR/out")
ok "while it read nothing for 3 s, TCP stopped it after ${quiet:-?} bytes (at most 320 MiB of 1024)" \
        test "${quiet:-999999999999}" -le $((320 << 20))
is "all 1024 MiB came back" "$(sed -n 's/^received=//p' "$TEST_DIR/out")" $((1024 << 20))
is "every byte in order" "$(sed -n 's/^verdict=//p' "$TEST_DIR/out")" "in order"
like "the launcher took the backed-up directions out of the kernel" \
        "$(($(grep -c 'sends faster than the .* takes' "$LOG") - detached0))" '^[12]$'
finish
