#!/bin/bash
# A backend killed by a policy with "action kill" is reported by the supervisor as "killed by seccomp (syscall
# NAME)" with EMBER_EVENT=seccomp-kill, not as a bare crash; waiting clients are closed, nothing hangs.
. "$(dirname "$0")/../inetd/lib.sh"
plan 4
ember_setup
cat >"$TEST_DIR/kill.policy" <<POLICY
mode deny-list
action kill
deny ptrace
POLICY
cat >"$TEST_DIR/backend" <<WRAP
#!/bin/sh
exec "$top_builddir/tests/sandbox/probe" ptrace
WRAP
chmod +x "$TEST_DIR/backend"
BACKEND=$TEST_DIR/backend
LAUNCH_ARGS=(--start-timeout=5s)
SANDBOX_ARGS=(--idle=30s --policy="$TEST_DIR/kill.policy")
ember_start

out=$(client --timeout=15s --send='x\n' "$ADDR" 2>/dev/null)
is "the client of a backend killed by seccomp is closed without an answer" "$out" ""
like "the supervisor reports a seccomp kill, not a bare crash" "$(lowercase <"$LOG")" 'seccomp-kill|killed by seccomp \(syscall [a-z0-9_]+\)'
if [ "$(id -u)" = 0 ] && [ -r /dev/kmsg ]; then
        like "and names the syscall from the kernel's audit line" "$(lowercase <"$LOG")" 'killed by seccomp \(syscall ptrace\)'
else
        skip 1 "reading the kernel's audit line needs root and /dev/kmsg"
fi
ok "the app is cold again" wait_until 5 st_is state cold
finish
