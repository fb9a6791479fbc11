#!/bin/bash
# Every group the default policy denies, proven by a probe that really makes the call: under --policy=default it
# gets EPERM; under the same policy with "action errno EDOM" it gets EDOM, an errno the kernel never returns for
# these calls, so it is the filter that answered. What a server needs stays allowed.
. "$(dirname "$0")/lib.sh"

denied="mount umount chroot unshare-user unshare-mount unshare-net clone-newuser setns ptrace process_vm_readv
perf_event_open kexec bpf init_module finit_module reboot swapon settime ioperm iopl keyctl add_key io_uring
userfaultfd chmod-suid sched-fifo"
allowed="getpid socket fork"
available=" $("$PROBE" --list | tr '\n' ' ') "
probes=
for p in $denied; do
        case $available in *" $p "*) probes="$probes $p" ;; esac
done
n=$(echo $probes | wc -w)
plan $((2 * n + 2 + $(echo $allowed | wc -w) + 2))

sed 's/^action .*/action errno EDOM/' "$EMBER_POLICY_DIR/default.policy" >"$TMP/edom.policy"
grep -q '^action errno EDOM$' "$TMP/edom.policy" || bail "could not derive a policy from default.policy"

for p in $probes; do
        is "default denies $p with EPERM" "$(run_probe default "$p")" "denied EPERM"
done
for p in $probes; do
        is "the filter is what denies $p (action errno EDOM)" "$(run_probe "$TMP/edom.policy" "$p")" "errno EDOM"
done

is "default answers clone3 with ENOSYS (flags unreadable; libc falls back to clone)" "$(run_probe default clone3)" "errno ENOSYS"
is "clone3 gets ENOSYS whatever the action" "$(run_probe "$TMP/edom.policy" clone3)" "errno ENOSYS"

is "default refuses socket(AF_PACKET) with EAFNOSUPPORT (restrict-address-families)" "$(run_probe default socket-packet)" \
        "errno EAFNOSUPPORT"
for p in $allowed; do
        is "default allows $p" "$(run_probe default "$p")" "allowed"
done

case $available in
*" i386-getpid "*)
        if i386_faults; then
                skip 1 "int 0x80 faults here without any filter: this kernel or its hypervisor runs no 32-bit system calls"
        else
                is "a 32-bit (int 0x80) system call from 64-bit code is killed" "$(run_probe default i386-getpid 2>/dev/null)" "signal SYS"
        fi ;;
*) skip 1 "no foreign ABI to try on $(uname -m)" ;;
esac
finish
