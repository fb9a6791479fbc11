#!/bin/bash
# "action log" lets the call through and the kernel logs it: an audit record type=1326 (SECCOMP) naming the probe,
# sig=0 and the system call number appears in the kernel log.
. "$(dirname "$0")/lib.sh"

kmsg() { # the kernel log, one record per line (auditd, when it runs, takes the audit records instead)
        local out
        out=$(dd if=/dev/kmsg iflag=nonblock bs=8192 2>/dev/null)
        [ -n "$out" ] || out=$(dmesg 2>/dev/null)
        printf '%s\n' "$out"
        [ -r /var/log/audit/audit.log ] && cat /var/log/audit/audit.log
}
[ -n "$(kmsg | head -n 1)" ] || skip_all "cannot read the kernel log here (/dev/kmsg, dmesg: needs CAP_SYSLOG)"
grep -qw log /proc/sys/kernel/seccomp/actions_logged 2>/dev/null ||
        skip_all "the kernel does not log the seccomp log action (kernel.seccomp.actions_logged)"
plan 3

printf 'mode deny-list\naction log\ndeny ptrace\n' >"$TMP/log.policy"
nr=$("$PROBE" --nr ptrace)
# The record is looked up by the probe's path (exe="..."), not by its pid: the kernel writes pids as its initial PID
# namespace sees them, and inside a container (a PID namespace of its own) $! is another number. A copy under a name
# of its own tells this run's records from any other's.
probe=$(cd "$TMP" && pwd -P)/log-probe-$$
cp "$PROBE" "$probe" || bail "cannot copy $PROBE to $probe"
# The kernel rate-limits these records (printk_ratelimit): if another test just used up the burst, try again.
found=
for attempt in 1 2 3; do
        "$SANDBOX" --policy="$TMP/log.policy" -- "$probe" ptrace >"$TMP/out" 2>&1 &
        pid=$!
        wait $pid
        rc=$?
        record=$(kmsg | grep -E "type=(1326|SECCOMP)" | grep -F " exe=\"$probe\" " | tail -n 1)
        [ -n "$record" ] && found=1 && break
        sleep 5.5
done
is "action log lets the call through (ptrace reaches the kernel)" "$rc/$(cat "$TMP/out")" "0/errno ESRCH"
ok "the kernel logged a seccomp audit record for the probe ($probe)" test "$found" = 1
# (one line: " sig=0 ", later "syscall=NR ")
like "the record names system call $nr (ptrace) and no signal" "$record" " sig=0 .*syscall=$nr "
finish
