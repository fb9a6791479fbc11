#!/bin/bash
# A second protocol under a real systemd: redis-server (as user nobody, seccomp policy "default") behind ember,
# driven by redis-cli cold and warm; data lives as long as the backend run and is gone after the idle stop.
. "$(dirname "$0")/lib.sh"
plan 26

APP=kv
IDLE=3

sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        bail "redis-server and redis-cli are needed (package redis-server; CI installs it)"

rcli() { redis-cli -h 127.0.0.1 -p $LISTEN_PORT "$@"; }
refcount_is() { [ "$(state $APP refcount)" = "$1" ]; }
backend_inactive() { [ "$(unit_prop $APP-backend.service ActiveState)" = inactive ]; }

ok "emberctl new + daemon-reload + enable --now (redis-server, --user=nobody, --policy=default)" \
        app_up $APP --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --idle=${IDLE}s \
        --user=nobody --policy=default -- \
        redis-server --port $BACKEND_PORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir /tmp
ok "systemd-analyze verify passes on the generated units" \
        verify_units /etc/systemd/system/$APP.socket /etc/systemd/system/$APP@.service \
        /etc/systemd/system/$APP-backend.socket /etc/systemd/system/$APP-backend.service
ok "cold: the backend is not running" backend_inactive

t0=$(ms_now)
out=$(rcli PING 2>&1)
t1=$(ms_now)
is "cold: redis-cli PING answers PONG ($((t1 - t0)) ms)" "$out" PONG
is "one cold start" "$(state $APP cold-starts)" 1
bpid=$(state $APP backend.pid)
is "the backend runs as nobody" "$(c ps -o user= -p "$bpid" | tr -d ' ')" nobody
is "the backend is redis-server" "$(c ps -o comm= -p "$bpid")" redis-server
ok "the backend is confined by seccomp (Seccomp: 2 in /proc/PID/status)" \
        c grep -qx 'Seccomp:[[:space:]]*2' "/proc/$bpid/status"
ok "the backend cannot regain privileges (NoNewPrivs: 1)" c grep -qx 'NoNewPrivs:[[:space:]]*1' "/proc/$bpid/status"

is "warm: SET" "$(rcli SET greeting hello 2>&1)" OK
is "warm: GET returns what was set" "$(rcli GET greeting 2>&1)" hello
is "warm: INCR" "$(rcli INCR counter 2>&1)" 1
is "warm: INCR again, same backend" "$(rcli INCR counter 2>&1)" 2
is "still one cold start" "$(state $APP cold-starts)" 1
is "same backend pid" "$(state $APP backend.pid)" "$bpid"

# a pipeline of many commands on one connection
out=$( (for i in $(seq 1 500); do echo "INCR pipelined"; done) | rcli 2>&1 | tail -n 1)
is "500 pipelined commands over one connection" "$out" 500
# a connection held open across commands: redis-cli reads the commands from a pipe that stays open
mkfifo "$T_TMP/cmds"
rcli <"$T_TMP/cmds" >"$T_TMP/held.out" 2>&1 &
held=$!
exec 7>"$T_TMP/cmds"
echo "SET held yes" >&7
ok "a held redis connection counts as one live connection" wait_until 10 refcount_is 1
is "and shows as one running $APP@ instance" "$(instances $APP)" 1
sleep $((IDLE + 1))
is "an open connection keeps the backend warm past the idle period" "$(state $APP state)" warm
echo "GET held" >&7
exec 7>&-
wait $held
is "the held connection got its answers" "$(tr '\n' ' ' <"$T_TMP/held.out")" "OK yes "

ok "idle stop after the last connection" wait_until $((IDLE + 15)) backend_inactive
is "state cold" "$(state $APP state)" cold
is "journal: the idle-stop counted the run's 7 connections" "$(journal_field $APP idle-stop EMBER_CONNECTIONS)" 7
out=$(rcli GET greeting 2>&1)
is "re-wake: a new backend answers (empty: nothing is persisted, --save '')" "$out" ""
is "two cold starts" "$(state $APP cold-starts)" 2
ok "no failed units" test "$(c systemctl list-units --failed --no-legend --plain "$APP*" | wc -l)" = 0

tap_passing || diag_journal $APP
finish
