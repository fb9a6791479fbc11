#!/bin/bash
# The everyday CLI under a real systemd, over sd-bus: new --now, list, start (pre-warm), stop (StopUnit), logs, rm
# (its own units only) and rm --keep-state.
. "$(dirname "$0")/lib.sh"
plan 32

sys_boot
pick_ports 4
P1=${PORTS[0]} P2=${PORTS[1]}
TB=$TOOLS/ember-test-backend
ectl() { c "$EMBERCTL" "$@"; }
served() { [ "$("$TOOLS/ember-test-client" --timeout=10s --send="$1" 127.0.0.1:$P1)" = "$1" ]; }
cold() { [ "$(state web state)" = cold ] && [ "$(unit_prop web-backend.service ActiveState)" = inactive ]; } # and the unit done with it

out=$(ectl new web --listen=127.0.0.1:$P1 --backend=127.0.0.1:$P2 --idle=2s --now -- "$TB" --listen=127.0.0.1:$P2 --mode=echo 2>&1)
like "new --now reloads, enables and starts the socket in one go" "$out" 'Enabled and started web.socket'
like "and says where own settings go" "$out" 'systemctl edit web-backend.service'
is "web.socket is enabled" "$(c systemctl is-enabled web.socket)" enabled
ok "and serves" served one

like "list shows the app, its units and its state" "$(ectl list)" '^web +active +active +warm +0$'
ok "it idles out" wait_until 10 cold
like "list then" "$(ectl list)" '^web +active +inactive +cold +0$'

# ---- start: pre-warm ------------------------------------------------------------------------------------------------
t0=$(ms_now)
out=$(ectl start web 2>&1)
t1=$(ms_now)
like "start wakes the backend without a connection and waits until it is ready ($((t1 - t0)) ms)" "$out" '^Started web'
is "the backend unit is active" "$(unit_prop web-backend.service ActiveState)" active
is "and warm" "$(state web state)" warm
ok "a pre-warmed backend idles out like any run" wait_until 10 cold
expect_rc() { c "$EMBERCTL" "$@" >/dev/null 2>&1; echo $?; }
is "start of an unknown app: 69" "$(expect_rc start nosuch)" 69

# ---- stop over the bus ---------------------------------------------------------------------------------------------
ok "served again" served two
out=$(ectl stop web 2>&1)
like "stop stops the backend unit (StopUnit, waiting for the job)" "$out" '^Stopped web\.$'
is "the backend unit is inactive" "$(unit_prop web-backend.service ActiveState)" inactive
is "and the state is cold" "$(state web state)" cold

# ---- logs ----------------------------------------------------------------------------------------------------------
c journalctl --sync
like "logs shows the app's units' journal" "$(ectl logs web -n 200 2>&1)" 'Cold start: backend'

# ---- rm ------------------------------------------------------------------------------------------------------------
c sh -c 'printf "[Socket]\nListenStream=127.0.0.1:1\n" >/etc/systemd/system/other.socket; printf "[Service]\nExecStart=/bin/true\n" >/etc/systemd/system/other-backend.service'
is "rm refuses units emberctl did not write (73)" "$(expect_rc rm other)" 73
ok "and leaves them" c test -e /etc/systemd/system/other.socket -a -e /etc/systemd/system/other-backend.service
is "rm of an app without units: 69" "$(expect_rc rm nosuch)" 69
ok "served before rm" served three
out=$(ectl rm web 2>&1)
unlike_err() { ! printf '%s\n' "$out" | grep -q 'Failed'; }
ok "rm stops every unit without an error ($(printf '%s' "$out" | grep -c Failed) failed)" unlike_err
like "rm removes the four units" "$out" 'Removed /etc/systemd/system/web@\.service'
ok "none is left" c sh -c '! ls /etc/systemd/system/web.socket /etc/systemd/system/web@.service /etc/systemd/system/web-backend.socket /etc/systemd/system/web-backend.service 2>/dev/null'
is "web.socket is gone from systemd" "$(unit_prop web.socket LoadState)" not-found
ok "nothing listens on its port" port_free $P1
ok "its state directory is gone" c test ! -e /run/ember/web
ok "no backend is left running" sh -c "! nsenter -t $C_PID -a pgrep -f '^[^ ]*ember-test-backend --listen=127.0.0.1:$P2' >/dev/null"
unlike_list() { ! ectl list | grep -q '^web '; }
ok "list no longer shows it" unlike_list

# ---- the backend's environment and working directory ---------------------------------------------------------------
c sh -c 'printf "FROM_FILE=yes\n" >/run/envy.env'
ectl new envy --listen=127.0.0.1:${PORTS[2]} --backend=127.0.0.1:${PORTS[3]} --env='GREETING=hello "big" world 100%' \
        --env-file=/run/envy.env --working-directory=/var/tmp --now -- \
        socat TCP-LISTEN:${PORTS[3]},bind=127.0.0.1,reuseaddr,fork 'SYSTEM:printenv GREETING FROM_FILE; pwd' >"$T_TMP/envy.out" 2>&1
diag_file "$T_TMP/envy.out" 5
out=$(timeout 10 cat </dev/tcp/127.0.0.1/${PORTS[2]} 2>&1)
is "the backend sees --env exactly, --env-file's variables and --working-directory" "$(printf '%s' "$out" | tr '\n' '|')" 'hello "big" world 100%|yes|/var/tmp'
ectl rm envy >/dev/null 2>&1

ectl new kept --listen=127.0.0.1:$P1 --backend=127.0.0.1:$P2 --now -- "$TB" --listen=127.0.0.1:$P2 --mode=echo >/dev/null 2>&1
ok "a second app, served" served four
ectl rm kept --keep-state >/dev/null 2>&1
is "rm --keep-state keeps the counters" "$(state kept cold-starts)" 1

finish
