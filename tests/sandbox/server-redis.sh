#!/bin/bash
# redis-server runs unchanged under the default policy, and redis-cli can SET, GET and INCR.
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || skip_all "redis-server not installed (Debian package redis-server)"
command -v redis-cli >/dev/null || skip_all "redis-cli not installed (Debian package redis-tools)"
plan 5

port=$(free_port)
start_bg "$TMP/redis.log" "$SANDBOX" --policy=default -- redis-server --port "$port" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$TMP" --daemonize no
pid=$last_pid
ok "redis-server listens under --policy=default" wait_port "$port"
is "SET" "$(redis-cli -p "$port" set ember warm)" "OK"
is "GET" "$(redis-cli -p "$port" get ember)" "warm"
is "INCR twice" "$(redis-cli -p "$port" incr visits; redis-cli -p "$port" incr visits)" "$(printf '1\n2')"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
wait "$pid"
is "redis-server shuts down cleanly" "$?" 0
grep -q 'Operation not permitted' "$TMP/redis.log" && { echo "# server log:"; sed 's/^/#   /' "$TMP/redis.log"; }
finish
