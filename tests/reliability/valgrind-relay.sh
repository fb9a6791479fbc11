#!/bin/bash
# ember-launch's relay path under valgrind memcheck: 4 MiB echoed with matching bytes, a half-closed small
# exchange, and no memcheck error or definite leak in any launcher.
. "$(dirname "$0")/../inetd/lib.sh"
command -v valgrind >/dev/null || skip_all "valgrind not installed"
[ -n "${EMBER_SANITIZED:-}" ] && skip_all "built with sanitizers: valgrind cannot run ASan binaries"
plan 5
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
cat >"$TEST_DIR/launch-vg" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --log-file="$TEST_DIR/vg.%p" "$top_builddir/launcher/ember-launch-dynamic" "\$@"
WRAP
chmod +x "$TEST_DIR/launch-vg"
LAUNCH=$TEST_DIR/launch-vg
LAUNCH_ARGS=(--start-timeout=30s)
ember_start

head -c 4M /dev/urandom >"$TEST_DIR/in"
client --timeout=60s --expect-echo --send-file="$TEST_DIR/in" --output=none "$ADDR"
is "4 MiB come back byte for byte through the launcher under memcheck" "$?" 0
out=$(client --timeout=30s --send='half\n' "$ADDR")
is "a half-closed exchange is answered" "$out" half
ok "both launchers exited" wait_until 30 launchers_gone
like "launchers exit 0" "$(lowercase <"$LOG")" 'child [0-9]+ died with code 0'
errors=$(grep -l -E 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (read|write)|uninitialised' "$TEST_DIR"/vg.* 2>/dev/null)
is "no memcheck error in any launcher" "$errors$(grep -c 'died with code 99' "$LOG")" "0"
[ -n "$errors" ] && diag "$(cat $errors)"
finish
