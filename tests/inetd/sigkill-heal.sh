#!/bin/bash
# Launchers killed with SIGKILL never run "leave"; the refcount must still come back to the true number of live
# connections within one idle period, and the backend must then stop after --idle.
. "$(dirname "$0")/lib.sh"
plan 13
ember_setup
SANDBOX_ARGS=(--idle=2s --policy=none)
ember_start

clients=()
for i in 1 2 3 4 5; do
        bg_client "$TEST_DIR/c$i.out" --send="c$i\n" --hold=infinity "$ADDR"
        clients+=($!)
done
ok "5 open connections: refcount 5" wait_until 10 st_is refcount 5
wait_until 5 launcher_count_is 5
launchers=($(launcher_pids))
is "5 launchers are running" "${#launchers[@]}" 5
bpid=$(st backend.pid)

kill -KILL "${launchers[0]}" "${launchers[1]}" "${launchers[2]}"
t0=$(now_ms)
clients_left_is() {
        local n=0 p
        for p in "${clients[@]}"; do alive "$p" && n=$((n + 1)); done
        [ "$n" -eq "$1" ]
}
ok "the clients of the 3 killed launchers see their connections end" wait_until 5 clients_left_is 2
ok "refcount heals to 2 within one idle period" wait_until 3 st_is refcount 2
diag "healed after $(($(now_ms) - t0)) ms"
is "refcount is 2" "$(st refcount)" 2
sleep 3 # the point: more than one idle period (--idle=2s) passes with 2 live connections
ok "the backend keeps running while 2 connections live (after more than --idle)" alive "$bpid"
is "refcount is still 2" "$(st refcount)" 2

kill -TERM "${clients[@]}" 2>/dev/null
ok "the remaining 2 connections close: refcount 0" wait_until 5 st_is refcount 0
ok "then the backend stops after --idle" wait_until 6 dead "$bpid"
is "state is cold" "$(st state)" cold

# all launchers killed at once: nobody ever leaves
clients=()
for i in 6 7 8; do
        bg_client "$TEST_DIR/c$i.out" --send="c$i\n" --hold=infinity "$ADDR"
        clients+=($!)
done
wait_until 10 st_is refcount 3
wait_until 5 launcher_count_is 3
bpid2=$(st backend.pid)
isnt "a new backend serves the new connections" "$bpid2" "$bpid"
kill -KILL $(launcher_pids)
ok "every launcher SIGKILLed: refcount heals to 0 within one idle period" wait_until 3 st_is refcount 0
ok "and the backend stops after --idle" wait_until 6 dead "$bpid2"
finish
