#!/bin/bash
# A launcher that is not root finds its app's state directory without the files root makes for the launchers' user
# (ember-state(7)): it waits as long as making them can take, then exits 73 saying so, and closes each descriptor
# once. Watched with strace: the directory it opened on each try is closed there, and no close() at its exit may hit
# a number closed before (by then it may be another fd's). In a sanitized build LeakSanitizer cannot run under
# ptrace (it exits 1 at the launcher's end): it is off for this one run.
. "$(dirname "$0")/../inetd/lib.sh"
need strace setpriv
plan 4
[ "$(id -u)" = 0 ] || skip_all "needs root to run the launcher as another user"
ember_setup
chmod 0755 "$TEST_DIR"
mkdir -p -m 0755 "$STATE" # root's, as the wake socket's unit makes it, and nothing in it for user 65534
# a copy user 65534 can reach: the build tree may be under a directory only root may enter (CI clones into /root)
install -m 0755 "$LAUNCH" "$TEST_DIR/ember-launch" || bail "cannot copy $LAUNCH"

PORT=$(pick_port)
setsid systemd-socket-activate --accept --inetd -l "127.0.0.1:$PORT" -E EMBER_RUNTIME_DIR \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
        env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -e trace=close "$TEST_DIR/ember-launch" --app="$APP" --backend=127.0.0.1:1 --start-timeout=5s \
        >>"$LOG" 2>&1 </dev/null &
SA_PID=$!
wait_until 5 pid_listens "$SA_PID" "$PORT" || bail "systemd-socket-activate did not listen on $PORT"

client --timeout=10s --send='x\n' "127.0.0.1:$PORT" >/dev/null 2>&1
ok "the launcher exits 73" wait_until 10 grep -q 'died with code 73' "$LOG"
like "saying the directory has no files made for its user" "$(cat "$LOG")" 'has no files made for this launcher.s user'
cmp_ok "strace saw its close() calls" "$(grep -c 'close([0-9]*) *= 0' "$LOG")" -ge 1
is "no descriptor is closed twice" "$(grep -c 'close([0-9]*) *= -1 EBADF' "$LOG")" 0
finish
