#!/bin/bash
# Hostile clients never leak a count, a launcher or a backend: connect-and-close, 0 bytes then half-close,
# half-open forever (closed by --idle-timeout), and slowloris connections that do not block other clients.
. "$(dirname "$0")/../inetd/lib.sh"
plan 10
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --idle-timeout=2s)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

client --parallel=50 --connect-only "$ADDR" 2>>"$TEST_DIR/client.err"
is "50 connect-and-close clients" "$?" 0
ok "their launchers all exit" wait_until 10 launchers_gone
ok "refcount is back to 0" wait_until 5 st_is refcount 0

out=$(client --send='' "$ADDR")
is "a client that sends 0 bytes and half-closes gets EOF back" "$?/$out" "0/"

t0=$(now_ms)
client --timeout=20s --send='x' --no-shutdown --output=none "$ADDR"
rc=$?
t1=$(now_ms)
is "a half-open client that never closes is ended by the server side" "$rc" 0
cmp_ok "within --idle-timeout=2s plus slack ($((t1 - t0)) ms)" $((t1 - t0)) -le 6000
ok "and its count is released" wait_until 5 st_is refcount 0

# slowloris: 20 connections trickling a byte every second outlive several idle timeouts' worth of wall time
for i in $(seq 20); do
        (for k in 1 2 3 4 5; do printf 'x'; sleep 1; done) | "$CLIENT" --timeout=30s --send-file=/dev/stdin --output=none "$ADDR" &
        BG_PIDS+=($!)
done
sleep 1
out=$(client --timeout=5s --send='meanwhile\n' "$ADDR")
is "other clients are served while 20 slowloris connections trickle" "$out" meanwhile
fails=0
for p in "${BG_PIDS[@]}"; do wait "$p" || fails=$((fails + 1)); done
BG_PIDS=()
is "slowloris connections that keep sending are not cut (traffic resets the idle timeout)" "$fails" 0
ok "refcount is 0 once they are gone" wait_until 10 st_is refcount 0
finish
