#!/bin/bash
# --policy=none loads no filter at all: the kernel sees every call (the probes' harmless arguments make it fail with
# its own errno, or succeed), and the 32-bit ABI works.
. "$(dirname "$0")/lib.sh"

denied="mount umount chroot unshare-mount setns ptrace perf_event_open kexec bpf init_module reboot swapon settime
ioperm iopl keyctl io_uring"
available=" $("$PROBE" --list | tr '\n' ' ') "
probes=
for p in $denied; do
        case $available in *" $p "*) probes="$probes $p" ;; esac
done
plan $(($(echo $probes | wc -w) + 4))

status=$("$SANDBOX" --policy=none -- grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s ' \t' ' ' | tr '\n' ' ')
is "no filter is loaded, no_new_privs still is" "$status" "NoNewPrivs: 1 Seccomp: 0 "
is "getpid is allowed" "$(run_probe none getpid)" "allowed"
case $available in
*" i386-getpid "*)
        if i386_faults; then
                skip 1 "int 0x80 faults here without any filter: this kernel or its hypervisor runs no 32-bit system calls"
        else
                is "the 32-bit ABI is not blocked" "$(run_probe none i386-getpid)" "allowed"
        fi ;;
*) skip 1 "no foreign ABI to try on $(uname -m)" ;;
esac
is "clone3 reaches the kernel (which rejects a NULL argument)" "$(run_probe none clone3)" "errno EINVAL"

for p in $probes; do
        if is_root; then
                r=$(run_probe none "$p")
                case $r in
                "denied EPERM" | signal*) not_ok "$p reaches the kernel unfiltered"; diag "got: $r" ;;
                *) pass "$p reaches the kernel unfiltered ($r)" ;;
                esac
        else
                skip 1 "not root: the kernel itself answers $p with EPERM"
        fi
done
finish
