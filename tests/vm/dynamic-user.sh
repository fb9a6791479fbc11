#!/bin/bash
# emberctl new --dynamic-user on a pristine Debian 13 (issue 23): DynamicUser=yes allocates the backend's user for
# each run; the system has no libnss-systemd unless something pulls it in, so nothing can look that user up by name.
# The app must serve anyway, cold, warm and after a stop, with the backend as the allocated uid and the supervisor
# root.
. "$(dirname "$0")/lib.sh"
plan 9

# apt installs the package's Recommends, libnss-systemd among them; without recommends (apt --no-install-recommends,
# or a system that removed it) NSS names no dynamic user: that harder case is tested, NSS told to ask the files only
sed -i -E '/^(passwd|group):/s/ systemd//' /etc/nsswitch.conf
diag "libnss-systemd: $(dpkg-query -W -f '${Status} ${Version}' libnss-systemd 2>&1); nsswitch: $(grep '^passwd:' /etc/nsswitch.conf)"
APP=dyn PORT=18121 BPORT=18122
ok "app $APP is up with --dynamic-user" app_new $APP --listen=127.0.0.1:$PORT --backend=127.0.0.1:$BPORT --dynamic-user \
        --idle=60s -- /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT
is "its backend unit has DynamicUser=yes" "$(unit_prop $APP-backend.service DynamicUser)" yes
like "it serves (cold)" "$(curl -sS -m 120 http://127.0.0.1:$PORT/ 2>&1)" '^hello from [0-9]+$'
like "and warm" "$(curl -sS -m 120 http://127.0.0.1:$PORT/ 2>&1)" '^hello from [0-9]+$'
bpid=$(state $APP backend.pid)
uid=$(awk '/^Uid:/ { print $2 }' /proc/"${bpid:-x}"/status 2>/dev/null)
diag "the backend ($bpid) runs as uid ${uid:-?} ($(getent passwd "${uid:-x}" || echo 'no passwd entry'))"
# systemd's dynamic range (systemd.exec(5)): 61184-65519
ok "the backend runs as a dynamically allocated uid (${uid:-none})" test -n "$uid" -a "${uid:-0}" -ge 61184 -a "${uid:-0}" -le 65519
spid=$(unit_prop $APP-backend.service MainPID)
is "the supervisor stays root" "$(awk '/^Uid:/ { print $2 }' /proc/"$spid"/status 2>/dev/null)" 0
is "emberctl stop: cold" "$("$EMBERCTL" stop $APP >/dev/null 2>&1; state $APP state)" cold
like "the next run serves too" "$(curl -sS -m 120 http://127.0.0.1:$PORT/ 2>&1)" '^hello from [0-9]+$'
counts_exact "$APP" $APP
finish
