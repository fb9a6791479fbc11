#!/bin/bash
# 50 connections; launchers SIGKILLed at random moments, some while others are still connecting: the refcount equals
# the real number of live connections within one idle period, every live connection is still served, and the
# backend stops after --idle once all are gone.
. "$(dirname "$0")/lib.sh"
plan 7
ember_setup
SANDBOX_ARGS=(--idle=2s --policy=none)
ember_start

kill_random_launcher() {
        local l
        l=($(launcher_pids))
        [ ${#l[@]} -gt 0 ] && kill -KILL "${l[RANDOM % ${#l[@]}]}" 2>/dev/null
        return 0
}
clients=()
for i in $(seq 1 50); do
        bg_client "$TEST_DIR/c$i.out" --send="c$i\n" --hold=infinity "$ADDR"
        clients+=($!)
        [ $((RANDOM % 5)) -eq 0 ] && kill_random_launcher
done
for round in 1 2 3 4 5; do
        for ((j = RANDOM % 4; j >= 0; j--)); do kill_random_launcher; done
        sleep "0.$((RANDOM % 4))"
done
live_clients() {
        local n=0 p
        for p in "${clients[@]}"; do alive "$p" && n=$((n + 1)); done
        echo $n
}
ok "every client of a killed launcher sees its connection end" \
        wait_until 10 eval 'test "$(launcher_pids | wc -l)" -eq "$(live_clients)"'
live=$(live_clients)
diag "$live of 50 connections alive"
ok "refcount equals the $live live connections within one idle period" wait_until 3 st_is refcount "$live"
served=0
for i in $(seq 1 50); do
        alive "${clients[i - 1]}" && grep -qx "c$i" "$TEST_DIR/c$i.out" && served=$((served + 1))
done
is "every live connection was served" "$served" "$live"
bpid=$(st backend.pid)
ok "the backend runs while connections live" alive "$bpid"
kill -TERM "${clients[@]}" 2>/dev/null
ok "all closed: refcount 0" wait_until 5 st_is refcount 0
ok "the backend stops after --idle" wait_until 6 dead "$bpid"
is "state is cold" "$(st state)" cold
finish
