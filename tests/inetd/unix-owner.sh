#!/bin/bash
# A unix backend's socket that is not the backend's user's (--backend-owner) is refused: the launcher does not
# connect, says so naming the path, the owner and the owner expected, closes the client (exit 77) and leaves no
# count behind. The same backend with the right owner is reached.
. "$(dirname "$0")/lib.sh"
plan 5
ember_setup
OTHER=$(($(id -u) == 65534 ? 65533 : 65534))
BACKEND_SPEC=$TEST_DIR/backend.sock
SANDBOX_ARGS=(--idle=60s --policy=none)
LAUNCH_ARGS=(--start-timeout=10s --backend-owner="$OTHER")
ember_start

is "a client of a backend whose socket is another user's gets nothing" "$(client --send='hello\n' "$ADDR" 2>&1)" ""
like "the launcher says why: path, owner and the owner expected" "$(cat "$LOG")" \
        "Refusing the backend's socket $(re_quote "$BACKEND_SPEC"): owned by uid $(id -u), expected uid $OTHER .*closing the client"
ok "it exits 77 with no count left behind" wait_until 10 eval \
        'grep -q "died with code 77" "$LOG" && st_is refcount 0 && launchers_gone'
is "only once: trying again changes nothing" "$(grep -c "Refusing the backend's socket" "$LOG")" 1

kill -TERM "$SA_PID" && wait_until 10 dead "$SA_PID" || bail "systemd-socket-activate did not stop"
LAUNCH_ARGS=(--start-timeout=10s --backend-owner="$(id -u)")
ember_start
is "with the owner it has, the backend is reached" "$(client --send='hello\n' "$ADDR")" hello
finish
