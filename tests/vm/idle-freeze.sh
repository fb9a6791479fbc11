#!/bin/bash
# --idle-action=freeze on cgroup v2: the backend runs in a cgroup of its own under the backend unit's (the supervisor
# stays in the unit's), which cgroup.freeze freezes at the idle deadline; the next connection thaws it and the same
# process, with its memory, serves it: a counter goes on where it stopped, no cold start. A frozen backend is stopped
# cleanly by systemctl stop, and its cgroup goes with the run.
. "$(dirname "$0")/lib.sh"
plan 17

APP=frz PORT=18301 BPORT=18302
ok "app $APP is up (emberctl new --idle-action=freeze --now)" app_new $APP --listen=127.0.0.1:$PORT \
        --backend=127.0.0.1:$BPORT --idle=3s --idle-action=freeze -- /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT
is "the backend counts" "$(line_client $PORT count count)" "1
2"
cg=/sys/fs/cgroup/system.slice/$APP-backend.service
bpid=$(state $APP backend.pid)
spid=$(unit_prop $APP-backend.service MainPID)
ok "the backend ($bpid) is in the cgroup of its own, $cg/backend" grep -qx "$bpid" $cg/backend/cgroup.procs
ok "the supervisor ($spid) is in the unit's" grep -qx "$spid" $cg/cgroup.procs
state_is() { [ "$(state $APP state)" = "$1" ]; }
ok "after the idle period the state is frozen" wait_until 60 state_is frozen
frozen() { grep -qx "frozen $1" $cg/backend/cgroup.events; }
ok "the backend's cgroup is frozen (cgroup.events)" wait_until 10 frozen 1
ok "the unit's own cgroup is not (the supervisor runs)" grep -qx "frozen 0" $cg/cgroup.events
is "the journal says how: EMBER_FREEZE=cgroup" "$(journal_field $APP freeze EMBER_FREEZE)" cgroup
like "emberctl status shows it frozen" "$("$EMBERCTL" status $APP)" "^$APP +frozen"
is "the next connection thaws it: the counter goes on" "$(line_client $PORT count)" 3
is "the same backend process" "$(state $APP backend.pid)" "$bpid"
is "no second cold start" "$(state $APP cold-starts)" 1
ok "its cgroup is thawed" frozen 0
is "one journal entry EMBER_EVENT=thaw" "$(journal_events $APP thaw)" 1

ok "idle again, frozen again" wait_until 60 state_is frozen
systemctl stop $APP-backend.service
is "systemctl stop of the frozen backend: the run ended as a stop, the app cold" \
        "$(journal_events $APP stop):$(state $APP state)" 1:cold
ok "no backend process is left, and its cgroup is gone" sh -c "! kill -0 $bpid 2>/dev/null && test ! -e $cg/backend"
finish
