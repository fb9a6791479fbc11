#!/bin/bash
# --idle-action=freeze under a real systemd: emberctl new writes it (and Delegate=yes, for a cgroup of the
# backend's own where there is cgroup v2); after the idle period the backend's processes are frozen and the app
# shows as frozen; the next connection thaws the same backend without a cold start; `systemctl stop` of a frozen
# backend stops it cleanly; --freeze-for stops it by itself. Here (cgroup v1, or a read-only cgroup tree in the
# container) the freeze is SIGSTOP to the backend's process group; tests/vm/idle-freeze.sh covers cgroup v2.
. "$(dirname "$0")/lib.sh"
plan 27

sys_boot
proc_state() { proc_status "$1" State | cut -c1; } # (awk is an alternatives link the volatile /etc lacks)
runs() { [ -n "$(proc_state "$1")" ] && [ "$(proc_state "$1")" != T ]; }
state_is() { [ "$(state $APP state)" = "$1" ]; }

echo_app freezer --idle=2s --idle-action=freeze
unit=$(c cat /etc/systemd/system/$APP-backend.service)
like "the backend unit runs the supervisor with --idle-action=freeze" "$unit" 'ExecStart=.*--idle-action=freeze'
like "and delegates its cgroup" "$unit" $'\nDelegate=yes'
bpid=$(state $APP backend.pid)
ok "after the 2 s idle period the state is frozen" wait_until 15 state_is frozen
is "the backend process is stopped, not gone" "$(proc_state "$bpid")" T
is "one journal entry EMBER_EVENT=freeze" "$(journal_events $APP freeze)" 1
like "emberctl status shows it frozen" "$(c "$EMBERCTL" status $APP)" "^$APP +frozen"
is "the backend unit stays active" "$(unit_prop $APP-backend.service ActiveState)" active
served_within 2000 "thawed"
is "served by the same backend process" "$(state $APP backend.pid)" "$bpid"
ok "which runs again" runs "$bpid"
is "no second cold start" "$(state $APP cold-starts)" 1
is "one journal entry EMBER_EVENT=thaw" "$(journal_events $APP thaw)" 1
like "with how long it was frozen" "$(journal_field $APP thaw EMBER_FROZEN_MS)" '^[0-9]+$'
counts_exact "after the thaw"

ok "idle again, frozen again" wait_until 15 state_is frozen
c systemctl stop $APP-backend.service
is "systemctl stop of a frozen backend: the unit is inactive" "$(unit_prop $APP-backend.service ActiveState)" inactive
is "its state is cold" "$(state $APP state)" cold
no_orphan "stop while frozen"
is "its run ended as a stop, not a crash" "$(journal_events $APP stop):$(journal_events $APP crash)" 1:0
served_within 5000 "cold start after the stop"

# ---- --freeze-for -----------------------------------------------------------------------------------------------
echo_app thawless --idle=1s --idle-action=freeze --freeze-for=2s
ok "frozen after the idle period" wait_until 15 state_is frozen
ok "--freeze-for=2s later it is stopped: cold" wait_until 15 state_is cold
no_orphan "after --freeze-for"
finish
