#!/bin/bash
# Upgrade with a HOST:auto backend (ember-sandbox --upgrade, what ExecReload= runs): a new generation starts on a
# port of its own beside the serving one, takes every new connection once ready, and the old one keeps its open
# connections until they close (or the drain timeout), then stops. A new generation that fails leaves the old one
# serving; an upgrade while another is starting is refused; a cold app has nothing to upgrade.
. "$(dirname "$0")/lib.sh"
plan 37
ember_setup
BACKEND_SPEC=127.0.0.1:auto
SANDBOX_ARGS=(--idle=30s --policy=none --drain-timeout=30s)
BACKEND_ARGS=(--mode=tag --tag=v1-{generation})
ember_start

# upgrade ARGS...: ember-sandbox --upgrade with the app's options and a backend given ARGS; its output in UP_OUT. The
# new generation's supervisor goes on with the same stdout and stderr (the journal, under systemd): a file here.
UP_N=0
upgrade() {
        local out=$TEST_DIR/upgrade.$((UP_N += 1)) rc
        "$SANDBOX" --app="$APP" --backend="$BACKEND_SPEC" "${SANDBOX_ARGS[@]}" "${UP_SANDBOX_ARGS[@]}" --upgrade -- \
                "$BACKEND" --listen=127.0.0.1:{port} --pid-log="$TEST_DIR/backend-pids" "$@" >"$out" 2>&1
        rc=$?
        UP_OUT=$(cat "$out")
        return $rc
}
UP_SANDBOX_ARGS=()
# long-lived connections: open_long NAME; talk NAME MSG prints the reply line
declare -A LONG_FD
open_long() { local fd; exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && LONG_FD[$1]=$fd; }
talk() { local line; echo "$2" >&"${LONG_FD[$1]}" && read -t 10 -r line <&"${LONG_FD[$1]}"; echo "$line"; }
close_long() { local fd=${LONG_FD[$1]}; exec {fd}>&-; }
serving_generation() { cut -d' ' -f1 "$STATE/serving"; }

is "the first connection reaches generation 1 on a port of its own ({port}, {generation})" \
        "$(client --send='hi\n' "$ADDR")" "v1-1 hi"
like "the serving file names generation 1 and its port" "$(cat "$STATE/serving")" '^1 127\.0\.0\.1:[0-9]+$'
like "gen-1 records it" "$(cat "$STATE/gen-1")" 'port=[0-9]+ backend_pid=[0-9]+ supervisor_pid=[0-9]+'
gen1_sup=$(st supervisor.pid)
gen1_backend=$(st backend.pid)
open_long a
is "a long-lived connection is on generation 1" "$(talk a one)" "v1-1 one"

upgrade --mode=tag --tag=v2-{generation}
is "the upgrade returns 0 once generation 2 serves" "$?" 0
like "and says so" "$UP_OUT" 'generation 2 serves on 127\.0\.0\.1:[0-9]+ .*generation 1 drains'
is "the serving file names generation 2" "$(serving_generation)" 2
isnt "on another port than generation 1's" "$(cut -d' ' -f2 "$STATE/serving")" "127.0.0.1:$(sed 's/.*port=\([0-9]*\).*/\1/' "$STATE/gen-1")"
is "a new connection reaches generation 2" "$(client --send='new\n' "$ADDR")" "v2-2 new"
is "the long-lived connection stays on generation 1" "$(talk a two)" "v1-1 two"
ok "generation 1's supervisor still runs, draining" alive "$gen1_sup"
ok "and so does its backend" alive "$gen1_backend"
is "the refcount is the total of live connections" "$(st refcount)" 1
is "the state stays warm" "$(st state)" warm
is "supervisor.pid names generation 2's supervisor now" "$(st supervisor.pid)" "$(sed 's/.*supervisor_pid=\([0-9]*\).*/\1/' "$STATE/gen-2")"

close_long a
ok "generation 1 stops once its last connection closed" wait_until 5 dead "$gen1_sup"
ok "its backend is gone" dead "$gen1_backend"
ok "gen-1 is removed" test ! -e "$STATE/gen-1"
like "drained is logged" "$(cat "$TEST_DIR"/upgrade.* "$LOG")" 'drained after .*its last connection closed'
is "generation 2 still serves" "$(client --send='x\n' "$ADDR")" "v2-2 x"

# a new generation that fails to start: the serving one is untouched
starts_before=$(backend_starts)
upgrade --mode=tag --fail-start
is "a failing upgrade exits 69" "$?" 69
like "saying why, and that generation 2 keeps serving" "$UP_OUT" 'generation 3 failed: exited with status 3 before it was ready; generation 2 keeps serving'
is "its backend was started once" "$(backend_starts)" $((starts_before + 1))
is "generation 2 serves on" "$(client --send='y\n' "$ADDR")" "v2-2 y"
is "the serving file still names generation 2" "$(serving_generation)" 2
ok "gen-3 is removed" test ! -e "$STATE/gen-3"
like "upgrade-result keeps the reason" "$(cat "$STATE/upgrade-result")" 'generation 3 failed'

# one upgrade at a time: a second while one is starting is refused
upgrade --mode=tag --tag=v4-{generation} --ready-delay=3s &
slow=$!
wait_until 5 test -e "$STATE/gen-4"
upgrade --mode=tag --tag=v5-{generation}
is "an upgrade while another is starting exits 75" "$?" 75
like "saying which" "$UP_OUT" 'an upgrade of .* to generation 4 is in progress'
wait "$slow"
is "the slow upgrade itself succeeds" "$?" 0
is "and generation 4 serves" "$(client --send='z\n' "$ADDR")" "v4-4 z"

# the drain timeout closes what is still open
open_long b
is "a long-lived connection on generation 4" "$(talk b b1)" "v4-4 b1"
gen4_sup=$(st supervisor.pid)
UP_SANDBOX_ARGS=(--drain-timeout=1s)
upgrade --mode=tag --tag=v6-{generation}
ok "generation 4 stops at the drain timeout with a connection still open" wait_until 5 dead "$gen4_sup"
is "which was closed (EOF, not left hanging)" "$(talk b b2)" ""

# the serving generation killed while an older one drains: the next connection starts the app afresh, and the
# older one keeps its connection
open_long c
is "a long-lived connection on the serving generation (5: the refused upgrade took no number)" "$(talk c c1)" "v6-5 c1"
UP_SANDBOX_ARGS=()
upgrade --mode=tag --tag=v7-{generation}
gen6_sup=$(st supervisor.pid)
kill_ours -KILL "$gen6_sup"
wait_until 5 dead "$gen6_sup" # kill(2) returns before the process is gone: until then it still serves
is "generation 6's supervisor SIGKILLed: the next connection is served, by a fresh generation" \
        "$(client --send='after-kill\n' "$ADDR")" "v1-7 after-kill"
is "and generation 5 still serves its long-lived connection" "$(talk c c2)" "v6-5 c2"
finish
