#!/bin/bash
# A build without the experimental in-kernel relay (./configure without --enable-kernel-relay: the default) refuses
# --relay=kernel in ember-launch and ember-sandbox as bad usage: exit 64, a message naming the configure switch,
# nothing started (a launcher that took it would carry the relay, a supervisor would offer what it does not have).
# Where it is built in, both take it (tests/inetd/kernel-*.sh test what it does).
. "$(dirname "$0")/lib.sh"
ember_setup

if kernel_relay_built; then
        plan 2
        ok "built with --enable-kernel-relay: ember-launch takes --relay=kernel" "$LAUNCH" --relay=kernel --help
        ok "and so does ember-sandbox" "$SANDBOX" --relay=kernel --help
        finish
fi

plan 6
launch_usage_fixture

# the launcher with a real connection on fd 0: had it taken the option, it would go on to start the backend
exec 5<>"/dev/tcp/127.0.0.1/$HPORT" || bail "cannot connect to the helper listener"
timeout 5 "$LAUNCH" --app="$APP" --backend="$BADDR" --relay=kernel -- "${CMD[@]}" <&5 >/dev/null 2>"$TEST_DIR/err"
rc=$?
exec 5<&-
expect_usage_failure "ember-launch --relay=kernel" "--enable-kernel-relay" "$rc"

timeout 5 "$SANDBOX" --app="$APP" --backend="$BADDR" --relay=kernel --policy=none -- \
        "$BACKEND" --listen="$BADDR" --pid-log="$TEST_DIR/backend-pids" </dev/null >/dev/null 2>"$TEST_DIR/err"
expect_usage_failure "ember-sandbox --relay=kernel" "--enable-kernel-relay" "$?"
finish
