#!/bin/bash
# Load under a real systemd: 50 concurrent connections to a cold app start exactly one backend (one cold-start in the
# journal); a burst of 2000 connections in 2 s (64 in flight) all succeed and leave the socket active, not in
# trigger-limit-hit, with no failed unit and no instance left behind.
. "$(dirname "$0")/lib.sh"
plan 25

APP=storm
PIDLOG=/run/storm/backend.pids # in a directory the backend is given with --rw-path=

sys_boot
c mkdir -p -m 0777 /run/storm # the backend, a user of its own, writes its pid log there
pick_ports 3
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]} CONTROL_PORT=${PORTS[2]}
[ -x "$TOOLS/ember-test-backend" ] && [ -x "$TOOLS/ember-test-client" ] || bail "test tools not built in $TOOLS"

refcount_is() { [ "$(state $APP refcount)" = "$1" ]; }
instances_all() { c systemctl list-units --all --no-legend --plain "$APP@*" | grep -c "^$APP@"; }
no_instances() { [ "$(instances_all)" = 0 ]; }

# --idle=600s: the backend must stay warm from the first storm to the end, and on a loaded machine the control burst
# alone has taken over 60 s (seen in a Debian 12 container: idle-stop during the control, a second cold start)
ok "app with the HTTP test backend is up" app_up $APP --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT \
        --idle=600s --rw-path=/run/storm -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=http \
        --ready-delay=300ms --pid-log=$PIDLOG
is "cold before the storm" "$(unit_prop $APP-backend.service ActiveState)" inactive

# ---- 50 concurrent cold connections: one backend ------------------------------------------------------------
"$TOOLS/ember-test-client" --parallel=50 --send='GET / HTTP/1.0\r\n\r\n' --timeout=60s 127.0.0.1:$LISTEN_PORT \
        >"$T_TMP/storm.out" 2>"$T_TMP/storm.err"
is "50 concurrent cold connections all succeed" "$?" 0
is "all 50 got an answer" "$(grep -c 'hello from' "$T_TMP/storm.out")" 50
is "all 50 were answered by the same backend" "$(grep -o 'hello from [0-9]*' "$T_TMP/storm.out" | sort -u | wc -l)" 1
is "exactly one cold-start event in the journal" "$(journal_events $APP cold-start)" 1
is "exactly one ready event in the journal" "$(journal_events $APP ready)" 1
is "the backend was started exactly once (its own pid log)" "$(c cat $PIDLOG | wc -l)" 1
is "cold-starts is 1" "$(state $APP cold-starts)" 1
is "systemd got READY=1: $APP-backend.service is active/running" \
        "$(unit_prop $APP-backend.service ActiveState)/$(unit_prop $APP-backend.service SubState)" active/running
ok "refcount back to 0" wait_until 15 refcount_is 0

# ---- control: systemd's default trigger limit would not survive the burst ------------------------------------
c sh -c 'printf "[Socket]\nListenStream=127.0.0.1:%s\nAccept=yes\n" "$1" >/etc/systemd/system/control.socket &&
        printf "[Unit]\nCollectMode=inactive-or-failed\n[Service]\nExecStart=/bin/sh -c \"cat >/dev/null; echo HTTP/1.0 200 OK\"\nStandardInput=socket\n" \
                >/etc/systemd/system/control@.service &&
        systemctl daemon-reload && systemctl start control.socket' sh "$CONTROL_PORT"
python3 "$(dirname "$0")/burst.py" 127.0.0.1 $CONTROL_PORT 2000 2 64 10 >"$T_TMP/control.out" 2>&1
diag "control burst: $(head -n 1 "$T_TMP/control.out")"
# The limit trips at 200 triggers in 2 s. A PID 1 that, on a loaded machine, accepts fewer than 100 a second
# (the 2000 take 20 s or more) cannot trip it, and then the control shows nothing either way.
control_secs=$(sed -n 's/.* seconds=\([0-9]*\)\..*/\1/p' "$T_TMP/control.out" | head -n 1)
control_result=$(unit_prop control.socket Result)
if [ "$control_result" != trigger-limit-hit ] && [ "${control_secs:-0}" -ge 20 ]; then
        skip 1 "control: PID 1 took ${control_secs} s for the 2000 (a loaded machine), too slow to trip systemd's default limit"
else
        is "control: the same burst puts a socket with systemd's default limits into trigger-limit-hit" \
                "$control_result" trigger-limit-hit
fi

# ---- 2000 connections in 2 s --------------------------------------------------------------------------------
accepted0=$(unit_prop $APP.socket NAccepted)
python3 "$(dirname "$0")/burst.py" 127.0.0.1 $LISTEN_PORT 2000 2 64 60 >"$T_TMP/burst.out" 2>&1
rc=$?
diag "burst: $(head -n 1 "$T_TMP/burst.out")"
is "2000 connections in 2 s (64 in flight): 0 failed" "$rc" 0
[ "$rc" = 0 ] || diag_file "$T_TMP/burst.out"
is "$APP.socket is still active" "$(unit_prop $APP.socket ActiveState)/$(unit_prop $APP.socket SubState)" active/listening
is "$APP.socket never hit its trigger limit (Result=success, not trigger-limit-hit)" "$(unit_prop $APP.socket Result)" success
is "systemd accepted all 2000" "$(($(unit_prop $APP.socket NAccepted) - accepted0))" 2000
is "systemd refused none (MaxConnections)" "$(unit_prop $APP.socket NRefused)" 0
is "no failed units at all" "$(c systemctl list-units --failed --no-legend --plain "$APP*" | wc -l)" 0
ok "every instance is gone (collected)" wait_until 30 no_instances
ok "refcount back to 0" wait_until 15 refcount_is 0
is "still one cold start: the backend stayed warm" "$(state $APP cold-starts)" 1
is "still one backend run (pid log)" "$(c cat $PIDLOG | wc -l)" 1
is "$APP-backend.service is still active/running" \
        "$(unit_prop $APP-backend.service ActiveState)/$(unit_prop $APP-backend.service SubState)" active/running
is "connections served: 2050" "$(state $APP connections)" 2050
is "still no failed units" "$(c systemctl list-units --failed --no-legend --plain "$APP*" | wc -l)" 0

tap_passing || diag_journal $APP
finish
