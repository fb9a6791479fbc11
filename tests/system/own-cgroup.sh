#!/bin/bash
# The harness itself: a test's container lives in a cgroup of its own, and its systemd powering off ends nothing of
# whoever started the test. A container's systemd owns the cgroup it is given; if that also held the caller (make,
# .ci/run, a CI job) the container's poweroff could end them (issue 23: .ci/run SIGKILLed in a Debian container).
# Checked: the container's cgroup holds neither this script nor its parent; with --keep-unit every process in that
# cgroup is systemd-nspawn or the container's own; a process beside this script survives the container's poweroff;
# and cgroup_enter refuses, saying why, a cgroup it cannot be sure is new and its own.
# SYS_CGROUP_MODE=scope tries the other way (nspawn asks PID 1 for a scope), where PID 1 is systemd.
. "$(dirname "$0")/lib.sh"
plan 6

# a process beside this script, in its cgroup, started before the container
sleep 600 &
bystander=$!
sys_boot
diag "the container's cgroup: $C_CGROUP_MODE"

for who in $$ $PPID; do
        is "the container's cgroup does not hold $(cat /proc/$who/comm) ($who)" "$(cgroup_holds "$C_PID" "$who")" ""
done

# every process in the container's cgroup (above init.scope and nspawn's payload), in every hierarchy, is nspawn or
# in the container's pid namespace
_strangers() {
        local h r p ns
        ns=$(readlink "/proc/$C_PID/ns/pid")
        for h in $(cgroup_hierarchies); do
                r=$(cgroup_path "$C_PID" "$h")
                r=${r%/init.scope}
                r=${r%/payload}
                case "$r" in /..*) echo "$h: the container's cgroup is outside ours ($r)"; continue ;; esac
                for p in $(find "$h$r" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un); do
                        [ "$p" = "$NSPAWN_PID" ] && continue
                        [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] && continue
                        [ -e "/proc/$p" ] || continue # ended meanwhile
                        echo "$h$r holds $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
                done
        done
}
is "every process in the container's cgroup is systemd-nspawn or the container's" "$(_strangers)" ""

# power the container off, as sys_cleanup does, and wait for nspawn to end
_proc_is "$C_PID" "$NSPAWN_PID" systemd && kill -s RTMIN+4 "$C_PID"
ok "the container powers off" wait_until 30 sh -c "! kill -0 $NSPAWN_PID 2>/dev/null || grep -q '^State:.*zombie' /proc/$NSPAWN_PID/status"
wait "$NSPAWN_PID" 2>/dev/null
NSPAWN_PID=
ok "the process beside this script survived the poweroff" kill -0 "$bystander"
kill "$bystander"
wait "$bystander" 2>/dev/null

# cgroup_enter never joins a cgroup that exists already (it may be someone else's), and says so
h=$(cgroup_hierarchies | head -n 1)
cur=$(cgroup_path $$ "$h")
case "$cur" in /..*) cur= ;; esac
name=ember-own-cgroup-$$-taken
if mkdir "$h${cur%/}/$name" 2>/dev/null; then
        (cgroup_enter "$name" "$T_TMP/taken.list" 2>"$T_TMP/taken.why")
        rc=$?
        like "cgroup_enter refuses a cgroup that exists already (exit $rc), saying so" "$rc $(tail -n 1 "$T_TMP/taken.why")" \
                "^1 cannot create $(re_quote "$h${cur%/}/$name"): File exists$"
        rmdir "$h${cur%/}/$name"
else
        skip 1 "cannot create a cgroup next to this script's in $h"
fi
finish
