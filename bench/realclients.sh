# bench/realclients.sh: the realclients phases of `make bench`, sourced by bench/bench.sh after its set-up.
# shellcheck shell=bash
# Debian's own servers behind ember, measured with Debian's own clients: pgbench against PostgreSQL 15,
# redis-benchmark against redis-server, `openssl s_time -new` against `openssl s_server`, wrk against nginx.
#
# Each kind of server is one ember app, realKIND (emberctl new inside the container, default seccomp policy, the
# default lean unit), and its backend is the one server all three sides reach:
#   direct         the backend's own port (the server ember started and keeps warm)
#   socket_proxyd  a socket-activated systemd-socket-proxyd unit (realKINDpxy, as bpxy in bench.sh) in front of it
#   ember          the app's port
# so the three sides differ only in the path, never in the server (same process, same caches, same seccomp filter).
# The apps get --idle=1h so that the backend stays warm for the whole phase, and are stopped at its end
# (emberctl stop). The clients run here, outside the container: it shares this machine's network namespace, and
# /usr is the same. Every figure is a rate (higher is better): REAL_ROUNDS rounds, the three sides in a fresh
# random order each round (shuf), after one short warm-up run per side; the median per side, then the ratios.
# Every load is bounded in time (pgbench -T, s_time -time, wrk -d) or in count and time (redis-benchmark -n under
# timeout), and all of it is on 127.0.0.1.

REAL_ROUNDS=${BENCH_REAL_ROUNDS:-5}
REAL_SECS=${BENCH_REAL_SECS:-3}          # each timed run (pgbench -T, s_time -time, wrk -d)
REAL_WARM_SECS=${BENCH_REAL_WARM_SECS:-1} # each warm-up run
REAL_CLIENTS=${BENCH_REAL_CLIENTS:-4}    # concurrent connections: pgbench -c, redis-benchmark -c, wrk -c
REAL_TIMEOUT=${BENCH_REAL_TIMEOUT:-60}   # hard bound on any one client run, in seconds
REDIS_REQUESTS=${BENCH_REDIS_REQUESTS:-50000}
REDIS_P16_REQUESTS=${BENCH_REDIS_P16_REQUESTS:-500000}
PG_SCALE=${BENCH_PG_SCALE:-1}
# shellcheck disable=SC2154 # (set by bench.sh)
REAL_LOG=$top_builddir/bench/realclients.log # every client run's whole output, in the order taken
: >"$REAL_LOG"
RDIR=/var/lib/ember-bench # the servers' files, in the container (its volatile root: gone with it)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1) # the release's own major version
PG_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
declare -A REAL_READY # kinds set up in this run
REAL_KEYS=()          # the ratios measured (real_derive)

# real_ports KIND: RP_KIND, RP_EMBER, RP_BACKEND, RP_PROXYD of that kind (PT[21..32], see the head of bench.sh)
real_ports() {
        local i
        case $1 in
        pg) i=21 ;; redis) i=24 ;; tls) i=27 ;; http) i=30 ;;
        *) bail "real_ports: unknown kind $1" ;;
        esac
        RP_KIND=$1 RP_EMBER=${PT[i]} RP_BACKEND=${PT[i + 1]} RP_PROXYD=${PT[i + 2]} RP_KERNEL=
        # the in-kernel relay's side only where it is built in (bench.sh's KRELAY)
        [ "$1" = pg ] && [ "$KRELAY" = 1 ] && RP_KERNEL=${PT[34]}
        return 0
}

# real_kernel_side KIND: a fourth side, ember_kernel on RP_KERNEL, for the same app and the same server: its
# supervisor offers the in-kernel relay (a drop-in adds --relay=kernel and the capability, see SYS_NSPAWN_ARGS in
# bench.sh), and realKINDk.socket starts a copy of the app's launcher unit with --relay=kernel; the app's own port
# keeps splicing. Before the backend's first start.
real_kernel_side() {
        local kind=$1 exec
        exec=$(c systemctl cat "real$kind-backend.service" | grep -m1 '^ExecStart=' | sed 's| -- | --relay=kernel -- |')
        c mkdir -p "/etc/systemd/system/real$kind-backend.service.d"
        printf '[Service]\nExecStart=\n%s\nCapabilityBoundingSet=CAP_SYS_ADMIN\n' "$exec" |
                unit_file "real$kind-backend.service.d/kernel-relay.conf"
        c cat "/etc/systemd/system/real$kind.socket" | sed "s|^ListenStream=.*|ListenStream=$A:$RP_KERNEL|" |
                unit_file "real${kind}k.socket"
        c cat "/etc/systemd/system/real$kind@.service" | sed '/^ExecStart=/ s|$| --relay=kernel|' |
                unit_file "real${kind}k@.service"
        c systemctl daemon-reload && c systemctl start "real${kind}k.socket"
}

# real_app KIND EMBERCTL-NEW-ARGS... -- COMMAND...: the app realKIND on RP_EMBER, backend on RP_BACKEND, plus the
# socket-proxyd unit realKINDpxy on RP_PROXYD in front of that same backend.
real_app() {
        local kind=$1
        shift
        # the backend unit's file system is read-only but what --rw-path= names: the servers' files are in $RDIR
        app_up "real$kind" --listen=$A:$RP_EMBER --backend=$A:$RP_BACKEND --idle=1h --rw-path="$RDIR" "$@" ||
                { diag_file "$T_TMP/new.out" >&2; say "emberctl new real$kind failed"; return 1; }
        unit_file "real${kind}pxy.socket" <<EOF
[Socket]
ListenStream=$A:$RP_PROXYD
EOF
        unit_file "real${kind}pxy.service" <<EOF
[Service]
ExecStart=$PROXYD $A:$RP_BACKEND
EOF
        c systemctl daemon-reload && c systemctl start "real${kind}pxy.socket"
}

# real_need CMD...: every CMD is on this machine, else say which package is missing
real_need() {
        local cmd
        for cmd in "$@"; do
                command -v "$cmd" >/dev/null 2>&1 && continue
                say "realclients: $cmd is missing here (apt-get install ${REAL_PKG[$cmd]:-$cmd}); skipped"
                return 1
        done
}
declare -A REAL_PKG=([$PGBIN/postgres]=postgresql [pgbench]=postgresql-client [pg_isready]=postgresql-client [redis-benchmark]=redis-tools
        [redis-server]=redis-server [wrk]=wrk [nginx]=nginx-light [openssl]=openssl)

# The servers. Each real_setup_KIND is idempotent, and leaves the backend warm (woken through ember).

real_setup_pg() {
        [ -n "${REAL_READY[pg]:-}" ] && return 0
        real_need pgbench pg_isready "$PGBIN/postgres" || return 1
        real_ports pg
        # A throwaway cluster owned by a postgres user made for it (the container's /etc is volatile); SCRAM for
        # TCP (initdb --auth-host=scram-sha-256, password generated now), trust only on the unix socket in /tmp.
        c systemd-sysusers --inline "u postgres - \"PostgreSQL (ember bench)\" $RDIR/pg" >/dev/null 2>&1
        c install -d -m 0755 "$RDIR" && c install -d -m 0700 -o postgres -g postgres "$RDIR/pg" || return 1
        printf '%s\n' "$PG_PASSWORD" | c setpriv --reuid=postgres --regid=postgres --init-groups sh -c "umask 077 &&
                cat >$RDIR/pg/pwfile"
        c setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/initdb" --no-sync -D "$RDIR/pg/data" \
                -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$RDIR/pg/pwfile" \
                >"$T_TMP/initdb.out" 2>&1 || { diag_file "$T_TMP/initdb.out" >&2; say "initdb failed"; return 1; }
        # postgres speaks sd_notify (Debian builds it --with-systemd): READY=1 once it accepts logins
        real_app pg --ready=notify --user=postgres -- "$PGBIN/postgres" -D "$RDIR/pg/data" -p "$RP_BACKEND" -k /tmp \
                -c listen_addresses=127.0.0.1 || return 1
        if [ "$KRELAY" = 1 ]; then
                real_kernel_side pg || { say "realpg: the in-kernel relay's side could not be set up"; return 1; }
        fi
        wait_until 60 pg_isready -q -h $A -p "$RP_EMBER" -U postgres || { say "postgres not ready through ember"; return 1; }
        PGPASSWORD=$PG_PASSWORD timeout -k 5 "$REAL_TIMEOUT" pgbench -i -q -s "$PG_SCALE" -h $A -p "$RP_BACKEND" \
                -U postgres postgres >"$T_TMP/pgbench-init.out" 2>&1 ||
                { diag_file "$T_TMP/pgbench-init.out" >&2; say "pgbench -i failed"; return 1; }
        REAL_READY[pg]=1
}

real_setup_redis() {
        [ -n "${REAL_READY[redis]:-}" ] && return 0
        real_need redis-server redis-benchmark || return 1
        real_ports redis
        printf 'bind 127.0.0.1\nport %s\nprotected-mode no\nsave ""\nappendonly no\ndir %s/redis\n' "$RP_BACKEND" "$RDIR" |
                c sh -c "install -d -m 0755 $RDIR && install -d -m 0755 -o nobody $RDIR/redis && cat >$RDIR/redis/redis.conf"
        real_app redis --user=nobody -- /usr/bin/redis-server "$RDIR/redis/redis.conf" || return 1
        REAL_READY[redis]=1
}

real_setup_tls() {
        [ -n "${REAL_READY[tls]:-}" ] && return 0
        real_need openssl || return 1
        real_ports tls
        # a self-signed ECDSA P-256 certificate made now (here: the container's /etc/ssl is volatile and empty)
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
                -keyout "$T_TMP/tls-key.pem" -out "$T_TMP/tls-cert.pem" >"$T_TMP/tls-req.out" 2>&1 ||
                { diag_file "$T_TMP/tls-req.out" >&2; say "cannot make a certificate"; return 1; }
        c install -d -m 0755 "$RDIR" "$RDIR/tls"
        c tee "$RDIR/tls/cert.pem" <"$T_TMP/tls-cert.pem" >/dev/null
        c sh -c "umask 077 && cat >$RDIR/tls/key.pem && chown nobody: $RDIR/tls/key.pem" <"$T_TMP/tls-key.pem"
        # -www: answers a GET with a status page and never reads its stdin; s_time without -www only shakes hands
        real_app tls --user=nobody -- /usr/bin/openssl s_server -accept "$A:$RP_BACKEND" -cert "$RDIR/tls/cert.pem" \
                -key "$RDIR/tls/key.pem" -www -quiet || return 1
        REAL_READY[tls]=1
}

real_setup_http() {
        local d=$RDIR/http
        [ -n "${REAL_READY[http]:-}" ] && return 0
        real_need wrk nginx || return 1
        real_ports http
        c install -d -m 0755 "$RDIR" "$d" "$d/www" "$d/tmp"
        # 612 bytes, the size of nginx's own welcome page
        head -c 612 /dev/zero | tr '\0' x | c tee "$d/www/index.html" >/dev/null
        # Debian's nginx.conf defaults where they matter (sendfile, tcp_nopush, tcp_nodelay), one worker, no access
        # log; keepalive_requests high so that every connection lives the whole run (reconnects are what pgbench -C
        # and s_time measure).
        c tee "$d/nginx.conf" >/dev/null <<EOF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    types { text/html html; }
    server {
        listen $A:$RP_BACKEND;
        root $d/www;
    }
}
EOF
        c chown -R nobody: "$d"
        real_app http --user=nobody -- /usr/sbin/nginx -e stderr -p "$d" -c "$d/nginx.conf" || return 1
        # wrk's own summary stops at p99; a relay's stall (Nagle: ~40 ms for the delayed ACK) shows further out
        cat >"$T_TMP/wrk-tail.lua" <<'EOF'
done = function(summary, latency, requests)
        io.write(string.format("tail: p99.9 %.0f us, p99.99 %.0f us, max %.0f us, %d requests\n",
                latency:percentile(99.9), latency:percentile(99.99), latency.max, summary.requests))
end
EOF
        REAL_READY[http]=1
}

# The clients. Each prints one rate for PORT, or nothing (and returns 1) when the run failed; its whole output is
# kept in $T_TMP/real.out for the message. warm: a short run, thrown away.

real_pgbench() { # PORT warm|run -C|persistent
        local secs=$REAL_SECS conn=
        [ "$2" = warm ] && secs=$REAL_WARM_SECS
        [ "$3" = -C ] && conn=-C
        # -S select-only, -n no vacuum; tps "including reconnection times" with -C, "without initial connection
        # time" without
        PGPASSWORD=$PG_PASSWORD timeout -k 5 "$REAL_TIMEOUT" pgbench -n -S $conn -c "$REAL_CLIENTS" -j 2 -T "$secs" \
                -h $A -p "$1" -U postgres postgres >"$T_TMP/real.out" 2>&1 || return 1
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$T_TMP/real.out" | grep .
}

real_redis_one() { # PORT PIPELINE TEST REQUESTS: requests per second of one redis-benchmark test
        local out rps
        # -q: one line per test at the end; the progress lines before it carry the overall rate so far, which is
        # what a run that hit the timeout (a stall) is given
        out=$(timeout -k 5 "$REAL_TIMEOUT" redis-benchmark -h $A -p "$1" -c "$REAL_CLIENTS" -P "$2" -t "$3" -n "$4" -q \
                2>&1 </dev/null | tr '\r' '\n')
        printf '%s\n' "$out" >>"$T_TMP/real.out"
        rps=$(printf '%s\n' "$out" | sed -n 's/^[A-Z]*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
        if [ -z "$rps" ]; then
                rps=$(printf '%s\n' "$out" | sed -n 's/.*(overall: \([0-9.]*\)).*/\1/p' | tail -n 1)
                awk -v r="$rps" 'BEGIN { exit !(r + 0 > 0) }' || return 1
                say "redis-benchmark $3 on port $1 timed out after ${REAL_TIMEOUT}s: its rate so far, $rps/s"
        fi
        [ -n "$rps" ] && echo "$rps"
}
real_redis() { # PORT warm|run PIPELINE: GET and SET together, requests / total time (the harmonic mean of both)
        local n=$REDIS_REQUESTS set get
        [ "$3" != 1 ] && n=$REDIS_P16_REQUESTS
        [ "$2" = warm ] && n=$((n / 10))
        : >"$T_TMP/real.out"
        set=$(real_redis_one "$1" "$3" set "$n") && get=$(real_redis_one "$1" "$3" get "$n") || return 1
        awk -v s="$set" -v g="$get" 'BEGIN { if (s > 0 && g > 0) printf "%.1f\n", 2 / (1 / s + 1 / g); else exit 1 }'
}

real_tls() { # PORT warm|run: full handshakes per second (a new session every connection), by the wall clock
        local secs=$REAL_SECS t0 t1 n
        [ "$2" = warm ] && secs=$REAL_WARM_SECS
        t0=$(date +%s%N)
        timeout -k 5 "$REAL_TIMEOUT" openssl s_time -connect "$A:$1" -new -time "$secs" >"$T_TMP/real.out" 2>&1 </dev/null ||
                return 1
        t1=$(date +%s%N)
        # "N connections in X.XXs; ..." (X is s_time's own CPU time; its "real seconds" are whole seconds)
        n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$T_TMP/real.out")
        [ -n "$n" ] && awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }'
}

real_http() { # PORT warm|run: requests per second, keep-alive
        local secs=$REAL_SECS
        [ "$2" = warm ] && secs=$REAL_WARM_SECS
        timeout -k 5 "$REAL_TIMEOUT" wrk -t 1 -c "$REAL_CLIENTS" -d "${secs}s" --latency -s "$T_TMP/wrk-tail.lua" \
                "http://$A:$1/index.html" \
                >"$T_TMP/real.out" 2>&1 </dev/null || return 1
        # a run with socket errors or non-2xx answers does not count
        grep -qE '^ *(Socket errors|Non-2xx)' "$T_TMP/real.out" && return 1
        sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$T_TMP/real.out" | grep .
}

# real_measure FIGURE UNIT CLIENT ARGS...: `CLIENT PORT warm|run ARGS...` on the three sides of the current kind
# (RP_*): one warm-up run per side (ember first: its launcher wakes the backend the other two reach directly; if
# that fails, nothing else is tried and it returns 1), then REAL_ROUNDS rounds, the sides in a fresh random order
# each. Every sample goes to the samples file
# ("sample FIGURE_SIDE VALUE"), each run's whole output to REAL_LOG, the median per side to K[FIGURE_SIDE_p50_UNIT]
# and the results file.
real_measure() {
        local fig=$1 unit=$2 client=$3 r side v sides
        shift 3
        local -A port=([ember]=$RP_EMBER [direct]=$RP_BACKEND [socket_proxyd]=$RP_PROXYD [ember_kernel]=$RP_KERNEL) vals=() fails=()
        local all="ember direct socket_proxyd${RP_KERNEL:+ ember_kernel}"
        for side in $all; do
                "$client" "${port[$side]}" warm "$@" >/dev/null </dev/null && continue
                say "$fig: warm-up on $side failed: $(tail -n 3 "$T_TMP/real.out" | tr '\n' ' ')"
                [ "$side" = ember ] && { diag_journal "real${RP_KIND}" >&2; return 1; }
        done
        for r in $(seq "$REAL_ROUNDS"); do
                sides=$(printf '%s\n' $all | shuf | tr '\n' ' ')
                for side in $sides; do
                        if v=$("$client" "${port[$side]}" run "$@" </dev/null); then
                                vals[$side]+="$v "
                        else
                                v=failed
                                fails[$side]=$((${fails[$side]:-0} + 1))
                                say "$fig: run on $side failed: $(tail -n 3 "$T_TMP/real.out" | tr '\n' ' ')"
                        fi
                        echo "sample ${fig}_$side $v" >>"$SAMPLES"
                        { echo "=== $fig $side round $r: $v"; cat "$T_TMP/real.out"; } >>"$REAL_LOG"
                done
                say "$fig round $r (order: $sides): $(for side in $all; do
                        printf '%s %s  ' "$side" "$(echo ${vals[$side]:-} | awk '{ print $NF }')"; done)"
        done
        for side in $all; do
                # shellcheck disable=SC2086
                K[${fig}_${side}_p50_$unit]=$(real_median ${vals[$side]:-})
                {
                        echo "${fig}_${side}_p50_$unit=${K[${fig}_${side}_p50_$unit]}"
                        echo "${fig}_${side}_all_$unit=${vals[$side]:-}"
                        echo "${fig}_${side}_fail=${fails[$side]:-0}"
                } >>"$RESULTS"
        done
}
real_median() { printf '%s\n' "$@" | grep . | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# real_done KIND: stop its backend and proxy, so that nothing of it is left for the idle phase
real_done() {
        c "$EMBERCTL" stop "real$1" >/dev/null 2>&1
        c systemctl stop "real${1}pxy.service" >/dev/null 2>&1
        c systemctl stop "real${1}k.socket" >/dev/null 2>&1
        wait_until 30 test "$(state "real$1" state)" = cold || say "real$1 not cold 30 s after emberctl stop"
}

phase_realpg() {
        real_setup_pg || return 0
        real_ports pg
        if [ "$KRELAY" = 1 ]; then
                K[realpg_kernel_relay_offered]=$(c test -S /run/ember/realpg/relay.sock && echo yes || echo no)
                echo "realpg_kernel_relay_offered=${K[realpg_kernel_relay_offered]}" >>"$RESULTS"
        fi
        say "realpg: pgbench -S, $REAL_CLIENTS clients, ${REAL_SECS}s per run, $REAL_ROUNDS rounds; scram-sha-256"
        real_measure pgbench_connect tps real_pgbench -C &&
                real_measure pgbench_persistent tps real_pgbench persistent
        real_done pg
}
phase_realredis() {
        real_setup_redis || return 0
        real_ports redis
        say "realredis: redis-benchmark -t set,get -c $REAL_CLIENTS, -n $REDIS_REQUESTS (-P 16: -n $REDIS_P16_REQUESTS), $REAL_ROUNDS rounds"
        real_measure redis_benchmark rps real_redis 1 &&
                real_measure redis_benchmark_p16 rps real_redis 16
        real_done redis
}
phase_realtls() {
        real_setup_tls || return 0
        real_ports tls
        say "realtls: openssl s_time -new against openssl s_server (ECDSA P-256), ${REAL_SECS}s per run, $REAL_ROUNDS rounds"
        real_measure tls_handshake cps real_tls
        real_done tls
}
phase_realhttp() {
        real_setup_http || return 0
        real_ports http
        say "realhttp: wrk -t1 -c$REAL_CLIENTS against nginx, a 612-byte file, keep-alive, ${REAL_SECS}s per run, $REAL_ROUNDS rounds"
        real_measure http_keepalive rps real_http
        real_done http
}
phase_realclients() {
        local kind t0
        for kind in pg redis tls http; do
                t0=$(date +%s)
                "phase_real$kind"
                K["phase_real${kind}_sec"]=$(($(date +%s) - t0))
                say "phase real$kind: ${K["phase_real${kind}_sec"]} s"
                echo "phase_real${kind}_sec=${K["phase_real${kind}_sec"]}" >>"$RESULTS"
        done
}

REAL_FIGURES="pgbench_connect:tps pgbench_persistent:tps redis_benchmark:rps redis_benchmark_p16:rps tls_handshake:cps http_keepalive:rps"
# real_ratio KEY-A KEY-B: A / B, nan when either is missing, nan or zero
real_ratio() { awk -v a="$(g "$1")" -v b="$(g "$2")" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "nan"; else printf "%.3f\n", a / b }'; }
# real_derive: the ratios, ember / direct and ember / socket-proxyd, of every figure measured; REAL_KEYS lists them
real_derive() {
        local f fig unit
        REAL_KEYS=()
        for f in $REAL_FIGURES; do
                fig=${f%:*} unit=${f#*:}
                [ -n "${K[${fig}_ember_p50_$unit]:-}" ] || continue
                K[${fig}_ratio_vs_direct]=$(real_ratio "${fig}_ember_p50_$unit" "${fig}_direct_p50_$unit")
                K[${fig}_ratio_vs_socket_proxyd]=$(real_ratio "${fig}_ember_p50_$unit" "${fig}_socket_proxyd_p50_$unit")
                REAL_KEYS+=("${fig}_ratio_vs_direct" "${fig}_ratio_vs_socket_proxyd")
                [ -n "${K[${fig}_ember_kernel_p50_$unit]:-}" ] || continue
                K[${fig}_ratio_vs_direct_kernel]=$(real_ratio "${fig}_ember_kernel_p50_$unit" "${fig}_direct_p50_$unit")
                REAL_KEYS+=("${fig}_ratio_vs_direct_kernel")
        done
}
