# Sourced by the sandbox TAP tests: paths and helpers to run probes and servers under ember-sandbox (TAP itself is
# tests/lib/tap.sh's).
# Environment: top_srcdir, top_builddir (exported by the top Makefile.am); EMBER_SANDBOX and EMBER_PROBE override
# the binaries under test. Policies come from $top_srcdir/confine/policies (EMBER_POLICY_DIR).
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
SANDBOX=${EMBER_SANDBOX:-$top_builddir/sandbox/ember-sandbox}
PROBE=${EMBER_PROBE:-$top_builddir/tests/sandbox/probe}
EMBER_POLICY_DIR=$top_srcdir/confine/policies
export EMBER_POLICY_DIR
# LeakSanitizer stops the world with ptrace at exit, which the policies deny: in a sanitized build, programs run
# under a filter skip the leak check (the unfiltered layers still run it).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

[ -x "$SANDBOX" ] || bail "no $SANDBOX (build it first)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-sandbox-test.XXXXXX") || bail "mktemp failed"
bg_pids=
cleanup() {
        local p
        for p in $bg_pids; do kill "$p" 2>/dev/null; done
        for p in $bg_pids; do wait "$p" 2>/dev/null; done
        rm -rf "$TMP"
}
tap_at_exit cleanup

is_root() { [ "$(id -u)" = 0 ]; }

# A free TCP port on 127.0.0.1, from the kernel's ephemeral range.
free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
                echo $((20000 + $$ % 20000))
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
        local i
        for i in $(seq $((${2:-20} * 10))); do
                (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

# start_bg LOG CMD...: runs CMD in the background (ember-sandbox execs it, so $! is the server itself).
start_bg() {
        local log=$1
        shift
        "$@" >"$log" 2>&1 &
        bg_pids="$bg_pids $!"
        last_pid=$!
}

# "status" of a finished process as text: "exit N" or "signal NAME".
describe_status() {
        if [ "$1" -gt 128 ]; then echo "signal $(kill -l $(($1 - 128)))"; else echo "exit $1"; fi
}

# run_probe POLICY PROBE: what the probe printed, or "signal SYS" if it was killed.
# i386_faults: a 32-bit system call (int 0x80) from 64-bit code faults (SIGSEGV) with no filter at all: this kernel,
# or the hypervisor under it, runs none (seen in a firecracker/PVM guest with CONFIG_IA32_EMULATION=y).
# (ASan's own SEGV handler would turn the fault into exit 1: the kernel's SIGSEGV is asked for)
i386_faults() {
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0 "$PROBE" i386-getpid >/dev/null 2>&1
        [ "$(describe_status $?)" = "signal SEGV" ]
}
run_probe() {
        local out rc
        out=$("$SANDBOX" --policy="$1" -- "$PROBE" "$2" 2>"$TMP/probe.err")
        rc=$?
        if [ $rc -eq 0 ]; then echo "$out"; else describe_status $rc; fi
}
