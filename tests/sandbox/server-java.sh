#!/bin/bash
# A JDK 17 com.sun.net.httpserver server (thread pool, NIO) runs unchanged under the default policy.
. "$(dirname "$0")/lib.sh"

command -v java >/dev/null || skip_all "java not installed (Debian package openjdk-17-jdk-headless)"
command -v javac >/dev/null || skip_all "javac not installed (Debian package openjdk-17-jdk-headless)"
command -v curl >/dev/null || skip_all "curl not installed (Debian package curl)"
plan 4

mkdir "$TMP/classes"
javac -d "$TMP/classes" "$top_srcdir/tests/sandbox/HelloServer.java" || bail "javac failed"
port=$(free_port)
start_bg "$TMP/java.log" "$SANDBOX" --policy=default -- java -cp "$TMP/classes" HelloServer "$port"
pid=$last_pid
ok "the Java HttpServer listens under --policy=default" wait_port "$port" 60
like "curl gets its answer" "$(curl -sS --max-time 20 "http://127.0.0.1:$port/" | head -n 1)" '^hello from java '
curls=
for i in 1 2 3 4 5 6 7 8; do
        curl -sS --max-time 20 "http://127.0.0.1:$port/$i" >"$TMP/r$i" &
        curls="$curls $!"
done
wait $curls
is "eight concurrent requests are served by its thread pool" "$(cat "$TMP"/r[1-8] | grep -c '^hello from java')" 8
kill "$pid"
wait "$pid"
rc=$?
is "the JVM stops on SIGTERM through its own handler (status 143)" "$rc" 143
finish
