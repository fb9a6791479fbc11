#!/bin/bash
# The test harness signals only processes a test started. A pid a test read earlier (a state file, the backend's
# pid log, a background client's $!) may belong to someone else by the time the test cleans up: pid_max is 32768
# on these machines and the suite goes round it in minutes, and from the host every container's processes,
# .ci/run's included, are reachable. Here a stranger (a process this test did not start, standing in for the one
# that got the pid) is named in supervisor.pid, backend.pid, the backend's pid log and the background clients of an
# inner test; after that test's cleanup the stranger must still run. (Issue 23: .ci/run SIGKILLed.)
. "$(dirname "$0")/../lib/tap.sh"
LIB=$(cd "$(dirname "$0")" && pwd)/lib.sh
plan 3

DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-cleanup-own.XXXXXX") || bail "mktemp failed"
# the stranger: not this script's child (its parent subshell exits) and without any test's EMBER_RUNTIME_DIR; a
# sleep of its own length, so that what is signalled at the end is surely it
naptime=$((100000 + RANDOM))
stranger=$( (exec -a ember-cleanup-own-stranger sleep "$naptime" </dev/null >/dev/null 2>&1 & echo $!) )
stranger_runs() { [ "$(tr '\0' ' ' <"/proc/$stranger/cmdline" 2>/dev/null)" = "ember-cleanup-own-stranger $naptime " ]; }
cleanup() {
        stranger_runs && kill "$stranger"
        rm -rf "$DIR"
}
tap_at_exit cleanup
stranger_runs || bail "the stranger did not start"

cat >"$DIR/inner.sh" <<EOF
. "$LIB"
plan 1
ember_setup
ember_start
is "served" "\$(client --send='hi\n' "\$ADDR")" hi
echo "\$EMBER_RUNTIME_DIR" >"$DIR/rundir"
echo $stranger >>"\$STATE/supervisor.pid"
echo $stranger >>"\$STATE/backend.pid"
echo $stranger >>"\$TEST_DIR/backend-pids"
BG_PIDS+=($stranger)
finish
EOF
bash "$DIR/inner.sh" >"$DIR/inner.out" 2>&1
rc=$?
is "the inner test passes" "$rc" 0 || diag_file "$DIR/inner.out"
ok "after its cleanup the stranger named in its state files and lists still runs" stranger_runs
# its own: every process that carries its EMBER_RUNTIME_DIR
inner_left() {
        local f
        [ -s "$DIR/rundir" ] || return 0
        for f in /proc/[0-9]*/environ; do
                grep -qzxF "EMBER_RUNTIME_DIR=$(cat "$DIR/rundir")" "$f" 2>/dev/null && echo "${f//[^0-9]/}"
        done
}
is "and the inner test's own processes are gone" "$(inner_left)" ""
finish
