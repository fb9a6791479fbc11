#!/bin/bash
# --start-on=data: a client that connects and closes without sending a byte starts nothing; one that sends does.
. "$(dirname "$0")/lib.sh"
plan 10
ember_setup
LAUNCH_ARGS=(--start-timeout=10s --start-on=data)
SANDBOX_ARGS=(--idle=30s --policy=none)
ember_start

client --connect-only "$ADDR"
is "$?" 0 "a client connects and closes at once"
ok "its launcher exits" wait_until 5 launchers_gone
client --send='' "$ADDR"
is "$?" 0 "a client connects, half-closes without data, and gets EOF"
ok "its launcher exits" wait_until 5 launchers_gone
sleep 0.5
ok "no supervisor was started" test ! -e "$STATE/supervisor.pid"
cs=$(st cold-starts)
is "${cs:-0}" 0 "cold-starts stays 0"
is "$(backend_starts)" 0 "no backend process was started"

out=$(client --send='data\n' "$ADDR")
is "$out" data "a client that sends data is served"
is "$(st cold-starts)" 1 "by one cold start"
is "$(backend_starts)" 1 "one backend process"
