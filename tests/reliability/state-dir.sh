#!/bin/bash
# A hostile or damaged state directory is refused (never followed) or recovered, with a clear message and a
# documented exit code: symlinked app dir, wrong owner (where root cannot have handed it over), group-writable, garbage/huge/truncated refcount, symlinked
# state file.
. "$(dirname "$0")/../inetd/lib.sh"
plan 14
ember_setup
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start
mkdir -p "$EMBER_RUNTIME_DIR"
mkdir "$TEST_DIR/elsewhere"


ln -s "$TEST_DIR/elsewhere" "$STATE"
client --timeout=10s --send='x\n' "$ADDR" >/dev/null 2>&1
# the client is closed before systemd-socket-activate has reaped the launcher and said how it ended
wait_until 10 grep -qi 'died with code' "$LOG"
like "a symlinked app dir is refused with a message" "$(lowercase <"$LOG")" \
        'refusing state directory .*(too many levels of symbolic links|symbolic link loop|not a directory)'
like "exit code 77" "$(lowercase <"$LOG")" 'died with code 77'
is "nothing was written through the symlink" "$(ls "$TEST_DIR/elsewhere" | wc -l)" 0
rm "$STATE"

if [ "$(id -u)" = 0 ]; then
        # In a runtime dir only root may write, another user's dir was handed over by root (ember-state(7)); in one
        # anybody may write (as /tmp), anybody could have planted it.
        mkdir -m 0755 "$STATE"
        chown 65534 "$STATE"
        chmod 1777 "$EMBER_RUNTIME_DIR"
        : >"$LOG"
        client --timeout=10s --send='x\n' "$ADDR" >/dev/null 2>&1
        wait_until 10 grep -qi 'died with code' "$LOG"
        like "a dir owned by another user, in a runtime dir anybody may write, is refused" "$(lowercase <"$LOG")" \
                'refusing state directory .*operation not permitted'
        like "exit code 77" "$(lowercase <"$LOG")" 'died with code 77'
        chmod 0755 "$EMBER_RUNTIME_DIR"
        rm -rf "$STATE"
else
        skip 2 "needs root to chown"
fi

mkdir -m 0775 "$STATE"
chmod 0775 "$STATE"
: >"$LOG"
client --timeout=10s --send='x\n' "$ADDR" >/dev/null 2>&1
like "a group-writable dir is refused" "$(lowercase <"$LOG")" 'refusing state directory .*permission denied'
rmdir "$STATE"

mkdir -m 0755 "$STATE"
printf 'garbage\n' >"$STATE/refcount"
out=$(client --send='a\n' "$ADDR")
is "a garbage refcount: the connection is served" "$out" a
ok "and the count is rebuilt to 0 afterwards" wait_until 5 st_is refcount 0

head -c 1M /dev/zero | tr '\0' 7 >"$STATE/refcount"
out=$(client --send='b\n' "$ADDR")
is "a huge refcount file: served" "$out" b
ok "rebuilt to 0" wait_until 5 st_is refcount 0

printf '12' >"$STATE/refcount"
out=$(client --send='c\n' "$ADDR")
is "a truncated refcount (no newline): served" "$out" c
ok "rebuilt to 0" wait_until 5 st_is refcount 0

rm -f "$STATE/refcount"
echo 5 >"$TEST_DIR/elsewhere/target"
ln -s "$TEST_DIR/elsewhere/target" "$STATE/refcount"
: >"$LOG"
client --timeout=10s --send='d\n' "$ADDR" >/dev/null 2>&1
like "a symlinked refcount is refused, with a message" "$(lowercase <"$LOG")" 'too many levels of symbolic links|symbolic link loop'
is "and its target is untouched" "$(cat "$TEST_DIR/elsewhere/target")" 5
finish
