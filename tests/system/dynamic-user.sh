#!/bin/bash
# emberctl new --dynamic-user: the backend runs as a user systemd allocates for each run (DynamicUser=),
# its --state-dir is that user's (StateDirectory=), the supervisor stays root ("!") and drops the backend to it; the
# app serves cold and warm. As on a pristine Debian, NSS cannot name that user (no libnss-systemd in nsswitch.conf):
# the supervisor reads the uid from PID 1's own records. --dynamic-user with --user= or a unix backend is a usage error (64) that writes nothing.
. "$(dirname "$0")/lib.sh"
plan 14

sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
# A pristine Debian has no libnss-systemd: its /etc/nsswitch.conf asks the files only (the container's /etc is empty)
c sh -c 'printf "passwd: files\ngroup: files\n" >/etc/nsswitch.conf'

# ---- refused combinations -----------------------------------------------------------------------------------------
out=$(c "$EMBERCTL" new dynu --dynamic-user --user=nobody --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --unit-dir=/run -- /bin/true 2>&1)
is "--dynamic-user with --user= is a usage error (64)" "$?" 64
like "which says why" "$out" 'dynamic-user and --user=nobody exclude each other'
out=$(c "$EMBERCTL" new dynx --dynamic-user --listen=127.0.0.1:$LISTEN_PORT --backend=/run/dynx.sock \
        --unit-dir=/run -- /bin/true 2>&1)
is "--dynamic-user with a unix backend is a usage error (64)" "$?" 64
is "and neither wrote a unit" "$(c sh -c 'ls /run/dynu* /run/dynx* 2>/dev/null')" ""

# ---- a backend as a dynamic user ----------------------------------------------------------------------------------
# the backend says who it runs as, in its state directory and in the app's, then serves
probe='id -u >/var/lib/dyn-state/uid; exec "$0" --listen=127.0.0.1:'$BACKEND_PORT' --mode=echo'
ok "app dyn is up with --dynamic-user --state-dir=dyn-state" app_up dyn --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --dynamic-user --state-dir=dyn-state -- /bin/sh -c "$probe" "$TOOLS/ember-test-backend"
like "its backend unit has DynamicUser=yes" "$(unit_prop dyn-backend.service DynamicUser)" yes
is "it serves (cold)" "$("$TOOLS/ember-test-client" --timeout=10s --send=cold 127.0.0.1:$LISTEN_PORT 2>&1)" cold
is "and warm" "$("$TOOLS/ember-test-client" --timeout=10s --send=warm 127.0.0.1:$LISTEN_PORT 2>&1)" warm
uid=$(c cat /var/lib/dyn-state/uid 2>/dev/null)
is "NSS cannot name the allocated user here, as on a pristine Debian" "$(c getent passwd dyn-backend)" ""
# systemd's dynamic range (systemd.exec(5)): 61184-65519
ok "the backend ran as a dynamically allocated uid ($uid)" test -n "$uid" -a "${uid:-0}" -ge 61184 -a "${uid:-0}" -le 65519
bpid=$(state dyn backend.pid)
is "the running backend's process is that uid" "$(proc_status "$bpid" Uid | awk '{ print $1 }')" "$uid"
is "the supervisor stays root" "$(proc_status "$(unit_prop dyn-backend.service MainPID)" Uid | awk '{ print $1 }')" 0
# seen from outside the unit: that user's, or nobody's where systemd (256 and later) ID-maps it into the unit
like "its state directory is that user's (or nobody's, ID-mapped)" "$(c stat -L -c %u /var/lib/dyn-state)" "^($uid|65534)\$"
is "the launchers' files are the launchers' user's, not the backend's" "$(c stat -c %U /run/ember/dyn/refcount)" ember

tap_passing || diag_journal dyn
finish
