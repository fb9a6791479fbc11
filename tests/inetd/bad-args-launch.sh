#!/bin/bash
# Every bad argument to ember-launch: a usage message on stderr naming the problem, exit code 64, nothing started.
# Each run gets a real connected socket on fd 0, so an argument accepted by mistake would go on to start the backend.
. "$(dirname "$0")/lib.sh"
EMBER_TEST_DEADLINE=200
ember_setup

launch_usage_fixture
long=$(printf 'n%.0s' {1..65})
longpath=/$(printf 'p%.0s' {1..200})

# bad DESC NEEDLE ARG...: NEEDLE must appear in stderr (case-insensitive, fixed string)
bad() {
        local desc=$1 needle=$2 rc
        shift 2
        exec 5<>"/dev/tcp/127.0.0.1/$HPORT" || bail "cannot connect to the helper listener"
        timeout 5 "$LAUNCH" "$@" <&5 >/dev/null 2>"$TEST_DIR/err"
        rc=$?
        exec 5<&-
        expect_usage_failure "$desc" "$needle" "$rc"
}

run_cases() {
bad "no arguments" "--app"
bad "missing --app" "--app" --backend="$BADDR" -- "${CMD[@]}"
bad "missing --backend" "--backend" --app="$APP" -- "${CMD[@]}"
bad "empty --app" "app" --app= --backend="$BADDR" -- "${CMD[@]}"
bad "--app with a leading '-'" "app" --app=-x --backend="$BADDR" -- "${CMD[@]}"
bad "--app=." "app" --app=. --backend="$BADDR" -- "${CMD[@]}"
bad "--app=.." "app" --app=.. --backend="$BADDR" -- "${CMD[@]}"
bad "--app with '/'" "app" --app=a/b --backend="$BADDR" -- "${CMD[@]}"
bad "--app with '@'" "app" --app=a@b --backend="$BADDR" -- "${CMD[@]}"
bad "--app with a space" "app" "--app=a b" --backend="$BADDR" -- "${CMD[@]}"
bad "--app of 65 chars" "app" --app="$long" --backend="$BADDR" -- "${CMD[@]}"
bad "empty --backend" "backend" --app="$APP" --backend= -- "${CMD[@]}"
bad "garbage --backend" "backend" --app="$APP" --backend=nonsense -- "${CMD[@]}"
bad "--backend port 0" "backend" --app="$APP" --backend=127.0.0.1:0 -- "${CMD[@]}"
bad "--backend port 65536" "backend" --app="$APP" --backend=127.0.0.1:65536 -- "${CMD[@]}"
bad "--backend bare port 0" "backend" --app="$APP" --backend=0 -- "${CMD[@]}"
bad "--backend bare IPv6" "backend" --app="$APP" --backend=::1:80 -- "${CMD[@]}"
bad "--backend host name" "backend" --app="$APP" --backend=example.com:80 -- "${CMD[@]}"
bad "--backend relative unix path" "backend" --app="$APP" --backend=relative/x.sock -- "${CMD[@]}"
bad "--backend unix path too long" "backend" --app="$APP" --backend="$longpath" -- "${CMD[@]}"
bad "garbage --start-timeout" "start-timeout" --app="$APP" --backend="$BADDR" --start-timeout=soon -- "${CMD[@]}"
bad "negative --start-timeout" "start-timeout" --app="$APP" --backend="$BADDR" --start-timeout=-1s -- "${CMD[@]}"
bad "empty --start-timeout" "start-timeout" --app="$APP" --backend="$BADDR" --start-timeout= -- "${CMD[@]}"
bad "overflowing --start-timeout" "start-timeout" --app="$APP" --backend="$BADDR" \
        --start-timeout=99999999999999999999s -- "${CMD[@]}"
bad "fractional --start-timeout" "start-timeout" --app="$APP" --backend="$BADDR" --start-timeout=1.5s -- "${CMD[@]}"
bad "--start-timeout=0" "start-timeout" --app="$APP" --backend="$BADDR" --start-timeout=0 -- "${CMD[@]}"
bad "unknown --start-on" "start-on" --app="$APP" --backend="$BADDR" --start-on=never -- "${CMD[@]}"
bad "empty --start-on" "start-on" --app="$APP" --backend="$BADDR" --start-on= -- "${CMD[@]}"
bad "garbage --idle-timeout" "idle-timeout" --app="$APP" --backend="$BADDR" --idle-timeout=x -- "${CMD[@]}"
bad "unknown long option" "bogus" --app="$APP" --backend="$BADDR" --bogus -- "${CMD[@]}"
bad "unknown short option" "-x" --app="$APP" --backend="$BADDR" -x -- "${CMD[@]}"
bad "--app without its value" "app" --backend="$BADDR" --app
bad "stray argument before --" "stray" --app="$APP" --backend="$BADDR" stray -- "${CMD[@]}"
bad "'--' without a COMMAND" "command" --app="$APP" --backend="$BADDR" --
}
plan $((3 * $(grep -c '^bad ' "$0"))) # 3 checks per case
run_cases
finish
