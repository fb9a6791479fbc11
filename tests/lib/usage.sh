# What a process costs while it waits, for tests of the client-facing bounds: its CPU time and how often it woke.
# Sourced by tests/inetd/lib.sh and the system tests (bash). Reads /proc with shell builtins only, so that many
# processes can be sampled often without the sampling itself loading the machine.

# usage_of PID: sets USAGE_CPU_MS (user + system CPU time from /proc/PID/stat, in clock ticks: 10 ms steps) and
# USAGE_WAKEUPS (voluntary context switches: each a sleep it woke from; a loop polling every 5 ms shows ~200 a
# second, a wait in poll() one per event). Shell builtins only: cheap enough to sample many launchers often. Each
# file is read whole in one go (read -d ''), as a line-wise read lseeks back and so re-renders a /proc file whose
# figures change in between. USAGE_STATE is its state letter. False if it could not be read (gone, or a torn read);
# a zombie (state Z) answers with its final figures.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
usage_of() {
        local stat= status= wake f
        read -r -d '' stat 2>/dev/null <"/proc/$1/stat"
        read -r -d '' status 2>/dev/null <"/proc/$1/status"
        f=(${stat##*) }) # from field 3 (state) on: utime is field 14, stime 15
        wake=${status#*$'\n'voluntary_ctxt_switches:}
        wake=${wake%%$'\n'*}
        wake=${wake//[[:space:]]/}
        [[ "$wake" =~ ^[0-9]+$ && "${f[11]:-}" =~ ^[0-9]+$ && "${f[12]:-}" =~ ^[0-9]+$ ]] || return 1
        USAGE_STATE=${f[0]}
        USAGE_CPU_MS=$(((f[11] + f[12]) * 1000 / CLK_TCK))
        USAGE_WAKEUPS=$wake
}
# track PID...: follow these processes; tracked_gone, a wait_until condition, samples each one (its last sample is
# what it had used at most one poll before it went) and is true once none is alive. Then tracked_max_cpu_ms,
# tracked_sum_cpu_ms, tracked_max_wakeups, tracked_sum_wakeups.
declare -gA TRACKED_CPU=() TRACKED_WAKEUPS=()
track() {
        local p
        TRACKED_CPU=()
        TRACKED_WAKEUPS=()
        for p in "$@"; do
                TRACKED_CPU[$p]=0
                TRACKED_WAKEUPS[$p]=0
        done
}
TRACKED_THERE=0 # how many were there at the last sample
tracked_gone() {
        local p
        TRACKED_THERE=0
        for p in "${!TRACKED_CPU[@]}"; do
                if usage_of "$p"; then
                        TRACKED_CPU[$p]=$USAGE_CPU_MS
                        TRACKED_WAKEUPS[$p]=$USAGE_WAKEUPS
                        [ "$USAGE_STATE" != Z ] && [ "$USAGE_STATE" != X ] && TRACKED_THERE=$((TRACKED_THERE + 1))
                elif [ -e "/proc/$p" ]; then
                        TRACKED_THERE=$((TRACKED_THERE + 1)) # not read whole this time
                fi
        done
        [ "$TRACKED_THERE" -eq 0 ]
}
_tracked() { # max|sum VALUES...
        local how=$1 v r=0
        shift
        for v in "$@"; do
                if [ "$how" = sum ]; then r=$((r + v)); elif [ "$v" -gt "$r" ]; then r=$v; fi
        done
        echo "$r"
}
tracked_max_cpu_ms() { _tracked max "${TRACKED_CPU[@]}"; }
tracked_sum_cpu_ms() { _tracked sum "${TRACKED_CPU[@]}"; }
tracked_max_wakeups() { _tracked max "${TRACKED_WAKEUPS[@]}"; }
tracked_sum_wakeups() { _tracked sum "${TRACKED_WAKEUPS[@]}"; }
