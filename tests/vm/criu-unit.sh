#!/bin/bash
# A probe, not part of make check-vm: which of the backend unit's sandbox settings (templates/backend-strict.conf,
# and what emberctl new --idle-action=checkpoint adds) keep criu from running in it. `criu check` in a transient unit
# with all of them, then with each one left out; each line says criu's verdict and its last error.
. "$(dirname "$0")/lib.sh"
props=(NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes
        "ReadOnlyPaths=/proc/sys /sys -/proc/sysrq-trigger -/proc/irq" ProtectKernelModules=yes ProtectKernelLogs=yes
        ProtectClock=yes ProtectHostname=yes RestrictSUIDSGID=yes RestrictRealtime=yes RestrictNamespaces=yes
        LockPersonality=yes SystemCallArchitectures=native "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"
        "CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_NET_BIND_SERVICE CAP_SYS_RESOURCE CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_NET_ADMIN CAP_SETPCAP CAP_SYS_CHROOT")
plan $((${#props[@]} + 2))
check() { # PROPERTY...: criu check in a transient unit with them
        local args=() p out rc
        for p in "$@"; do args+=(-p "$p"); done
        out=$(timeout 120 systemd-run --quiet --wait --pipe --collect "${args[@]}" /usr/sbin/criu check 2>&1)
        rc=$?
        echo "rc=$rc $(printf '%s\n' "$out" | grep -E 'Error|error|Looks good' | tail -n 2 | tr '\n' ' ')"
}
r=$(check); ok "no sandbox: $r" true
r=$(check "${props[@]}"); ok "the whole strict sandbox: $r" true
for ((i = 0; i < ${#props[@]}; i++)); do
        rest=("${props[@]:0:i}" "${props[@]:i+1}")
        r=$(check "${rest[@]}")
        ok "all but ${props[i]%%=*}: $r" true
done
finish
