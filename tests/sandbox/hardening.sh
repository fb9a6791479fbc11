#!/bin/bash
# What ember-sandbox does around the filter: no_new_privs, the filters loaded, inherited fds closed, signal mask and
# dispositions reset, kill action, foreign ABIs.
. "$(dirname "$0")/lib.sh"
plan 9

status=$("$SANDBOX" --policy=default -- grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs):' /proc/self/status |
        tr -s ' \t' ' ' | tr '\n' ' ')
is "default: no_new_privs, filter mode, two filters (syscalls, namespaces)" "$status" "NoNewPrivs: 1 Seccomp: 2 Seccomp_filters: 2 "

exec 7</dev/null 9>"$TMP/fd9"
r=$("$SANDBOX" --policy=default -- sh -c 'for fd in 7 9; do test -e /proc/self/fd/$fd && echo "fd $fd open"; done; echo checked')
is "inherited file descriptors are closed before exec" "$r" "checked"
exec 7<&- 9>&-

(
        trap '' PIPE HUP
        "$SANDBOX" --policy=default -- grep -E '^Sig(Ign|Blk):' /proc/self/status
) >"$TMP/sig" 2>&1
is "signals ignored by the caller are reset to default" "$(tr -s ' \t' ' ' <"$TMP/sig" | tr '\n' ' ')" \
        "SigBlk: 0000000000000000 SigIgn: 0000000000000000 "

is "strict (action kill) kills a process that calls ptrace" "$(run_probe strict ptrace 2>/dev/null)" "signal SYS"
is "strict allows getpid" "$(run_probe strict getpid)" "allowed"

printf 'mode deny-list\naction kill\ndeny ptrace\n' >"$TMP/kill.policy"
is "a deny-list with action kill kills on ptrace" "$(run_probe "$TMP/kill.policy" ptrace 2>/dev/null)" "signal SYS"
is "and lets everything else through (mount reaches the kernel)" "$(run_probe "$TMP/kill.policy" mount)" "errno ENOENT"

r=$("$SANDBOX" --policy=default -- sh -c 'echo hello from a shell | cat; exit 3')
rc=$?
is "a shell pipeline runs under default and its exit status comes through" "$r/$rc" "hello from a shell/3"

r=$("$SANDBOX" --policy=default -- "$PROBE" fork)
is "fork (clone without namespace flags) works under default" "$r" "allowed"
finish
