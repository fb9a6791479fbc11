# tests/system/lib.sh: a real systemd as PID 1 in a throwaway container, for ember's system tests (TAP itself is
# tests/lib/tap.sh's).
# Sourced by tests/system/*.sh (bash). See doc/ARCHITECTURE.md, "Tests": the container is this machine's own /usr, booted
#   systemd-nspawn -D / --volatile=yes --register=no --keep-unit -M NAME -b systemd.mask=systemd-firstboot.service
# with `make install DESTDIR=$STAGE` bound read-only at $prefix (so compiled-in paths such as $libexecdir/ember are
# right inside) and the build tree bound at its own path (for the test tools). Commands run inside with
# `nsenter -t PID -a` where PID is the container's PID 1 as seen from here. The container shares the host's network
# namespace, so every test file uses its own loopback ports. Every wait is bounded.

set -u
export LC_ALL=C
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cgroup.sh"
exec 8>&1 # the TAP stream, for notes from inside ok's command (whose output is kept for a failure)

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/build.sh"
# The backend unit's PrivateTmp= hides /tmp and /var/tmp from backends, and its ProtectHome= /root and /home, and the
# test backends live in this tree: a tree there (a fresh clone in /tmp, a checkout in /root) is reached as
# /run/ember-tree-PID-*, a symlink here and a bind mount inside.
TREE_ALIASES=()
_tree_alias() { # VAR: points VAR at an alias of its directory if that is under /tmp or /var/tmp
        local d a
        d=$(cd "${!1}" && pwd -P) || return 0
        case $d in
        /tmp/* | /var/tmp/* | /root/* | /home/*)
                a=/run/ember-tree-$$-${1#top_}
                ln -sfn "$d" "$a" && TREE_ALIASES+=("$a") && printf -v "$1" '%s' "$a" ;;
        esac
}
if [ "$(cd "$top_srcdir" && pwd -P)" = "$(cd "$top_builddir" && pwd -P)" ]; then
        _tree_alias top_builddir
        top_srcdir=$top_builddir
else
        _tree_alias top_builddir
        _tree_alias top_srcdir
fi
T_NAME=$(basename "$0" .sh)
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-system-$T_NAME.XXXXXX")
NSPAWN_PID=
NSPAWN_PARENT=
C_PID=
C_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TOOLS=$top_builddir/tests/tools

# ---- waits ----------------------------------------------------------------------------------------------------

# wait_until SECONDS CMD...: poll every 0.1 s until CMD succeeds; 1 after SECONDS.
wait_until() {
        local deadline=$(($(date +%s%N) / 1000000 + ${1%.*} * 1000))
        shift
        while ! "$@" >/dev/null 2>&1; do
                [ $(($(date +%s%N) / 1000000)) -ge "$deadline" ] && return 1
                sleep 0.1
        done
        return 0
}

# expect_exit DESCRIPTION CODE CMD...: CMD exits with CODE and, unless CODE is 0, says why on stderr ($T_TMP/err;
# its stdout in $T_TMP/out).
expect_exit() {
        local desc=$1 want=$2 got
        shift 2
        "$@" >"$T_TMP/out" 2>"$T_TMP/err"
        got=$?
        if [ "$got" = "$want" ] && { [ "$want" = 0 ] || [ -s "$T_TMP/err" ]; }; then
                pass "$desc"
        else
                not_ok "$desc"
                diag "command: $*" "exit $got, want $want"
                diag_file "$T_TMP/err"
        fi
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# ---- the staged install ---------------------------------------------------------------------------------------

# Loads prefix, bindir, libexecdir, pkgdatadir and STAGE; builds the stage first if this test runs on its own.
sys_stage() {
        STAGE=${EMBER_STAGE:-$top_builddir/tests/system/stage}
        # (re)stage when missing or older than what it installs (make check always restages)
        if [ ! -f "$top_builddir/tests/system/stage.env" ] || [ ! -d "$STAGE" ] ||
                [ -n "$(find "$top_srcdir/templates" "$top_builddir/ctl/emberctl" "$top_builddir/launcher/ember-launch" \
                        "$top_builddir/sandbox/ember-sandbox" -newer "$top_builddir/tests/system/stage.stamp" 2>/dev/null | head -n 1)" ]; then
                make -s -C "$top_builddir" tests/system/stage.stamp >"$T_TMP/stage.log" 2>&1 ||
                        { diag_file "$T_TMP/stage.log"; bail "cannot stage the install (make tests/system/stage.stamp)"; }
        fi
        # shellcheck disable=SC1091
        . "$top_builddir/tests/system/stage.env"
        [ -x "$STAGE$bindir/emberctl" ] || bail "no emberctl in the stage $STAGE$bindir"
        [ -x "$STAGE$libexecdir/ember/ember-launch" ] || bail "no ember-launch in the stage $STAGE$libexecdir/ember"
        [ -x "$STAGE$libexecdir/ember/ember-sandbox" ] || bail "no ember-sandbox in the stage $STAGE$libexecdir/ember"
        EMBERCTL=$bindir/emberctl
}

# ---- the container --------------------------------------------------------------------------------------------

sys_require() {
        [ "$(id -u)" = 0 ] || skip_all "not root: booting a systemd container with systemd-nspawn needs root"
        command -v systemd-nspawn >/dev/null 2>&1 || skip_all "systemd-nspawn is missing (package systemd-container)"
        command -v nsenter >/dev/null 2>&1 || bail "nsenter is missing (package util-linux)"
}

SANITIZED=
NSPAWN_LANDLOCK='landlock_create_ruleset landlock_add_rule landlock_restrict_self'
# The container's first boot enables every unit the host has installed (its empty /etc gets the presets): with
# docker.io on the host that is containerd and docker.socket in every test container, which no test wants.
NSPAWN_MASKS=(systemd.mask=docker.service systemd.mask=docker.socket systemd.mask=containerd.service)

# c CMD...: run CMD inside the container (all its namespaces, a clean environment).
c() {
        nsenter -t "$C_PID" -a env -i PATH="$C_PATH" LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
                SYSTEMD_LOG_COLOR=0 "$@"
}

# Boots the container and waits until systemd says running or degraded.
binds=()
sys_boot() {
        sys_require
        if [ -n "${SYS_INSTALLED:-}" ]; then
                # ember as installed on this machine (the Debian package): the container's /usr is ours
                prefix=/usr
                EMBERCTL=/usr/bin/emberctl
                binds+=(--bind-ro="$top_builddir")
        else
                sys_boot_stage || return 1
        fi
        sys_boot_container
}

sys_boot_stage() {
        sys_stage
        case "$prefix" in
        /usr) bail "prefix=/usr would hide the container's /usr behind the stage: configure with another prefix" ;;
        /usr/*) [ -d "$prefix" ] || bail "prefix $prefix does not exist on this machine, and /usr is read-only in the container" ;;
        # make distcheck installs under its build dir in /tmp; the units' PrivateTmp= would hide ember from them
        /tmp/* | /var/tmp/*) skip_all "ember is configured for prefix $prefix, which the units' PrivateTmp= hides (as in make distcheck): the system tests need a prefix outside /tmp" ;;
        esac
        binds+=(--bind-ro="$STAGE$prefix:$prefix" --bind-ro="$top_builddir")
        [ "$(cd "$top_srcdir" && pwd)" = "$(cd "$top_builddir" && pwd)" ] || binds+=(--bind-ro="$top_srcdir")
}

# More systemd-nspawn options for a script's container, set after sourcing this file: what the in-kernel relay
# needs (bench/bench.sh), system calls that nspawn's filter denies and a host's systemd would not (podman.sh).
SYS_NSPAWN_ARGS=()
C_CGROUP=
C_CGROUP_MODE=
sys_boot_container() {
        local machine i state deadline
        # a valid hostname: at most 64 characters of [a-z0-9-]
        machine=$(printf 'ember-%s-%s' "$T_NAME" "$$" | tr -c 'a-zA-Z0-9-' '-' | cut -c1-60)

        # The container's systemd owns the cgroup it is given, and powering off it ends what is in it: that cgroup
        # must hold the container and nothing else, never the caller (make, .ci/run, whatever runs them). Either the
        # subshell that becomes systemd-nspawn moves itself into a new, empty cgroup of its own and sees by
        # /proc/self/cgroup that it got there in every hierarchy (then --keep-unit gives the container that one), or,
        # where PID 1 is systemd, nspawn asks it for a scope of its own (no --keep-unit); else the test skips. Own
        # cgroups also keep parallel containers apart (one shared cgroup: one container's systemd removed the
        # other's, seen as instances failing with 219/CGROUP). The name is random: tests in two pid namespaces
        # (two containers sharing one cgroup tree) have the same $$ now and then.
        C_CGROUP=ember-$machine-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
        (
                # SYS_CGROUP_MODE=scope: the second way even where the first works (tests/system/own-cgroup.sh)
                if [ "${SYS_CGROUP_MODE:-}" != scope ] &&
                        cgroup_enter "$C_CGROUP" "$T_TMP/cgroups" 2>"$T_TMP/cgroup.why"; then
                        echo keep-unit >"$T_TMP/cgroup.mode"
                        keep=(--keep-unit)
                elif cgroup_systemd_pid1; then
                        echo scope >"$T_TMP/cgroup.mode"
                        keep=()
                else
                        exit 0
                fi
                # nspawn's own system call filter predates Landlock: allow it, as a host's systemd does.
                exec systemd-nspawn -D / --volatile=yes --register=no "${keep[@]}" -M "$machine" "${binds[@]}" \
                        --system-call-filter="$NSPAWN_LANDLOCK" "${SYS_NSPAWN_ARGS[@]}" \
                        -b systemd.mask=systemd-firstboot.service "${NSPAWN_MASKS[@]}" </dev/null >"$T_TMP/nspawn.log" 2>&1
        ) &
        NSPAWN_PID=$!
        NSPAWN_PARENT=$BASHPID
        for i in $(seq 300); do
                C_PID=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1)
                [ -n "$C_PID" ] && break
                kill -0 "$NSPAWN_PID" 2>/dev/null || sys_cannot_nest
                sleep 0.1
        done
        [ -n "$C_PID" ] || { diag_file "$T_TMP/nspawn.log"; bail "no systemd in the container after 30 s"; }
        C_CGROUP_MODE=$(cat "$T_TMP/cgroup.mode")
        sys_cgroup_check
        deadline=$(($(date +%s) + 60))
        while :; do
                state=$(c systemctl is-system-running 2>/dev/null)
                case "$state" in
                running | degraded) break ;;
                esac
                [ "$(date +%s)" -lt "$deadline" ] || { diag_file "$T_TMP/nspawn.log"; bail "container not up after 60 s (state '$state')"; }
                sleep 0.1
        done
        diag "container $machine: PID 1 is $C_PID on the host, system $state, cgroup $(cgroup_path "$C_PID" "$(cgroup_hierarchies | head -n 1)")"
        # A sanitized build: LeakSanitizer needs ptrace at exit, which the strict unit's system call filter denies;
        # the leak check still runs in the unfiltered inetd layer.
        if grep -qa -e __asan_init "${STAGE:-}${libexecdir:-/usr/libexec}/ember/ember-launch" 2>/dev/null; then
                SANITIZED=1
                c sh -c 'mkdir -p /run/systemd/system/service.d &&
                        printf "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n" >/run/systemd/system/service.d/ember-asan.conf &&
                        systemctl daemon-reload'
        fi
}

# systemd-nspawn exited before a systemd ran in the container: the machine cannot host one (seen in containers
# without a cgroup of their own to delegate), or the container could get no cgroup of its own (then nspawn never
# ran). Nothing of ember has run yet, so this is the environment's doing: the test skips, and says why.
sys_cannot_nest() {
        local why
        wait "$NSPAWN_PID" 2>/dev/null
        NSPAWN_PID=
        if [ ! -s "$T_TMP/cgroup.mode" ]; then
                skip_all "no cgroup of its own for the container: $(tr '\n' ' ' <"$T_TMP/cgroup.why")and PID 1 is not systemd (no scope to ask for); it never runs in its caller's cgroup"
        fi
        # its first complaint (what follows is often only "Parent died too early")
        why=$(sed 's/\x1b\[[0-9;]*m//g' "$T_TMP/nspawn.log" | tr -d '\r' | grep -m 1 -i -e fail -e error -e denied)
        [ -n "$why" ] || why=$(grep -v -e '^Spawning container' -e '^Press \^]' -e '^$' "$T_TMP/nspawn.log" | tail -n 1)
        skip_all "systemd-nspawn cannot boot a container here (a container in a container needs a cgroup of its own; $(cat "$T_TMP/cgroup.mode")): ${why:-it exited without a word}"
}

# sys_cgroup_check: the container's cgroup does not hold this script (nor, with --keep-unit, is it other than the one
# made for it). If it does, the container's PID 1 is killed at once, which ends its pid namespace and nothing else,
# rather than powered off: its systemd would end what is in its cgroup, this script's callers too.
sys_cgroup_check() {
        local why h
        why=$(cgroup_holds "$C_PID" $$; cgroup_holds "$C_PID" "$PPID")
        if [ "$C_CGROUP_MODE" = keep-unit ]; then
                for h in $(cgroup_hierarchies); do
                        case "$(cgroup_path "$C_PID" "$h")" in
                        */"$C_CGROUP"/*) ;;
                        *) why="$why in $h the container is in $(cgroup_path "$C_PID" "$h"), not in its own $C_CGROUP;" ;;
                        esac
                done
        fi
        [ -z "$why" ] && return 0
        _proc_is "$C_PID" "$NSPAWN_PID" systemd && kill -KILL "$C_PID" 2>/dev/null
        bail "the container did not get a cgroup of its own ($C_CGROUP_MODE):$why killed its PID 1"
}

# _proc_is PID PPID COMM: PID is alive, PPID's child and named COMM. A signal goes only to a process checked so right
# before: a pid whose process ended may be anyone's by now.
_proc_is() {
        [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$3" ] &&
                [ "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$1/stat" 2>/dev/null)" = "$2" ]
}
_nspawn_running() { _proc_is "$NSPAWN_PID" "$NSPAWN_PARENT" systemd-nspawn; }

sys_cleanup() {
        local i
        rm -f "${TREE_ALIASES[@]}"
        # first the clients this test started in the background (still running: a finished job's pid is free)
        for i in $(jobs -rp); do
                [ "$i" = "$NSPAWN_PID" ] || kill "$i" 2>/dev/null
        done
        if _nspawn_running; then
                # SIGRTMIN+4 asks systemd for a clean poweroff
                _proc_is "$C_PID" "$NSPAWN_PID" systemd && kill -s RTMIN+4 "$C_PID" 2>/dev/null
                for i in $(seq 200); do
                        _nspawn_running || break
                        sleep 0.1
                done
                if _nspawn_running; then
                        echo "# container did not power off in 20 s; killing systemd-nspawn"
                        kill -KILL "$NSPAWN_PID" 2>/dev/null
                fi
        fi
        [ -n "$NSPAWN_PID" ] && wait "$NSPAWN_PID" 2>/dev/null
        cgroup_remove "$T_TMP/cgroups"
        rm -rf "$T_TMP"
}
tap_at_exit sys_cleanup
trap 'exit 130' INT TERM HUP

# ---- ember helpers ----------------------------------------------------------------------------------------------

# port_free PORT: nothing listens on 127.0.0.1:PORT (the container shares our network namespace).
port_free() {
        ! ss -Htln "sport = :$1" | grep -q .
}

# pick_ports N: sets PORTS to N loopback ports nobody listens on. The container shares this machine's network
# namespace, and other test runs (other trees, other layers) may run at the same time, so ports are not fixed:
# they are picked at random below the ephemeral range, where no client connection takes them.
pick_ports() {
        local n=$1 lo=10000 hi p tries=0
        hi=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768) - 1))
        PORTS=()
        p=$((lo + (RANDOM * 32768 + RANDOM + $$) % (hi - lo)))
        while [ ${#PORTS[@]} -lt "$n" ]; do
                p=$((p + 1))
                [ "$p" -gt "$hi" ] && p=$lo
                tries=$((tries + 1))
                [ "$tries" -gt 5000 ] && bail "no $n free loopback ports between $lo and $hi"
                port_free "$p" && PORTS+=("$p")
        done
}

# Reads a state file of APP inside the container ("" if missing).
state() { c cat "/run/ember/$1/$2" 2>/dev/null | tr -d '\n'; }

# Number of running connection instances of APP.
instances() { c systemctl list-units --no-legend --plain --state=running "$1@*" | grep -c "^$1@"; }

# journal_events APP EVENT: how many EMBER_EVENT=EVENT entries APP has logged.
journal_events() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o cat "EMBER_APP=$1" "EMBER_EVENT=$2" | grep -c .
}

# journal_field APP EVENT FIELD: FIELD of the last EMBER_EVENT=EVENT entry of APP.
journal_field() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o export -n 1 "EMBER_APP=$1" "EMBER_EVENT=$2" | sed -n "s/^$3=//p" | tail -n 1
}

unit_prop() { c systemctl show -P "$2" "$1"; }
# proc_status PID FIELD: FIELD of /proc/PID/status inside the container
proc_status() { c sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
# launcher_pid APP: the ember-launch of one running APP@ instance (its PID in the container)
launcher_pid() {
        local unit
        unit=$(c systemctl list-units --no-legend --plain --state=running "$1@*" | awk 'NR == 1 { print $1 }')
        [ -n "$unit" ] && unit_prop "$unit" MainPID
}
# launcher_status APP FIELD: the same as proc_status for that launcher
launcher_status() {
        local pid
        pid=$(launcher_pid "$1") && proc_status "$pid" "$2"
}

# app_new NAME EMBERCTL-NEW-ARGS...: emberctl new + daemon-reload + enable --now NAME.socket.
app_up() {
        local name=$1
        shift
        c "$EMBERCTL" new "$name" "$@" >"$T_TMP/new.out" 2>&1 || { diag_file "$T_TMP/new.out"; return 1; }
        c systemctl daemon-reload || return 1
        c systemctl enable --now "$name.socket" >/dev/null 2>&1 || return 1
        c systemctl is-active --quiet "$name.socket" "$name-backend.socket"
}

# verify_units UNIT-FILE...: systemd-analyze verify inside the container, including its check that every
# Documentation=man: page exists. The volatile /etc has no man-db configuration, so it gets the host's; without
# man-db on the host the man check is skipped (--man=no) and said so, the rest of verify still runs.
verify_units() {
        local man=yes out rc
        if [ -r /etc/manpath.config ] && c sh -c 'command -v man' >/dev/null 2>&1; then
                c sh -c 'test -e /etc/manpath.config || cat >/etc/manpath.config' </etc/manpath.config
        else
                man=no
                echo "# man-db is not installed here: verifying with --man=no" >&8
        fi
        out=$(c systemd-analyze verify --man=$man "$@" 2>&1)
        rc=$?
        # any message at all (warnings included) fails the check
        [ -n "$out" ] && printf '%s\n' "$out"
        [ "$rc" = 0 ] && [ -z "$out" ]
}

# On failure, what the journal knows about APP: its units (instances only when they failed) and ember's entries.
diag_journal() {
        c journalctl --sync >/dev/null 2>&1
        {
                echo "--- $1.socket, $1-backend.socket, $1-backend.service"
                c journalctl -q --no-pager -o short-monotonic -u "$1.socket" -u "$1-backend.socket" -u "$1-backend.service" | tail -n 40
                echo "--- $1@*.service, failures"
                c journalctl -q --no-pager -o short-monotonic -u "$1@*" | grep -v -e 'Deactivated successfully' -e ': Started ' | tail -n 20
                echo "--- EMBER_APP=$1"
                c journalctl -q --no-pager -o short-monotonic "EMBER_APP=$1" | tail -n 20
        } | sed 's/^/#   /'
}

# ---- the self-healing fault matrix (heal-*.sh) ------------------------------------------------------------------
# After every fault the same four things must hold: the next connection is served within 2 s, the counts are exact,
# no orphan process is left, and the journal has one line saying what happened. Set APP, LISTEN_PORT, BACKEND_PORT.

# echo_app NAME [EMBERCTL-NEW-OPTION...] [-- BACKEND-OPTION...]: APP=NAME on two fresh ports (LISTEN_PORT,
# BACKEND_PORT) with an echo backend and an idle period of 60 s (nothing stops by itself), up and served once.
echo_app() {
        local opts=() more=()
        APP=$1
        shift
        while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
        [ $# -gt 0 ] && shift && more=("$@")
        pick_ports 2
        LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
        ok "app $APP is up ${opts[*]} ${more[*]}" app_up $APP --listen=127.0.0.1:$LISTEN_PORT \
                --backend=127.0.0.1:$BACKEND_PORT --idle=60s "${opts[@]}" -- \
                "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=echo "${more[@]}"
        served_within 5000 "cold start of $APP"
}

# served_within MS DESC: one fresh connection gets its echo within MS milliseconds.
served_within() {
        local t0 t1 out want="ping-$RANDOM"
        t0=$(ms_now)
        out=$("$TOOLS/ember-test-client" --timeout=10s --send="$want" 127.0.0.1:$LISTEN_PORT 2>&1)
        t1=$(ms_now)
        if [ "$out" = "$want" ] && [ $((t1 - t0)) -le "$1" ]; then
                pass "$2: the next connection is served ($((t1 - t0)) ms)"
        else
                not_ok "$2: the next connection is served within $1 ms"
                diag "got '$out' after $((t1 - t0)) ms"
        fi
}

# backend_procs: the backend processes of this app running in the container (pgrep's count)
backend_procs() { c pgrep -c -f "^[^ ]*ember-test-backend --listen=127.0.0.1:$BACKEND_PORT" || true; }
supervisor_procs() { c pgrep -c -f "^[^ ]*ember-sandbox --app=$APP --backend=" || true; }

# counts_exact DESC [HELD]: refcount and the running instances both equal HELD (default 0), once the connections
# that are closing have gone.
_counts_are() { local n; n=$(state $APP refcount); [ "${n:-0}" = "$1" ] && [ "$(instances $APP)" = "$1" ]; } # missing: 0
counts_exact() {
        if wait_until 10 _counts_are "${2:-0}"; then
                pass "$1: refcount and running instances are ${2:-0}"
        else
                not_ok "$1: refcount and running instances are ${2:-0}"
                diag "refcount '$(state $APP refcount)', instances $(instances $APP)"
        fi
}

# no_orphan DESC: at most one backend and one supervisor, and a running backend is the one backend.pid names (or
# that one's child, for a backend started by a wrapper script).
_backend_is_supervised() {
        local pid bpid
        bpid=$(state $APP backend.pid)
        pid=$(c pgrep -f "^[^ ]*ember-test-backend --listen=127.0.0.1:$BACKEND_PORT")
        [ -n "$bpid" ] && { [ "$pid" = "$bpid" ] || [ "$(c ps -o ppid= -p "$pid" | tr -d ' ')" = "$bpid" ]; }
}
no_orphan() {
        local n s bpid
        n=$(backend_procs)
        s=$(supervisor_procs)
        bpid=$(state $APP backend.pid)
        if [ "$n" -le 1 ] && [ "$s" -le 1 ] && { [ "$n" = 0 ] || _backend_is_supervised; }; then
                pass "$1: no orphan ($n backend, $s supervisor)"
        else
                not_ok "$1: no orphan"
                diag "$n backends, $s supervisors, backend.pid '$bpid'" "$(c ps -eo pid,ppid,stat,args | grep -e ember-test-backend -e ember-sandbox | grep -v grep)"
        fi
}

# journal_once DESC EVENT BEFORE: exactly one more EMBER_EVENT=EVENT entry than BEFORE.
journal_once() {
        local n
        n=$(journal_events $APP "$2")
        is "$1: one journal entry EMBER_EVENT=$2" "$((n - $3))" 1
}
