#!/bin/bash
# nginx (master and workers; as root the workers drop to nobody) runs unchanged under the default policy.
. "$(dirname "$0")/lib.sh"

nginx=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)
[ -n "$nginx" ] || skip_all "nginx not installed (Debian package nginx-light or nginx)"
command -v curl >/dev/null || skip_all "curl not installed (Debian package curl)"
plan 5

port=$(free_port)
chmod 0755 "$TMP"
mkdir -m 0755 "$TMP/www" && echo "hello from nginx" >"$TMP/www/index.html"
cat >"$TMP/nginx.conf" <<EOC
daemon off;
master_process on;
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/error.log info;
events { worker_connections 64; }
http {
        access_log $TMP/access.log;
        client_body_temp_path $TMP/body;
        proxy_temp_path $TMP/proxy;
        fastcgi_temp_path $TMP/fastcgi;
        uwsgi_temp_path $TMP/uwsgi;
        scgi_temp_path $TMP/scgi;
        server {
                listen 127.0.0.1:$port;
                root $TMP/www;
        }
}
EOC
start_bg "$TMP/nginx.out" "$SANDBOX" --policy=default -- "$nginx" -e "$TMP/error.log" -c "$TMP/nginx.conf"
pid=$last_pid
ok "nginx listens under --policy=default" wait_port "$port"
is "curl gets the page" "$(curl -sS --max-time 10 "http://127.0.0.1:$port/")" "hello from nginx"
is "and a 404" "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing")" 404
is "the worker logged the request" "$(grep -c 'GET / HTTP' "$TMP/access.log")" 1
kill -QUIT "$pid"
wait "$pid"
is "nginx shuts down gracefully" "$?" 0
grep -E '\[(emerg|alert|crit)\]|Operation not permitted' "$TMP/error.log" | sed 's/^/# /'
finish
