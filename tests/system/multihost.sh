#!/bin/bash
# Several hosts behind a load balancer, under a real systemd: three hosts, each a network namespace of its own
# (10.231.0.11-13, made here, reachable only from the balancer's namespace 10.231.0.1) running an ember app whose
# units live in it (NetworkNamespacePath=), with nginx as the backend (listen ... proxy_protocol). In front,
# HAProxy with examples/haproxy/haproxy.cfg exactly as shipped (send-proxy-v2, health checks every second), and
# nginx's stream module with examples/nginx/stream.conf (PROXY v1). Shown: 30 s of health checks wake no backend;
# traffic spreads over the three; every backend logs the client's real address; stopping one host's socket and
# SIGKILLing another host's backend unit under load fail no client request; after the idle period all three are
# cold again.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null || skip_all "haproxy is not installed (Debian package haproxy)"
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)
[ -n "$NGINX" ] || skip_all "nginx is not installed (Debian package nginx-light)"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || skip_all "nginx's stream module is missing (Debian package libnginx-mod-stream)"
command -v ip >/dev/null || skip_all "ip is missing (Debian package iproute2)"
[ "$(id -u)" = 0 ] || skip_all "not root: network namespaces need root"

NS=emb$$
LB=${NS}lb
CLIENT_IP=10.231.0.100
CONF=$top_builddir/tests/system/multihost-conf

net_cleanup() {
        [ -n "${HAPROXY_PID:-}" ] && kill "$HAPROXY_PID" 2>/dev/null
        [ -n "${STREAM_PID:-}" ] && kill "$STREAM_PID" 2>/dev/null
        local n
        for n in "$LB" "${NS}h1" "${NS}h2" "${NS}h3"; do ip netns delete "$n" 2>/dev/null; done
        rm -rf "$CONF"
        return 0
}
tap_at_exit net_cleanup

# The balancer's namespace with a bridge, and a host namespace on it per host.
net_setup() {
        local i
        ip netns add "$LB" || return 1
        ip -n "$LB" link set lo up
        # no forward delay: a new port would otherwise drop frames for 15 s
        ip -n "$LB" link add br0 type bridge forward_delay 0 && ip -n "$LB" link set br0 up || return 1
        ip -n "$LB" addr add 10.231.0.1/24 dev br0 && ip -n "$LB" addr add $CLIENT_IP/24 dev br0 || return 1
        for i in 1 2 3; do
                ip netns add "${NS}h$i" &&
                        ip -n "$LB" link add "vh$i" type veth peer name eth0 netns "${NS}h$i" &&
                        ip -n "$LB" link set "vh$i" master br0 up &&
                        ip -n "${NS}h$i" link set lo up &&
                        ip -n "${NS}h$i" addr add "10.231.0.1$i/24" dev eth0 &&
                        ip -n "${NS}h$i" link set eth0 up || return 1
        done
}
net_setup || { net_cleanup; skip_all "cannot make network namespaces and veth pairs here"; }
# the units join the hosts' namespaces by path: the container needs to see them
binds+=(--bind-ro=/run/netns)
sys_boot
# systemd from 257 on joins a NetworkNamespacePath= only with CAP_NET_ADMIN of its own ("is not supported, refusing",
# 225/NETWORK: every request through the balancers failed in a Debian 13 container), which systemd-nspawn keeps only
# with a private network; a machine's own PID 1 has it. Given by --capability=, that container did not boot here.
pid1_caps=$(c sh -c 'sed -n "s/^CapEff:[[:space:]]*//p" /proc/1/status')
if [ "$(c systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')" -ge 257 ] 2>/dev/null &&
        ! (( (16#${pid1_caps:-0} >> 12) & 1 )); then
        net_cleanup
        skip_all "systemd 257 in a container without CAP_NET_ADMIN: it refuses NetworkNamespacePath= (225/NETWORK)"
fi
plan 20

# host_up I: app mhI on 10.231.0.1I:8080 inside its namespace, nginx behind it on 127.0.0.1:9000 (in the same
# namespace, so every host uses the same port), logging $proxy_protocol_addr.
host_up() {
        local i=$1 app=mh$1 run=/run/mh$1 u
        mkdir -p "$CONF"
        cat >"$CONF/nginx-h$i.conf" <<EOC
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $run/nginx.pid;
error_log $run/error.log info;
events { worker_connections 64; }
http {
        log_format pp '\$proxy_protocol_addr "\$request"';
        access_log $run/access.log pp;
        client_body_temp_path $run/body;
        proxy_temp_path $run/proxy;
        fastcgi_temp_path $run/fastcgi;
        uwsgi_temp_path $run/uwsgi;
        scgi_temp_path $run/scgi;
        server {
                listen 127.0.0.1:9000 proxy_protocol;
                location / { return 200 "h$i \$proxy_protocol_addr\n"; }
        }
}
EOC
        c mkdir -p "$run" || return 1
        # nginx writes its pid, logs and temp files in $run: the backend unit's file system is read-only but --rw-path
        # (as root: the configuration keeps its workers root, "user root root")
        c "$EMBERCTL" new $app --listen=10.231.0.1$i:8080 --backend=127.0.0.1:9000 --idle=5s --rw-path="$run" --user=root \
                --accept-proxy-protocol --proxy-protocol=v2 -- "$NGINX" -e "$run/error.log" -c "$CONF/nginx-h$i.conf" \
                >"$T_TMP/new.out" 2>&1 || { diag_file "$T_TMP/new.out"; return 1; }
        for u in $app.socket $app@.service $app-backend.service; do
                c sh -c "mkdir -p /run/systemd/system/$u.d && printf '[%s]\nNetworkNamespacePath=/run/netns/${NS}h$i\n' \
                        $( [ "${u##*.}" = socket ] && echo Socket || echo Service ) >/run/systemd/system/$u.d/netns.conf" || return 1
        done
        c systemctl daemon-reload && c systemctl enable --now $app.socket >/dev/null 2>&1 && c systemctl is-active --quiet $app.socket
}
lb() { ip netns exec "$LB" "$@"; }
get() { lb curl -sS --max-time 20 --interface $CLIENT_IP "http://$1/" 2>&1; }
cold_starts() { local n; n=$(state mh$1 cold-starts); echo "${n:-0}"; }
all_cold() { local i; for i in 1 2 3; do [ "$(state mh$i state)" = cold ] || [ -z "$(state mh$i state)" ] || return 1; done; }
backends() { c pgrep -c -f "^$NGINX -e /run/mh" || true; }

for i in 1 2 3; do ok "host $i: app mh$i is up in its own network namespace" host_up $i; done

# ---- health checks wake nothing ------------------------------------------------------------------------------
# not through lb(): $! must be haproxy itself (ip netns exec execs it), and it must not hold the TAP stream (fd 8)
ip netns exec "$LB" haproxy -f "$top_srcdir/examples/haproxy/haproxy.cfg" -db >"$T_TMP/haproxy.log" 2>&1 8>&- &
HAPROXY_PID=$!
accepted() { local n=0 i; for i in 1 2 3; do n=$((n + $(unit_prop mh$i.socket NAccepted))); done; echo $n; }
sleep 30 # the point: 30 s of health checks, which must wake nothing
checks=$(accepted)
# HAProxy checks once a second per host and resets each check right after its header; systemd drops a reset
# connection it had not accepted yet (no peer to name the instance after), so only some reach a launcher at all
diag "HAProxy's health-check connections that reached a launcher in 30 s: $checks"
# and nine checks of our own, closed cleanly instead of reset: each reaches a launcher
V2_LOCAL='\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x20\x00\x00\x00'
for i in 1 2 3 1 2 3 1 2 3; do lb "$TOOLS/ember-test-client" --timeout=5s --send="$V2_LOCAL" --output=none "10.231.0.1$i:8080"; done
cmp_ok "nine PROXY v2 LOCAL checks more were accepted by the hosts' sockets, each handled by a launcher" \
        "$(($(accepted) - checks))" -ge 9
is "30 s of HAProxy health checks (PROXY v2 LOCAL) started no backend" "$(cold_starts 1)$(cold_starts 2)$(cold_starts 3)" 000
is "no backend process runs" "$(backends)" 0
is "and HAProxy's health checks count all three hosts up" \
        "$(echo 'show stat' | socat - UNIX-CONNECT:/run/ember-example-haproxy.sock | awk -F, '$1 == "ember" && $2 ~ /^h[123]$/ && $18 == "UP"' | wc -l)" 3

# ---- traffic spreads, real client address ---------------------------------------------------------------------
for n in $(seq 1 30); do get 10.231.0.1:80; done >"$T_TMP/spread.out"
is "30 requests through HAProxy are all answered" "$(grep -c "^h[123] $CLIENT_IP$" "$T_TMP/spread.out")" 30
diag "per host: $(sort "$T_TMP/spread.out" | uniq -c | tr '\n' ' ')"
ok "and spread over the three hosts" test "$(grep -c '^h1 ' "$T_TMP/spread.out")" -ge 5 -a \
        "$(grep -c '^h2 ' "$T_TMP/spread.out")" -ge 5 -a "$(grep -c '^h3 ' "$T_TMP/spread.out")" -ge 5
is "every backend logged the client's real address ($CLIENT_IP), never the balancer's" \
        "$(c sh -c 'cat /run/mh1/access.log /run/mh2/access.log /run/mh3/access.log' | cut -d' ' -f1 | sort -u)" "$CLIENT_IP"
like "the launcher's journal names the real client (EMBER_CLIENT=)" \
        "$(c journalctl -q --no-pager -o export EMBER_APP=mh1 | grep '^EMBER_CLIENT=' | sort -u)" "^EMBER_CLIENT=$CLIENT_IP:[0-9]+$"

# ---- faults under load: one host's socket stopped, another's backend unit SIGKILLed ------------------------------
# (its sleep 0.02: the pace of a client, so that the faults land among the requests)
( for n in $(seq 1 200); do get 10.231.0.1:80; sleep 0.02; done >"$T_TMP/load.out" ) 8>&- &
load=$!
answers() { [ "$(grep -c . "$T_TMP/load.out")" -ge "$1" ]; }
wait_until 20 answers 20 || diag "the load has no 20 answers after 20 s"
c systemctl stop mh2.socket
wait_until 20 answers 40 || diag "the load has no 40 answers after 20 s"
c systemctl kill -s KILL mh3-backend.service
wait $load
is "200 requests while host 2's socket stops and host 3's backend is SIGKILLed: none failed" \
        "$(grep -c "^h[123] $CLIENT_IP$" "$T_TMP/load.out")" 200
[ "$(grep -vc "^h[123] $CLIENT_IP$" "$T_TMP/load.out")" = 0 ] || diag_file "$T_TMP/load.out"
ok "host 3 serves again after its backend was killed" grep -q '^h3 ' <(tail -n 60 "$T_TMP/load.out")
c systemctl start mh2.socket

# ---- nginx stream in front (PROXY v1) ------------------------------------------------------------------------------
ip netns exec "$LB" "$NGINX" -c "$top_srcdir/examples/nginx/stream.conf" -g 'daemon off;' >"$T_TMP/stream.log" 2>&1 8>&- &
STREAM_PID=$!
wait_until 5 lb sh -c 'ss -Htln "sport = :81" | grep -q .'
for n in $(seq 1 9); do get 10.231.0.1:81; done >"$T_TMP/stream.out"
is "9 requests through nginx's stream module (PROXY v1) are all answered with the client's address" \
        "$(grep -c "^h[123] $CLIENT_IP$" "$T_TMP/stream.out")" 9
[ "$(grep -c "^h[123] $CLIENT_IP$" "$T_TMP/stream.out")" = 9 ] || diag_file "$T_TMP/stream.out" 20
kill "$STREAM_PID"
STREAM_PID=

# ---- back to zero, with the health checks going on -------------------------------------------------------------
ok "after the idle period all three hosts are cold again, health checks notwithstanding" wait_until 30 all_cold
is "and no backend process is left" "$(backends)" 0
ok "HAProxy still runs" kill -0 "$HAPROXY_PID"
is "no connection instance failed: health checks end cleanly, even when the balancer resets them" \
        "$(c systemctl list-units --no-legend --state=failed 'mh*@*' | wc -l)" 0
is "and no launcher logged an error" "$(c journalctl -q --no-pager -p err -o cat SYSLOG_IDENTIFIER=ember-launch | wc -l)" 0
is "every app's refcount is back to 0" "$(state mh1 refcount)$(state mh2 refcount)$(state mh3 refcount)" 000
finish
