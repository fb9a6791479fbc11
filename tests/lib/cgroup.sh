# tests/lib/cgroup.sh: a cgroup of its own for a systemd container booted with systemd-nspawn (the system tests'
# tests/system/lib.sh, bench/bench.sh through it, demo/run). Bash; sourced, defines functions only.
#
# Why: a container's systemd owns the cgroup it is given (with --keep-unit: the one nspawn is started in), and what
# runs there is its to stop and kill. If that cgroup also holds whoever started the test (make, .ci/run, a CI job),
# the container's systemd may end them. So the container gets a new, empty cgroup, and that is checked:
#
#   ( cgroup_enter NAME LIST 2>WHY && exec systemd-nspawn --keep-unit ... ) &
#                                 this subshell moves itself into a new cgroup NAME below its own, in every hierarchy
#                                 a systemd container uses, and checks /proc/self/cgroup that it is there; the
#                                 directories it made are appended to the file LIST; 1, saying why on stderr, if not
#   cgroup_systemd_pid1           PID 1 here is systemd: nspawn without --keep-unit asks it for a scope of its own
#   cgroup_holds PID CALLER       prints why (nothing if fine) the cgroup of the container whose PID 1 is PID holds
#                                 the process CALLER, or cannot be told
#   cgroup_remove LIST            removes the directories in LIST (and what was made in them) once empty

# The hierarchies a systemd container uses: the named systemd one and the unified one of a hybrid host, or the
# unified one alone. Writable or not: a container in one we cannot move in would be in its caller's cgroup there.
cgroup_hierarchies() {
        local h
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                [ -e "$h/cgroup.procs" ] && echo "$h"
        done
        [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup
        return 0
}

# cgroup_path PID HIERARCHY: PID's cgroup in that hierarchy as /proc/PID/cgroup names it, relative to our cgroup
# namespace's root ("/.." and below: outside it, as a process nsenter'ed into a container is).
cgroup_path() {
        awk -F: -v h="$2" '(h ~ /systemd$/ && $2 == "name=systemd") || (h !~ /systemd$/ && $1 == "0") { print $3; exit }' \
                "/proc/$1/cgroup" 2>/dev/null
}

cgroup_enter() {
        local name=$1 list=$2 h cur got err me=$BASHPID hs
        hs=$(cgroup_hierarchies)
        [ -n "$hs" ] || { echo "no cgroup hierarchy at /sys/fs/cgroup" >&2; return 1; }
        for h in $hs; do
                cur=$(cgroup_path "$me" "$h")
                # outside our cgroup namespace: below its root, the one we see
                case "$cur" in /..*) cur= ;; esac
                cur=${cur%/}
                # no -p: a cgroup of that name that exists already is not ours
                err=$(mkdir "$h$cur/$name" 2>&1) || { echo "cannot create $h$cur/$name: ${err##*: }" >&2; return 1; }
                echo "$h$cur/$name" >>"$list"
                err=$( (echo "$me" >"$h$cur/$name/cgroup.procs") 2>&1) ||
                        { echo "cannot move into $h$cur/$name: ${err##*: }" >&2; return 1; }
                got=$(cgroup_path "$me" "$h")
                [ "$got" = "$cur/$name" ] || { echo "in '$got', not in $h$cur/$name, after moving there" >&2; return 1; }
        done
        return 0
}

cgroup_systemd_pid1() { [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; }

# cgroup_holds PID CALLER: in every hierarchy, the container's cgroup (that of its PID 1, above init.scope and
# nspawn's payload) must be known, and must not be CALLER's cgroup or one above it.
cgroup_holds() {
        local h r me
        for h in $(cgroup_hierarchies); do
                r=$(cgroup_path "$1" "$h")
                r=${r%/init.scope}
                r=${r%/payload}
                me=$(cgroup_path "$2" "$h")
                if [ -z "$r" ] || [ -z "$me" ]; then
                        printf ' in %s the cgroups of %s and %s are not both known (%s, %s);' "$h" "$1" "$2" "$r" "$me"
                elif [ "$r" = "$me" ] || [ "${me#"${r%/}"/}" != "$me" ]; then
                        printf ' in %s the container'"'"'s cgroup %s holds process %s (in %s);' "$h" "$r" "$2" "$me"
                fi
        done
}

cgroup_remove() {
        local d
        [ -s "$1" ] || return 0
        while read -r d; do
                [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done <"$1"
        return 0
}
