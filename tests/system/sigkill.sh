#!/bin/bash
# Launchers killed with SIGKILL under a real systemd (`systemctl kill -s KILL`, a random subset, then all): the
# refcount equals the live connections within one idle period, and the backend stops after idle once all are gone.
. "$(dirname "$0")/lib.sh"
plan 17

APP=killed
IDLE=3

sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}

refcount_is() { [ "$(state $APP refcount)" = "$1" ]; }
instances_are() { [ "$(instances $APP)" = "$1" ]; }
backend_cold() { [ "$(unit_prop $APP-backend.service ActiveState)" = inactive ] && [ "$(state $APP state)" = cold ]; }

# the strict per-connection hardening is exercised here; the other system tests use the default, lean
ok "app is up" app_up $APP --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --idle=${IDLE}s \
        --hardening=strict -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=echo
ok "systemd-analyze verify passes on the strict units" verify_units /etc/systemd/system/$APP@.service

"$TOOLS/ember-test-client" --parallel=50 --send='x' --hold=120s --close --output=none --timeout=150s \
        127.0.0.1:$LISTEN_PORT >/dev/null 2>&1 &
ok "50 connections are open: 50 running instances" wait_until 60 instances_are 50
ok "refcount is 50" wait_until 10 refcount_is 50
is "under the strict unit the launcher is in seccomp filter mode" "$(launcher_status $APP Seccomp)" 2
if [ -n "$SANITIZED" ]; then
        skip 2 "built with AddressSanitizer: ember-launch does not confine itself"
else
        cmp_filters=$(launcher_status $APP Seccomp_filters)
        pid1_filters=$(proc_status 1 Seccomp_filters)
        ok "with systemd's filters stacked on its own allow-list ($cmp_filters, the container's $pid1_filters)" \
                test "${cmp_filters:-0}" -gt $((pid1_filters + 1))
        is "and it could confine itself (Landlock is allowed by the strict unit's filter)" \
                "$(c journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=ember-launch | grep -c 'Could not confine')" 0
fi

victims=$(c systemctl list-units --no-legend --plain --state=running "$APP@*" | awk '{print $1}' | shuf -n 17)
t0=$(ms_now)
for u in $victims; do c systemctl kill -s KILL "$u"; done
ok "17 launchers SIGKILLed at random: 33 instances left" wait_until 20 instances_are 33
ok "refcount heals to 33 within one idle period (${IDLE} s)" wait_until $IDLE refcount_is 33
diag "healed $(( $(ms_now) - t0 )) ms after the first kill"
is "the backend stays warm for the 33 live connections" "$(state $APP state)" warm
like "the supervisor logged the heal" "$(c journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=heal)" \
        'Refcount corrected to'

c systemctl kill -s KILL "$APP@*"
ok "the rest killed at once: no instance left" wait_until 20 instances_are 0
ok "refcount heals to 0 within one idle period" wait_until $IDLE refcount_is 0
ok "the backend stops after the idle period" wait_until $((IDLE * 3)) backend_cold
is "one idle-stop event" "$(journal_events $APP idle-stop)" 1
ok "the next connection wakes a new backend" sh -c \
        "[ \"\$('$TOOLS/ember-test-client' --send='again' --timeout=20s 127.0.0.1:$LISTEN_PORT)\" = again ]"
ok "and counts 1 -> 0 cleanly" wait_until 10 refcount_is 0

tap_passing || diag_journal $APP
finish
