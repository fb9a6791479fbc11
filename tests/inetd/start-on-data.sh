#!/bin/bash
# --start-on=data: a client that connects and closes without sending a byte starts nothing; one that sends does.
. "$(dirname "$0")/lib.sh"
plan 10
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --start-on=data)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

client --connect-only "$ADDR"
is "a client connects and closes at once" "$?" 0
ok "its launcher exits" wait_until 5 launchers_gone
client --send='' "$ADDR"
is "a client connects, half-closes without data, and gets EOF" "$?" 0
ok "its launcher exits" wait_until 5 launchers_gone
# a launcher starts a supervisor (forks it) before it exits, and a supervisor would run for --idle (30 s): with the
# launchers gone, no process of ours is a supervisor or a launcher's fork, and no supervisor ever wrote its pid
no_supervisor() {
        ! ember_pids | xargs -r ps -o comm= -p | grep -qx -e ember-sandbox -e ember-launch &&
                [ ! -e "$STATE/supervisor.pid" ]
}
ok "no supervisor was started" no_supervisor
cs=$(st cold-starts)
is "cold-starts stays 0" "${cs:-0}" 0
is "no backend process was started" "$(backend_starts)" 0

out=$(client --send='data\n' "$ADDR")
is "a client that sends data is served" "$out" data
is "by one cold start" "$(st cold-starts)" 1
is "one backend process" "$(backend_starts)" 1
finish
