#!/bin/bash
# PostgreSQL (Debian's postgresql: 15 on Debian 12, 17 on Debian 13) behind ember with --user=postgres, under the sandboxed backend unit:
# its cluster in --state-dir, READY=1 from postgres itself (--ready=notify), psql answered cold and warm
# through ember, the server running as postgres, the launchers as root, and the server's files confined by
# ember-sandbox --landlock (the unit then rated at most 7.6 by systemd-analyze security, which cannot see that).
. "$(dirname "$0")/lib.sh"
plan 10

# the newest server installed (Debian's postgresql depends on the release's one major version)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/postgres" ] && command -v psql >/dev/null 2>&1 ||
        skip_all "PostgreSQL is not installed here (apt-get install postgresql postgresql-client)"
sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
DATA=/var/lib/ember-pg/data

# a postgres user and a throwaway cluster (the container's /etc and /var are volatile); trust on loopback only
c systemd-sysusers --inline 'u postgres - "PostgreSQL (ember test)" /var/lib/ember-pg' >/dev/null 2>&1
c install -d -m 0750 -o postgres -g postgres /var/lib/ember-pg
c setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/initdb" --no-sync -D $DATA -U postgres -A trust \
        >"$T_TMP/initdb.out" 2>&1
ok "initdb as postgres" c test -f $DATA/PG_VERSION || diag_file "$T_TMP/initdb.out"

ok "app pg is up with --user=postgres --ready=notify --state-dir=ember-pg" app_up pg --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --user=postgres --ready=notify --state-dir=ember-pg --idle=60s -- \
        "$PGBIN/postgres" -D $DATA -p $BACKEND_PORT -k /tmp -c listen_addresses=127.0.0.1
q() { timeout 60 psql -X -q -At -h 127.0.0.1 -p $LISTEN_PORT -U postgres -d postgres -c "$1" 2>&1; }
is "psql through ember (cold): the server answers" "$(q 'select 40 + 2')" 42
is "and warm, as postgres" "$(q 'select current_user')" postgres
is "a table written and read back" "$(q 'create table t (v int); insert into t values (7); select v from t')" 7
is "one cold start for all of them" "$(state pg cold-starts)" 1
bpid=$(state pg backend.pid)
is "the server runs as postgres" "$(c ps -o user= -p "$bpid" 2>&1)" postgres
is "the state directory's launcher files are the launchers' user's, not postgres's" "$(c stat -c %U /run/ember/pg/refcount)" ember
e=$(c systemd-analyze security --no-pager pg-backend.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p')
landlocked() { c grep -q '^ExecStart=.* --landlock ' /etc/systemd/system/pg-backend.service; }
ok "its files are confined by ember-sandbox --landlock" landlocked
ok "and the unit is rated at most 7.6 ($e) by what systemd-analyze can see" awk -v e="${e:-99}" 'BEGIN { exit !(e <= 7.6) }'

tap_passing || diag_journal pg
finish
