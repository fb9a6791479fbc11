#!/bin/bash
# A backend on a unix socket (ADDR given as an absolute path) is started and relayed to like a TCP one.
. "$(dirname "$0")/lib.sh"
plan 6
ember_setup
ember_start_unix() {
        PORT=$(pick_port)
        ADDR=127.0.0.1:$PORT
        BADDR=$TEST_DIR/backend.sock
        SA_CMD=(systemd-socket-activate --accept --inetd -l "$ADDR" -E EMBER_RUNTIME_DIR -E EMBER_DEBUG -E EMBER_POLICY_DIR
                "$LAUNCH" --app="$APP" --backend="$BADDR" --start-timeout=10s --
                "$SANDBOX" --app="$APP" --backend="$BADDR" --idle=30s --policy=none --
                "$BACKEND" --listen="$BADDR" --pid-log="$TEST_DIR/backend-pids" --mode=echo)
        setsid "${SA_CMD[@]}" >>"$LOG" 2>&1 </dev/null &
        SA_PID=$!
        wait_until 5 _sa_listening || bail "systemd-socket-activate did not listen on $ADDR"
}
ember_start_unix

out=$(client --send='over unix\n' "$ADDR")
is "a cold connection is relayed to the unix-socket backend" "$out" "over unix"
ok "the backend listens on $BADDR" test -S "$BADDR"
out=$(client --send='again\n' "$ADDR")
is "a warm connection too" "$out" again
is "one cold start" "$(st cold-starts)" 1
is "one backend process" "$(backend_starts)" 1
ok "TCP_NODELAY is skipped for the unix backend connection without a word" eval '! grep -q TCP_NODELAY "$LOG"'
finish
