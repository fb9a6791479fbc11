#!/bin/bash
# python3 -m http.server runs unchanged under the default policy (and under strict), and serves a file to curl.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 not installed (Debian package python3)"
command -v curl >/dev/null || skip_all "curl not installed (Debian package curl)"
plan 6

mkdir "$TMP/www" && echo "hello from the sandbox" >"$TMP/www/index.html"
for policy in default strict; do
        port=$(free_port)
        (cd "$TMP/www" && exec "$SANDBOX" --policy=$policy -- python3 -m http.server --bind 127.0.0.1 "$port") \
                >"$TMP/py-$policy.log" 2>&1 &
        pid=$!
        bg_pids="$bg_pids $pid"
        ok "python3 -m http.server listens under --policy=$policy" wait_port "$port"
        is "curl gets the file from it ($policy)" "$(curl -sS --max-time 10 "http://127.0.0.1:$port/index.html")" \
                "hello from the sandbox"
        is "and a 404 for a missing one ($policy)" "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing")" \
                404
        kill "$pid"
        wait "$pid" 2>/dev/null
        grep -qiE 'Traceback|Operation not permitted' "$TMP/py-$policy.log" && { echo "# server log:"; sed 's/^/#   /' "$TMP/py-$policy.log"; }
done
finish
