# What a process costs while it waits, for tests of the client-facing bounds: its CPU time and how often it woke.
# Sourced by tests/inetd/lib.sh and the system tests (bash). Reads /proc with shell builtins only, so that many
# processes can be sampled often without the sampling itself loading the machine.

# usage_of PID: sets USAGE_CPU_MS (user + system CPU time from /proc/PID/stat, in clock ticks: 10 ms steps) and
# USAGE_WAKEUPS (voluntary context switches: each a sleep it woke from; a loop polling every 5 ms shows ~200 a
# second, a wait in poll() one per event). Shell builtins only: cheap enough to sample many launchers often. Each
# file is read whole in one go (read -d ''), as a line-wise read lseeks back and so re-renders a /proc file whose
# figures change in between. USAGE_STATE is its state letter, USAGE_START_MS when it started (ms since boot). False if it could not be read (gone, or a torn read);
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
        USAGE_START_MS=$((f[19] * 1000 / CLK_TCK)) # field 22: when it was started, since boot
        USAGE_CPU_MS=$(((f[11] + f[12]) * 1000 / CLK_TCK))
        USAGE_WAKEUPS=$wake
}
# uptime_ms: sets UPTIME_MS, now in ms since boot (the clock of /proc/PID/stat's start time)
uptime_ms() {
        local up
        read -r up _ </proc/uptime
        UPTIME_MS=$((10#${up%.*} * 1000 + 10#${up#*.} * 10))
}
# track PID...: follow these processes; tracked_gone, a wait_until condition, samples each one (its last sample is
# what it had used at most one poll before it went) and is true once none is alive. Then tracked_max_cpu_ms,
# tracked_sum_cpu_ms, tracked_max_wakeups, tracked_sum_wakeups, and tracked_min_life_ms / tracked_max_life_ms: from
# each one's start to the first sample that found it gone (so never less than it lived; more by one poll at most).
declare -gA TRACKED_CPU=() TRACKED_WAKEUPS=() TRACKED_START=() TRACKED_END=()
track() {
        local p
        TRACKED_CPU=()
        TRACKED_WAKEUPS=()
        TRACKED_START=()
        TRACKED_END=()
        for p in "$@"; do
                TRACKED_CPU[$p]=0
                TRACKED_WAKEUPS[$p]=0
        done
}
# track_more PID...: follow these too (the ones followed already keep what was seen of them)
track_more() {
        local p
        for p in "$@"; do
                [ -n "${TRACKED_CPU[$p]:-}" ] && continue
                TRACKED_CPU[$p]=0
                TRACKED_WAKEUPS[$p]=0
        done
}
TRACKED_THERE=0 # how many were there at the last sample
tracked_gone() {
        local p ended=()
        TRACKED_THERE=0
        for p in "${!TRACKED_CPU[@]}"; do
                [ -n "${TRACKED_END[$p]:-}" ] && continue
                if usage_of "$p"; then
                        TRACKED_CPU[$p]=$USAGE_CPU_MS
                        TRACKED_WAKEUPS[$p]=$USAGE_WAKEUPS
                        TRACKED_START[$p]=$USAGE_START_MS
                        if [ "$USAGE_STATE" = Z ] || [ "$USAGE_STATE" = X ]; then
                                ended+=("$p")
                        else
                                TRACKED_THERE=$((TRACKED_THERE + 1))
                        fi
                elif [ -e "/proc/$p" ]; then
                        TRACKED_THERE=$((TRACKED_THERE + 1)) # not read whole this time
                else
                        ended+=("$p")
                fi
        done
        uptime_ms # after the looks: no end is taken before the exit it stands for
        for p in "${ended[@]}"; do TRACKED_END[$p]=$UPTIME_MS; done
        [ "$TRACKED_THERE" -eq 0 ]
}
_tracked() { # max|sum|min VALUES...
        local how=$1 v r=
        shift
        for v in "$@"; do
                case $how in
                sum) r=$((${r:-0} + v)) ;;
                max) [ -z "$r" ] || [ "$v" -gt "$r" ] && r=$v ;;
                min) [ -z "$r" ] || [ "$v" -lt "$r" ] && r=$v ;;
                esac
        done
        echo "${r:-0}"
}
_tracked_lives() {
        local p
        for p in "${!TRACKED_END[@]}"; do
                [ -n "${TRACKED_START[$p]:-}" ] && echo $((TRACKED_END[$p] - TRACKED_START[$p]))
        done
}
tracked_max_cpu_ms() { _tracked max "${TRACKED_CPU[@]}"; }
tracked_sum_cpu_ms() { _tracked sum "${TRACKED_CPU[@]}"; }
tracked_max_wakeups() { _tracked max "${TRACKED_WAKEUPS[@]}"; }
tracked_sum_wakeups() { _tracked sum "${TRACKED_WAKEUPS[@]}"; }
tracked_max_life_ms() { _tracked max $(_tracked_lives); }
tracked_min_life_ms() { _tracked min $(_tracked_lives); }
# slack_ms MS: how long past a bound a process may take to exit and be seen gone. A sanitized build exits slowly
# (its runtime's work at exit, many at once on a loaded machine): three times as long there.
slack_ms() {
        if [ -n "${EMBER_SANITIZED:-}${SANITIZED:-}" ]; then echo $(($1 * 3)); else echo "$1"; fi
}
# cpu_budget_ms MS: what a waiting launcher may use in all, its start included. A sanitized build's runtime alone
# costs tens of ms of CPU per exec, more when many start at once: there the budget is ten times larger, and the
# wake-ups (which the sanitizers do not add to) are the sharper measure of a busy loop.
cpu_budget_ms() {
        if [ -n "${EMBER_SANITIZED:-}${SANITIZED:-}" ]; then echo $(($1 * 10)); else echo "$1"; fi
}
