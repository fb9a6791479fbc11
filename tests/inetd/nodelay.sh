#!/bin/bash
# The launcher turns Nagle off (TCP_NODELAY) on both TCP connections it relays, the client's and the backend's, on
# the cold and the warm path: else a client's second small write in a row (PostgreSQL's startup packets,
# HTTP headers then body) waits for the backend's delayed ACK, ~40 ms. Not timed: the option is read from the live
# launcher's own sockets, copied with pidfd_getfd(2).
. "$(dirname "$0")/lib.sh"
SOCKETS=$top_builddir/tests/tools/ember-test-sockets
plan 8
ember_setup
[ -x "$SOCKETS" ] || bail "$SOCKETS is not built (run the tests through 'make check')"
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

# held_connection NAME: a client that sent "NAME" and keeps its connection open, until its echo is back (the relay
# then runs); sets LAUNCHERS to the launcher(s) that appeared for it.
held_connection() {
        local before p
        before=$(launcher_pids)
        bg_client "$TEST_DIR/$1.out" --send="$1\n" --hold=infinity "$ADDR"
        wait_until 20 grep -qx "$1" "$TEST_DIR/$1.out" || bail "no echo for the $1 connection"
        LAUNCHERS=
        for p in $(launcher_pids); do
                grep -qxF "$p" <<<"$before" || LAUNCHERS+="${LAUNCHERS:+ }$p"
        done
}
# sockets_of PID: sets SOCKS to its connected stream sockets, one a line (see ember-test-sockets.c); skips the
# rest if the kernel does not let us copy another process's fds
sockets_of() {
        local rc
        "$SOCKETS" "$1" >"$TEST_DIR/sockets" 2>"$TEST_DIR/sockets.err"
        rc=$?
        if [ "$rc" -eq 77 ]; then
                skip_all "cannot read the launcher's sockets: $(cat "$TEST_DIR/sockets.err")"
        fi
        [ "$rc" -eq 0 ] || diag "ember-test-sockets $1 failed ($rc): $(cat "$TEST_DIR/sockets.err")"
        SOCKS=$(cat "$TEST_DIR/sockets")
}
# nodelay_of local|peer ADDR: the nodelay= of the TCP connection in $SOCKS whose local or peer end is ADDR
nodelay_of() {
        awk -v col="$([ "$1" = local ] && echo 3 || echo 5)" -v addr="$2" \
                '$2 == "tcp" && $col == addr { sub("nodelay=", "", $6); print $6; exit }' <<<"$SOCKS"
}

for path in cold warm; do
        held_connection "$path"
        cmp_ok "$path: one launcher serves the connection" "$(wc -w <<<"$LAUNCHERS")" -eq 1
        sockets_of $LAUNCHERS
        diag "$path: launcher $LAUNCHERS has"$'\n'"$SOCKS"
        is "$path: TCP_NODELAY is set on the client connection" "$(nodelay_of local "$ADDR")" 1
        is "$path: TCP_NODELAY is set on the backend connection" "$(nodelay_of peer "$BADDR")" 1
done
is "the first connection was the cold one, the second one warm" "$(st cold-starts)" 1
ok "nothing was logged about TCP_NODELAY (no failure to set it)" eval '! grep -q TCP_NODELAY "$LOG"'
finish
