#!/bin/bash
# Every bad argument to ember-sandbox: a usage message on stderr naming the problem, exit code 64, nothing started.
. "$(dirname "$0")/lib.sh"
EMBER_TEST_DEADLINE=200
ember_setup

BPORT=$(pick_port)
BADDR=127.0.0.1:$BPORT
SRV=("$BACKEND" --listen="$BADDR" --pid-log="$TEST_DIR/backend-pids")
long=$(printf 'n%.0s' {1..65})

bad() {
        local desc=$1 needle=$2 rc
        shift 2
        timeout 5 "$SANDBOX" "$@" </dev/null >/dev/null 2>"$TEST_DIR/err"
        rc=$?
        expect_usage_failure "$desc" "$needle" "$rc"
}

A=(--app="$APP" --backend="$BADDR")
run_cases() {
bad "no arguments" "command"
bad "no COMMAND" "command" "${A[@]}" --idle=2s
bad "'--' without a COMMAND" "command" "${A[@]}" --
bad "standalone without a COMMAND" "command" --policy=none
bad "--app without --backend" "backend" --app="$APP" -- "${SRV[@]}"
bad "--backend without --app" "app" --backend="$BADDR" -- "${SRV[@]}"
bad "empty --app" "app" --app= --backend="$BADDR" -- "${SRV[@]}"
bad "--app with a leading '-'" "app" --app=-x --backend="$BADDR" -- "${SRV[@]}"
bad "--app=.." "app" --app=.. --backend="$BADDR" -- "${SRV[@]}"
bad "--app with '/'" "app" --app=../x --backend="$BADDR" -- "${SRV[@]}"
bad "--app with '@'" "app" --app=a@b --backend="$BADDR" -- "${SRV[@]}"
bad "--app of 65 chars" "app" --app="$long" --backend="$BADDR" -- "${SRV[@]}"
bad "garbage --backend" "backend" --app="$APP" --backend=garbage -- "${SRV[@]}"
bad "--backend port 0" "backend" --app="$APP" --backend=127.0.0.1:0 -- "${SRV[@]}"
bad "--backend port 65536" "backend" --app="$APP" --backend=127.0.0.1:65536 -- "${SRV[@]}"
bad "--backend bare IPv6" "backend" --app="$APP" --backend=::1:80 -- "${SRV[@]}"
bad "garbage --idle" "idle" "${A[@]}" --idle=soon -- "${SRV[@]}"
bad "negative --idle" "idle" "${A[@]}" --idle=-5s -- "${SRV[@]}"
bad "empty --idle" "idle" "${A[@]}" --idle= -- "${SRV[@]}"
bad "overflowing --idle" "idle" "${A[@]}" --idle=99999999999999999999s -- "${SRV[@]}"
bad "unknown --ready" "ready" "${A[@]}" --ready=later -- "${SRV[@]}"
bad "garbage --start-timeout" "start-timeout" "${A[@]}" --start-timeout=x -- "${SRV[@]}"
bad "--start-timeout=0" "start-timeout" "${A[@]}" --start-timeout=0 -- "${SRV[@]}"
bad "garbage --stop-timeout" "stop-timeout" "${A[@]}" --stop-timeout=x -- "${SRV[@]}"
bad "overflowing --stop-timeout" "stop-timeout" "${A[@]}" --stop-timeout=99999999999999999999s -- "${SRV[@]}"
bad "empty --policy" "policy" "${A[@]}" --policy= -- "${SRV[@]}"
bad "empty --user" "user" "${A[@]}" --user= -- "${SRV[@]}"
bad "--stop-timeout without its value" "stop-timeout" "${A[@]}" --stop-timeout
bad "unknown long option" "bogus" "${A[@]}" --bogus -- "${SRV[@]}"
bad "unknown short option" "-x" "${A[@]}" -x -- "${SRV[@]}"
bad "stray argument before --" "stray" "${A[@]}" stray -- "${SRV[@]}"
}
plan $((3 * $(grep -c '^bad ' "$0"))) # 3 checks per case
run_cases
finish
