# Shared helpers for the inetd-layer tests; source it from a bash test script:
#
#   . "$(dirname "$0")/lib.sh"
#   plan 3
#   ember_setup                                   # temp EMBER_RUNTIME_DIR, cleanup trap, global deadline
#   SANDBOX_ARGS=(--idle=30s --policy=none)       # optional overrides before ember_start
#   ember_start                                   # systemd-socket-activate --accept --inetd … ember-launch … &
#   out=$(client --send='hi\n' "$ADDR")
#   is "echoed" "$out" "hi"
#   finish                                        # the verdict: 0 if the plan ran and nothing failed
#
# TAP (plan, ok, is DESC GOT WANT, like, skip, finish, ...) is tests/lib/tap.sh's; this adds need CMD... (skip the
# test if a program is missing). Every wait here has a deadline; a global watchdog (EMBER_TEST_DEADLINE seconds,
# default 120) ends a stuck test. On failure the log and the state directory are shown; a sanitizer report in the
# log fails the test even if every check passed.

set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/build.sh"
# a test run through the in-kernel relay (EMBER_TEST_RELAY=kernel: tests/inetd/kernel-*.sh) where it is not built in
[ "${EMBER_TEST_RELAY:-}" != kernel ] || need_kernel_relay
LAUNCH=$top_builddir/launcher/ember-launch
SANDBOX=$top_builddir/sandbox/ember-sandbox
BACKEND=$top_builddir/tests/tools/ember-test-backend
CLIENT=$top_builddir/tests/tools/ember-test-client
APP=t
# built with --enable-sanitizers? (every exec then costs tens of ms: throughput figures mean nothing)
if [ -z "${EMBER_SANITIZED:-}" ] && grep -qa -e __asan_init -e __ubsan_handle "$LAUNCH" 2>/dev/null; then
        EMBER_SANITIZED=1
fi
export EMBER_DEBUG=1
# uninstalled: the shipped policies (default, strict, container, none) are read from the source tree
export EMBER_POLICY_DIR=${EMBER_POLICY_DIR:-$top_srcdir/confine/policies}
export LC_ALL=C

# ---------------------------------------------------------------------------------------------------------------- TAP
# need CMD...: skip the whole test, with the reason, if a client program is missing (call before plan)
need() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null || skip_all "$c not installed"
        done
}

# ---------------------------------------------------------------------------------------------------------- time, waits
now_ms() {
        local t=${EPOCHREALTIME//[.,]/}
        echo $((t / 1000))
}
# wait_until SECONDS CMD [ARG...]: polls CMD every 20-100 ms; 0 once it succeeds, 1 at the deadline.
# CMD's arguments are expanded once, by the caller: poll a function (st_is, launcher_count_is, ...), never
# "test $(...)", whose $(...) would not be evaluated again.
wait_until() {
        local limit=$(($(now_ms) + $(secs_to_ms "$1"))) delay=0.02
        shift
        while :; do
                "$@" && return 0
                [ "$(now_ms)" -ge "$limit" ] && return 1
                sleep "$delay"
                delay=0.05
        done
}
secs_to_ms() { # "2", "0.5", "1.25" -> ms
        local s=$1 int frac
        int=${s%%.*}
        frac=${s#"$int"}
        frac=${frac#.}
        frac=${frac}000
        echo $((10#${int:-0} * 1000 + 10#${frac:0:3}))
}
# sleep_until_ms EPOCH_MS: sleeps until that wall-clock moment (returns at once if it passed).
sleep_until_ms() {
        local d=$(($1 - $(now_ms)))
        [ "$d" -gt 0 ] && sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
        return 0
}

# -------------------------------------------------------------------------------------------------- processes, state
alive() { # PID: exists and is not a zombie
        local st
        [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
        st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
dead() { ! alive "$1"; }
st() { # NAME: a state file's value ("" if missing)
        local v=
        [ -f "$STATE/$1" ] && v=$(cat "$STATE/$1" 2>/dev/null)
        printf '%s' "$v"
}
st_is() { [ "$(st "$1")" = "$2" ]; }
backend_pids() { # every backend process ever started in this test, in order (from the backend's own --pid-log)
        cat "$TEST_DIR/backend-pids" 2>/dev/null
        return 0
}
backend_starts() { # backend processes ever started in this test (from the backend's own --pid-log)
        if [ -f "$TEST_DIR/backend-pids" ]; then wc -l <"$TEST_DIR/backend-pids" | tr -d ' '; else echo 0; fi
}
# ours PID: PID is a live process started for this test: a child of this shell (a subshell such as the watchdog
# shows the environment this script was started with), or a process that carries our EMBER_RUNTIME_DIR (a
# directory mktemp made for this test alone), inherited from this script. A pid read earlier (a state file, $!, a
# list) may belong to anyone once its process has ended; every signal the cleanup sends goes through this check
# right before.
ours() {
        [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -gt 1 ] && [ "$1" != "$$" ] || return 1
        [ "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$1/stat" 2>/dev/null)" = "$$" ] && return 0
        [ -n "${EMBER_RUNTIME_DIR:-}" ] && grep -qzxF "EMBER_RUNTIME_DIR=$EMBER_RUNTIME_DIR" "/proc/$1/environ" 2>/dev/null
}
# kill_ours SIGNAL PID...: sends SIGNAL (-KILL, -TERM, ...) to each PID that is ours; 1 if none was
kill_ours() {
        local sig=$1 p rc=1
        shift
        for p in "$@"; do
                ours "$p" && kill "$sig" "$p" 2>/dev/null && rc=0
        done
        return $rc
}
# pids of live processes started for this test (they carry our EMBER_RUNTIME_DIR), except this shell
ember_pids() {
        local f p
        for f in /proc/[0-9]*/environ; do
                p=${f#/proc/}
                p=${p%/environ}
                [ "$p" = "$$" ] && continue
                grep -qzxF "EMBER_RUNTIME_DIR=$EMBER_RUNTIME_DIR" "$f" 2>/dev/null && echo "$p"
        done
        return 0
}
# children of systemd-socket-activate: the launchers (one per live connection)
launcher_pids() {
        local p
        for p in $(pgrep -P "$SA_PID"); do
                alive "$p" && echo "$p"
        done
        return 0
}
launchers_gone() { [ -z "$(launcher_pids)" ]; }
launcher_count_is() { [ "$(launcher_pids | wc -l)" -eq "$1" ]; }
port_listening() { ! "$CLIENT" --port-free="$1"; }

# what a waiting launcher costs: usage_of, track, tracked_gone, tracked_max_cpu_ms, ...
. "$(dirname "${BASH_SOURCE[0]}")/../lib/usage.sh"
# spawned_since LINE: the pids systemd-socket-activate spawned (the launchers) after line LINE of the log; with
# spawned_count_is LINE N as a wait_until condition. Cheaper than launcher_pids for many launchers at once.
spawned_since() { tail -n +"$(($1 + 1))" "$LOG" | sed -n 's/^Spawned .* as PID \([0-9]*\)\.$/\1/p'; }
spawned_count_is() { [ "$(spawned_since "$1" | wc -l)" -eq "$2" ]; }
log_lines() { wc -l <"$LOG" | tr -d ' '; }
# timed_lives: for a test that times launchers from start to exit, in a sanitized build: no LeakSanitizer check at
# their exit, whose stop-the-world (ptrace) took seconds when 50 exited at once on a loaded machine (the other tests
# still check for leaks). Call before ember_start.
timed_lives() {
        [ -n "${EMBER_SANITIZED:-}" ] || return 0
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
        SA_ENV+=(-E ASAN_OPTIONS)
}
# track_spawned LINE N: a wait_until condition that follows (track_more) and samples every launcher spawned after line
# LINE of the log as soon as it shows, so that each one's start is seen however long the others take to come; true
# once N have been spawned. Call track with no PID first.
track_spawned() {
        track_more $(spawned_since "$1")
        tracked_gone
        [ "${#TRACKED_CPU[@]}" -ge "$2" ]
}
# exited_with PID CODE: systemd-socket-activate logged that its child PID exited with CODE
exited_with() { grep -q "^Child $1 died with code $2\$" "$LOG"; }

# For tests of a bound a launcher keeps against a client that holds back (the PROXY header, the first byte). The test
# sets BOUND_MS, the bound, and BOUND_NAME, how its descriptions call it; SLACK_MS, what a launcher may take beyond
# it to exit and be reaped; CPU_MAX_MS and WAKEUPS_MAX, what one launcher's wait may cost.
# bound_app LAUNCH_OPTION...: ember_setup and ember_start, with launchers given these options, a start timeout and a
# supervisor's idle time far beyond the bound, and their lives timed (timed_lives). BACKEND_ARGS set before it stay.
bound_app() {
        ember_setup
        LAUNCH_ARGS=(--start-timeout=10s "$@")
        SANDBOX_ARGS=(--idle=30s --policy=none)
        timed_lives
        ember_start
}
# bound_kept DESC PID CODE: the launcher PID waits the whole bound and no more (gone within SLACK_MS after it),
# exits CODE, and its wait costs less than CPU_MAX_MS of CPU and WAKEUPS_MAX wake-ups: five assertions.
bound_kept() {
        local desc=$1 pid=$2 code=$3
        track "$pid"
        wait_until $(((BOUND_MS + SLACK_MS) / 1000 + 10)) tracked_gone # generous; the bound is checked below
        cmp_ok "$desc: its launcher waits out $BOUND_NAME (lived $(tracked_max_life_ms) ms)" \
                "$(tracked_min_life_ms)" -ge $((BOUND_MS - 20))
        cmp_ok "$desc: and is gone within it and $SLACK_MS ms" "$(tracked_max_life_ms)" -le $((BOUND_MS + SLACK_MS))
        ok "$desc: it exits $code" wait_until 5 exited_with "$pid" "$code"
        cmp_ok "$desc: waiting cost $(tracked_max_cpu_ms) ms of CPU" "$(tracked_max_cpu_ms)" -lt "$CPU_MAX_MS"
        cmp_ok "$desc: and $(tracked_max_wakeups) wake-ups" "$(tracked_max_wakeups)" -lt "$WAKEUPS_MAX"
}
# flood_bound_kept DESC MARK N CLIENT_ARGS...: N clients at once (ember-test-client --parallel=N CLIENT_ARGS
# --no-shutdown), DESC, get N launchers (spawned after line MARK of the log), each gone within the bound and SLACK_MS
# of its start and none before the bound: three assertions. The launchers stay tracked for the caller's checks of what
# they cost (tracked_sum_cpu_ms, ...).
flood_bound_kept() {
        local desc=$1 mark=$2 n=$3 t0 t1
        shift 3
        t0=$(now_ms)
        bg_client /dev/null --parallel="$n" "$@" --no-shutdown "$ADDR"
        track
        ok "$n $desc get $n launchers" wait_until 30 track_spawned "$mark" "$n"
        wait_until $(((BOUND_MS + SLACK_MS) / 1000 + 30)) tracked_gone # generous; the bound is checked below
        t1=$(now_ms)
        diag "the last was gone $((t1 - t0)) ms after the first connect"
        cmp_ok "each is gone within $BOUND_NAME and $SLACK_MS ms of its start (at most $(tracked_max_life_ms) ms)" \
                "$(tracked_max_life_ms)" -le $((BOUND_MS + SLACK_MS))
        cmp_ok "none is cut before $BOUND_NAME (the least one lived: $(tracked_min_life_ms) ms)" \
                "$(tracked_min_life_ms)" -ge $((BOUND_MS - 20))
}

# ports: random candidates below the ephemeral range, each reserved for this test with a file in $PORT_DIR (so
# parallel tests never pick the same one, even a backend port that is not bound yet) and checked free to bind.
PORT_DIR=${TMPDIR:-/tmp}/ember-test-ports
_reserve_port() { # PORT: 0 if reserved for us now
        local f=$PORT_DIR/$1 owner
        if (set -C; echo "$$" >"$f") 2>/dev/null; then
                return 0
        fi
        owner=$(cat "$f" 2>/dev/null)
        if [[ "$owner" =~ ^[0-9]+$ ]] && ! alive "$owner"; then # left by a test that was killed
                rm -f "$f"
                (set -C; echo "$$" >"$f") 2>/dev/null && return 0
        fi
        return 1
}
pick_port() {
        local p i
        mkdir -p "$PORT_DIR" 2>/dev/null
        chmod 1777 "$PORT_DIR" 2>/dev/null
        for ((i = 0; i < 500; i++)); do
                p=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 12000))
                _reserve_port "$p" || continue
                if "$CLIENT" --port-free="$p"; then
                        echo "$p"
                        return 0
                fi
                rm -f "$PORT_DIR/$p"
        done
        bail "no free port found"
}
_release_ports() {
        local f
        for f in "$PORT_DIR"/*; do
                [ -f "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$$" ] && rm -f "$f"
        done
        return 0
}

# ------------------------------------------------------------------------------------------------------ setup/cleanup
BG_PIDS=()
SA_PID=
TEST_DIR=
ember_setup() {
        local p
        for p in "$LAUNCH" "$SANDBOX" "$BACKEND" "$CLIENT"; do
                [ -x "$p" ] || bail "$p is not built (run the tests through 'make check')"
        done
        command -v systemd-socket-activate >/dev/null ||
                skip_all "systemd-socket-activate not installed (package systemd)"
        command -v pgrep >/dev/null || skip_all "pgrep not installed (package procps)"
        TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-inetd.XXXXXX") || bail "mktemp failed"
        export EMBER_RUNTIME_DIR=$TEST_DIR/run
        STATE=$EMBER_RUNTIME_DIR/$APP
        LOG=$TEST_DIR/log
        : >"$LOG"
        tap_at_exit ember_cleanup
        trap 'exit 98' INT TERM HUP
        _ember_watchdog "${EMBER_TEST_DEADLINE:-120}" &
        _WATCHDOG=$!
        disown "$_WATCHDOG"
}
_ember_watchdog() {
        trap - EXIT
        sleep "$1" &
        wait $!
        # the test is gone (it ended without its cleanup, which kills this watchdog): $$ may be anyone's now
        local me=$BASHPID p
        [ "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$me/stat" 2>/dev/null)" = "$$" ] || exit 0
        echo "Bail out! test still running after $1 s: killing it"
        for p in $(ember_pids); do [ "$p" != "$me" ] && kill_ours -KILL "$p"; done
        kill -TERM $$ 2>/dev/null
}

# run_begun: a wait_until condition, true once a supervisor began its run (with --relay=kernel it said first whether
# the in-kernel relay is available). relay_entries: how many sockets its socket maps hold (ember-test-sockmap, root);
# relay_entries_are N: e.g. 4 once a connection's two sockets are in both maps, handed over to the kernel.
SOCKMAP=$top_builddir/tests/tools/ember-test-sockmap
run_begun() { [ -n "$(st supervisor.pid)" ]; }
relay_entries() { "$SOCKMAP" "$(st supervisor.pid)" | awk -F'entries=' '{ s += $2 } END { print s + 0 }'; }
relay_entries_are() { [ "$(relay_entries)" = "$1" ]; }

# kernel_relay_setup: ember_setup for a test of the in-kernel relay (root only: CAP_BPF, CAP_NET_ADMIN), with a
# supervisor that outlives the test's pauses.
kernel_relay_setup() {
        need_kernel_relay
        [ "$(id -u)" = 0 ] || skip_all "the in-kernel relay needs root (CAP_BPF, CAP_NET_ADMIN)"
        ember_setup
        SANDBOX_ARGS=(--idle=60s --policy=none)
        EMBER_TEST_RELAY=kernel
}

# What the test starts, adjustable before ember_start.
LAUNCH_ARGS=(--start-timeout=10s)
SANDBOX_ARGS=(--idle=2s --policy=none)
BACKEND_ARGS=(--mode=echo)
BACKEND_CMD=() # a backend command of its own instead of ember-test-backend ({port}: the backend port)
SA_ENV=() # more -E NAME=VALUE for the launchers and what they start
SANDBOX_PRE=() # a command that starts ember-sandbox, given it as its arguments (a wrapper that execs them)
# ember_start: systemd-socket-activate in its own session, launching ember-launch per connection (inetd mode).
ember_start() {
        local attempt
        for attempt in 1 2 3; do
                PORT=$(pick_port)
                BPORT=$(pick_port)
                ADDR=127.0.0.1:$PORT
                BADDR=127.0.0.1:$BPORT
                # BACKEND_SPEC=127.0.0.1:auto: a port per backend run, which the backend learns from {port};
                # BACKEND_SPEC=/path: a unix socket there
                local spec=${BACKEND_SPEC:-$BADDR} listen=$BADDR
                case ${BACKEND_SPEC:-} in
                "") ;;
                /*) listen=$BACKEND_SPEC BADDR=$BACKEND_SPEC ;;
                *) listen=${BACKEND_SPEC%:auto}:{port} ;;
                esac
                local cmd=("$BACKEND" --listen="$listen" --pid-log="$TEST_DIR/backend-pids" "${BACKEND_ARGS[@]}")
                [ "${#BACKEND_CMD[@]}" -gt 0 ] && cmd=("${BACKEND_CMD[@]//\{port\}/$BPORT}")
                # EMBER_TEST_RELAY=kernel: the same test through the in-kernel relay (tests/inetd/kernel-*.sh)
                local relay=()
                [ "${EMBER_TEST_RELAY:-}" != kernel ] || need_kernel_relay
                [ -n "${EMBER_TEST_RELAY:-}" ] && relay=(--relay="$EMBER_TEST_RELAY")
                SA_CMD=(systemd-socket-activate --accept --inetd -l "$ADDR" -E EMBER_RUNTIME_DIR -E EMBER_DEBUG -E EMBER_POLICY_DIR
                        "${SA_ENV[@]}"
                        "$LAUNCH" --app="$APP" --backend="$spec" "${LAUNCH_ARGS[@]}" "${relay[@]}" --
                        "${SANDBOX_PRE[@]}" "$SANDBOX" --app="$APP" --backend="$spec" "${SANDBOX_ARGS[@]}" "${relay[@]}" --
                        "${cmd[@]}")
                setsid "${SA_CMD[@]}" >>"$LOG" 2>&1 </dev/null &
                SA_PID=$!
                if wait_until 5 _sa_listening; then
                        return 0
                fi
                # someone outside our reservations took the port in between: try others
                kill_ours -KILL "$SA_PID"
                diag "systemd-socket-activate could not listen on $ADDR (attempt $attempt)"
        done
        bail "systemd-socket-activate did not listen (3 attempts)"
}
_sa_listening() { pid_listens "$SA_PID" "$PORT"; }
# pid_listens PID PORT: PID itself holds the TCP socket listening on PORT (not just anyone)
pid_listens() {
        local hex inode f
        hex=$(printf '%04X' "$2")
        for inode in $(awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
                for f in /proc/"$1"/fd/*; do
                        [ "$(readlink "$f" 2>/dev/null)" = "socket:[$inode]" ] && return 0
                done
        done
        return 1
}
# client ARGS...: ember-test-client with a default deadline (overridable by a later --timeout)
client() { "$CLIENT" --timeout=20s "$@"; }
# bg_client OUT ARGS...: a client in the background, output to OUT; its pid in $!
bg_client() {
        local out=$1
        shift
        "$CLIENT" --timeout=60s --output="$out" "$@" 2>>"$TEST_DIR/client.err" &
        BG_PIDS+=($!)
}

ember_cleanup() {
        local p
        trap - INT TERM HUP
        exec 2>/dev/null # bash's "Killed" job notices; our diagnostics go to stdout
        _release_ports
        # every pid below is checked to be ours right before its signal (ours): a process that ended may have
        # left its pid to anyone, and a process group (kill -- -PGID) may be anyone's once its members are gone
        kill_ours -KILL "${_WATCHDOG:-}"
        kill_ours -TERM "$SA_PID"
        kill_ours -KILL "${BG_PIDS[@]}"
        if [ -n "$TEST_DIR" ]; then
                # shellcheck disable=SC2046
                kill_ours -KILL $(cat "$STATE/supervisor.pid" "$STATE/backend.pid" "$TEST_DIR/backend-pids" 2>/dev/null)
                # what is left of systemd-socket-activate's process group (launchers, supervisors, backends), and
                # whatever else carries our EMBER_RUNTIME_DIR
                # shellcheck disable=SC2046
                [ -n "$SA_PID" ] && kill_ours -KILL $(pgrep -g "$SA_PID" 2>/dev/null)
                # shellcheck disable=SC2046
                kill_ours -KILL $(ember_pids)
                wait_until 5 _nothing_left || diag "processes left behind: $(ember_pids)"
        fi
        wait 2>/dev/null
        # a sanitizer report from any of our processes fails the test even if every check passed
        if [ -n "$TEST_DIR" ] && grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$LOG" 2>/dev/null; then
                tap_error "sanitizer report in the log:" \
                        "$(grep -E -A30 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$LOG" | head -n 60)"
        fi
        if ! tap_passing; then
                if [ -n "$TEST_DIR" ] && [ -s "$LOG" ]; then
                        diag "---- log of systemd-socket-activate / ember-launch / ember-sandbox / backend (last 80 lines) ----"
                        diag "$(tail -n 80 "$LOG")"
                fi
                if [ -n "$TEST_DIR" ] && [ -d "$STATE" ]; then
                        diag "---- state dir $STATE ----"
                        diag "$(cd "$STATE" && for f in *; do [ -f "$f" ] && printf '%s=%s\n' "$f" "$(head -c 80 "$f" | tr '\n' ' ')"; done)"
                fi
        fi
        if [ -n "$TEST_DIR" ] && [ -z "${EMBER_KEEP_TEST_DIR:-}" ]; then
                rm -rf "$TEST_DIR"
        elif [ -n "$TEST_DIR" ]; then
                diag "kept $TEST_DIR"
        fi
}
_nothing_left() {
        local p
        for p in $(ember_pids); do alive "$p" && return 1; done
        return 0
}

# ---------------------------------------------------------------------------------------------- bad usage
nothing_started() {
        [ -z "$(ls -A "$EMBER_RUNTIME_DIR" 2>/dev/null)" ] && [ "$(backend_starts)" = 0 ]
}
# expect_usage_failure DESC NEEDLE RC: a program that exited RC with its stderr in $TEST_DIR/err refused its
# arguments as it must: exit 64, a usage message naming NEEDLE (case-insensitive, fixed string), nothing started.
expect_usage_failure() {
        local desc=$1 needle=$2 rc=$3 err
        err=$(tr -d '\0' <"$TEST_DIR/err")
        is "$desc: exit code 64" "$rc" 64
        if grep -qiE 'usage|--help' "$TEST_DIR/err" && grep -qiF -- "$needle" "$TEST_DIR/err"; then
                pass "$desc: usage message on stderr naming '$needle'"
        else
                not_ok "$desc: usage message on stderr naming '$needle'"
                diag "stderr: $err"
        fi
        ok "$desc: nothing started" nothing_started
        rm -rf "${EMBER_RUNTIME_DIR:?}"/* "$TEST_DIR/backend-pids"
}

# For a test of ember-launch's bad usage: a listener on HPORT that holds what it accepts, so that each launcher gets a
# real connection on fd 0, and CMD, a supervisor command for a backend on BADDR (BPORT). A launcher that took a bad
# argument by mistake would go on to start it.
launch_usage_fixture() {
        HPORT=$(pick_port)
        BPORT=$(pick_port)
        BADDR=127.0.0.1:$BPORT
        "$BACKEND" --listen="127.0.0.1:$HPORT" --mode=hold 2>>"$LOG" &
        BG_PIDS+=($!)
        wait_until 5 port_listening "$HPORT" || bail "helper listener did not start"
        CMD=("$SANDBOX" --app="$APP" --backend="$BADDR" --idle=2s --policy=none --
             "$BACKEND" --listen="$BADDR" --pid-log="$TEST_DIR/backend-pids")
}
