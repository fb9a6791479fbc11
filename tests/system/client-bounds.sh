#!/bin/bash
# Issue 24 item 4 under a real systemd, at MaxConnections=: clients that send part of a PROXY header and go silent
# take the app's connection slots for the 3 s bound and no longer, their launchers asleep. While they and a slow
# balancer fill every slot, systemd refuses another client; the slow balancer, whose header is complete within the
# bound, is served; once the silent ones are cut (each exits 65, said once), a normal client is served again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/usage.sh"
plan 15

APP=bounds
MAXC=20
BOUND_MS=3000
V1='PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\n' # 44 bytes

sys_boot
SLACK_MS=$(slack_ms 1500) # exiting and being reaped, and our look every 0.1 s, on a loaded 2-core machine
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
[ -x "$TOOLS/ember-test-backend" ] && [ -x "$TOOLS/ember-test-client" ] || bail "test tools not built in $TOOLS"

# the launchers of this app, as this machine's pids (the container shares our view of /proc, not its pid numbers)
launchers() { pgrep -f "^[^ ]*ember-launch --app=$APP "; }
launchers_count_is() { [ "$(launchers | wc -l)" -eq "$1" ]; }
refcount_is() { [ "$(state $APP refcount)" = "$1" ]; }
ask() { "$TOOLS/ember-test-client" --timeout=10s --send="$1" 127.0.0.1:$LISTEN_PORT 2>/dev/null; }

ok "app up: --accept-proxy-protocol --max-connections=$MAXC" app_up $APP --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --idle=60s --accept-proxy-protocol --max-connections=$MAXC -- \
        "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=echo
is "a normal client is served (and the backend is warm)" "$(ask "${V1}warm\\n")" warm
is "MaxConnections=$MAXC" "$(unit_prop $APP.socket MaxConnections)" $MAXC
refused0=$(unit_prop $APP.socket NRefused)

t0=$(ms_now)
"$TOOLS/ember-test-client" --timeout=60s --parallel=$((MAXC - 1)) --send='PROXY TCP4 1.2.3.' --no-shutdown \
        --output=none 127.0.0.1:$LISTEN_PORT 2>/dev/null &
silent=$!
# a slow balancer: the header in pieces a second apart (complete at 2 s), then its client's bytes
"$TOOLS/ember-test-client" --timeout=60s --send="${V1}slow\\n" --interval=1s --chunk=15 \
        --output="$T_TMP/slow.out" 127.0.0.1:$LISTEN_PORT 2>/dev/null &
slow=$!
ok "$((MAXC - 1)) silent clients and a slow one hold all $MAXC slots" wait_until 20 launchers_count_is $MAXC
track $(launchers)
is "meanwhile systemd refuses another client" "$(ask "${V1}refused\\n")" ""
cmp_ok "and counts it (NRefused)" "$(unit_prop $APP.socket NRefused)" -gt "$refused0"
wait "$slow"
is "the slow balancer among them is served" "$(cat "$T_TMP/slow.out")" slow

wait_until $(((BOUND_MS + SLACK_MS) / 1000 + 30)) tracked_gone # generous; the bound is checked below
t1=$(ms_now)
diag "the last was gone $((t1 - t0)) ms after the first connect"
cmp_ok "each is gone within the bound and $SLACK_MS ms of its start (at most $(tracked_max_life_ms) ms)" \
        "$(tracked_max_life_ms)" -le $((BOUND_MS + SLACK_MS))
wait "$silent"
cmp_ok "the most any launcher used: $(tracked_max_cpu_ms) ms of CPU, its start included" \
        "$(tracked_max_cpu_ms)" -lt "$(cpu_budget_ms 50)"
cmp_ok "and $(tracked_sum_wakeups) wake-ups together" "$(tracked_sum_wakeups)" -lt $((MAXC * 20))
c journalctl --sync >/dev/null 2>&1
is "each silent one is said once" "$(c journalctl -q --no-pager -o cat "EMBER_APP=$APP" |
        grep -c 'no complete PROXY header within the deadline')" $((MAXC - 1))
is "and exited 65" "$(c journalctl -q --no-pager -o cat -u "$APP@*" | grep -c 'status=65/DATAERR')" $((MAXC - 1))
is "a normal client is served once they are cut" "$(ask "${V1}after\\n")" after
is "only the served ones were counted" "$(state $APP connections)" 3
ok "refcount back to 0" wait_until 10 refcount_is 0

tap_passing || diag_journal $APP
finish
