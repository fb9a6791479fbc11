#!/bin/bash
# A unix-socket backend behind a public TCP port, as a user writes it (issue 23):
#   emberctl new NAME --listen=PORT --backend=/run/NAME/s.sock --rw-path=/run/NAME --user=nobody --now -- COMMAND
# with three backends: issue 23's smallest server (one recv(), the answer, close(): what most small servers do),
# one that reads the whole request, answers, shuts down and closes (Python's socketserver), and one that keeps the
# connection open until the client closes. Real clients: curl (cold and warm) and socat, which half-closes after
# sending (an HTTP request, and a line the backend echoes).
# Each backend is also asked directly on its socket, to tell ember's part from the backend's.
. "$(dirname "$0")/lib.sh"
plan 21

port=18111
for mode in oneshot close keep; do
        APP=u$mode
        dir=/run/$APP
        install -d -o nobody -g nogroup -m 0755 $dir
        ok "app $APP is up: a unix backend ($mode) as nobody" app_new $APP --listen=127.0.0.1:$port \
                --backend=$dir/s.sock --rw-path=$dir --user=nobody --idle=60s -- /usr/bin/python3 "$BACKEND" $dir/s.sock $mode
        like "$APP: curl through the public port (cold)" "$(curl -sS -m 120 http://127.0.0.1:$port/ 2>&1)" '^hello from [0-9]+$'
        like "$APP: curl (warm)" "$(curl -sS -m 120 http://127.0.0.1:$port/ 2>&1)" '^hello from [0-9]+$'
        like "$APP: socat, half-closing after its request" \
                "$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 200 socat -t 120 - TCP:127.0.0.1:$port 2>&1)" '^hello from [0-9]+'
        like "$APP: socat, a line echoed" "$(printf 'hello\n' | timeout 200 socat -t 120 - TCP:127.0.0.1:$port 2>&1)" '^(echo )?hello$'
        like "$APP: the backend itself answers on $dir/s.sock" "$(curl -sS -m 120 --unix-socket $dir/s.sock http://x/ 2>&1)" '^hello from [0-9]+$'
        counts_exact "$APP" $APP
        port=$((port + 1))
done
finish
