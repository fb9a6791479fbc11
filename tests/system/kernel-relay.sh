#!/bin/bash
# The in-kernel relay under a real systemd (emberctl new --relay=kernel): the Accept=yes launcher hands its
# connection (fd 3) and the backend's to the supervisor, which relays them in its BPF socket maps; 200 connections
# in a row are answered and leave no entry in the maps.
. "$(dirname "$0")/lib.sh"
need_kernel_relay
plan 7

# nspawn's container has neither CAP_BPF nor bpf(2) by default. Never CAP_NET_ADMIN: the container shares this
# machine's network namespace (its nftables.service would load the machine's firewall). Socket maps take
# CAP_NET_ADMIN or CAP_SYS_ADMIN, which the container has: the backend unit gets it by a drop-in below.
SYS_NSPAWN_ARGS=(--capability=CAP_BPF --system-call-filter=bpf)
sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
APP=krelay
ADDR=127.0.0.1:$LISTEN_PORT
REQUEST='GET / HTTP/1.0\r\n\r\n'

ok "app $APP is up with --relay=kernel" app_up $APP --listen=$ADDR --backend=127.0.0.1:$BACKEND_PORT --idle=60s \
        --relay=kernel -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$BACKEND_PORT --mode=http
c mkdir -p /etc/systemd/system/$APP-backend.service.d
printf '[Service]\n# in this container, in place of CAP_NET_ADMIN (see SYS_NSPAWN_ARGS)\nCapabilityBoundingSet=CAP_SYS_ADMIN\n' |
        c tee /etc/systemd/system/$APP-backend.service.d/caps.conf >/dev/null
c systemctl daemon-reload

like "the first request (cold) is answered" "$("$TOOLS/ember-test-client" --timeout=20s --send="$REQUEST" --no-shutdown "$ADDR")" \
        "hello from [0-9]+"
c test -S /run/ember/$APP/relay.sock ||
        skip_all "the supervisor offers no in-kernel relay here: $(c journalctl -b -u $APP-backend.service -o cat | grep -m1 'In-kernel relay')"
pass "the supervisor offers the in-kernel relay (relay.sock)"
spid=$(state $APP supervisor.pid)
entries() { c "$TOOLS/ember-test-sockmap" "$spid" | awk -F'entries=' '{ s += $2 } END { print s + 0 }'; }
entries_are() { [ "$(entries)" = "$1" ]; }

"$TOOLS/ember-test-client" --timeout=60s --send='GET' --hold=infinity --output=none "$ADDR" &
held=$!
ok "a live connection's two sockets are in both maps (4 entries)" wait_until 10 entries_are 4
kill -TERM "$held"
wait "$held" 2>/dev/null

"$TOOLS/ember-test-client" --repeat=200 --timeout=120s --send="$REQUEST" --no-shutdown --output="$T_TMP/answers" "$ADDR"
is "200 connections in a row through systemd's Accept=yes all end normally" "$?" 0
is "and all 200 were answered" "$(grep -c 'hello from' "$T_TMP/answers")" 200
ok "no entry left in the maps once their instances are gone" wait_until 20 entries_are 0
finish
