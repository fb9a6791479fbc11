# bench/lib.sh: what `make bench` (bench.sh) and `bench/compare` (compare.sh) share: the measuring client and
# backend, the figures (K), ports, the comparison units and the reset scripts of the cold-start samples. Sourced
# after tests/system/lib.sh, with top_builddir and top_srcdir set.

CLIENT=$top_builddir/bench/bench-client
BACKEND=$top_builddir/bench/bench-backend
RESULTS=$top_builddir/bench/results.txt
SAMPLES=$top_builddir/bench/samples.txt   # every sample, in the order taken
PROXYD=/lib/systemd/systemd-socket-proxyd
[ -x "$CLIENT" ] && [ -x "$BACKEND" ] || bail "build bench/bench-client and bench/bench-backend first (make bench)"
[ -x "$PROXYD" ] || skip_all "$PROXYD is missing (package systemd)"

say() { printf '# %s\n' "$*" >&2; }
declare -A K   # every figure, raw and derived

# collect CMD...: run a bench-client mode; its key=value lines go into K and into the results file.
collect() {
        local out k v
        out=$("$@" --verbose 2> >(tee -a "$SAMPLES" | grep -v '^sample ' >&2)) || { say "failed: $*"; return 1; }
        printf '%s\n' "$out" >>"$RESULTS"
        while IFS='=' read -r k v; do
                [ -n "$k" ] && K[$k]=$v
        done <<<"$out"
}
# calc EXPR: EXPR to 3 decimals; nan when a figure in it is missing (awk would take "nan" for 0 and say "met")
calc() { case $1 in *nan* | *inf*) echo nan ;; *) awk "BEGIN { printf \"%.3f\", $1 }" ;; esac; }
unit_file() { c tee "/etc/systemd/system/$1" >/dev/null; }

# bench_ports N: PT[1..N], picked at random among free ones below the ephemeral range (the container shares this
# machine's network namespace and other test runs may go on at the same time; below that range no client
# connection, and so no TIME-WAIT, can take them: lib.sh's pick_ports), unless BENCH_PORT_BASE fixes them to
# BASE+1..BASE+N. Each is also reserved in the inetd tests' port directory while the benchmark runs.
declare -a PT
PORT_DIR=${TMPDIR:-/tmp}/ember-test-ports
bench_ports() {
        local n=$1 i
        if [ -n "${BENCH_PORT_BASE:-}" ]; then
                for i in $(seq "$n"); do PT[i]=$((BENCH_PORT_BASE + i)); done
        else
                pick_ports "$n"
                for i in $(seq "$n"); do PT[i]=${PORTS[i - 1]}; done
        fi
        mkdir -p "$PORT_DIR" 2>/dev/null && chmod 1777 "$PORT_DIR" 2>/dev/null
        for i in $(seq "$n"); do (set -C; echo "$$" >"$PORT_DIR/${PT[i]}") 2>/dev/null; done
        trap 'release_ports; sys_cleanup' EXIT
        for i in $(seq "$n"); do port_free "${PT[i]}" || bail "port ${PT[i]} is in use on this machine"; done
}
release_ports() { local i; for i in "${!PT[@]}"; do [ "$(cat "$PORT_DIR/${PT[i]}" 2>/dev/null)" = "$$" ] && rm -f "$PORT_DIR/${PT[i]}"; done; }

# unit_accept_cat NAME PORT: systemd's own per-connection floor, a bare Accept=yes unit running /bin/cat
unit_accept_cat() {
        unit_file "$1.socket" <<EOT
[Socket]
ListenStream=127.0.0.1:$2
Accept=yes
MaxConnections=1024
TriggerLimitIntervalSec=1s
TriggerLimitBurst=20000
EOT
        printf '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n' | unit_file "$1@.service"
}

# unit_ref_proxyd NAME PORT BACKEND-PORT probe|notify: the common recipe, socket-proxyd (exiting when idle) pulling
# in a backend unit that stops when unneeded, made ready by a bash connect-probe loop sleeping 0.1 s, or by
# Type=notify. The backend is bench-backend ($BB).
unit_ref_proxyd() {
        local name=$1 port=$2 bport=$3 mode=$4
        unit_file "$name.socket" <<EOT
[Socket]
ListenStream=127.0.0.1:$port
EOT
        unit_file "$name.service" <<EOT
[Unit]
# The default start limit (5 starts in 10 s) would refuse the cold-start samples after the fifth.
StartLimitIntervalSec=0
Requires=$name-backend.service
After=$name-backend.service
[Service]
ExecStart=$PROXYD --exit-idle-time=$IDLE 127.0.0.1:$bport
EOT
        if [ "$mode" = notify ]; then
                unit_file "$name-backend.service" <<EOT
[Unit]
StartLimitIntervalSec=0
StopWhenUnneeded=yes
[Service]
Type=notify
NotifyAccess=main
ExecStart=$BB --listen=127.0.0.1:$bport --notify
EOT
        else
                unit_file "$name-backend.service" <<EOT
[Unit]
StartLimitIntervalSec=0
StopWhenUnneeded=yes
[Service]
ExecStart=$BB --listen=127.0.0.1:$bport
ExecStartPost=/bin/bash -c 'until (exec 3<>/dev/tcp/127.0.0.1/$bport) 2>/dev/null; do sleep 0.1; done'
EOT
        fi
}

# Reset scripts for the cold-start samples: each leaves its side cold (backend stopped, no instance left).
reset_script() { # NAME STOP-UNITS... : the script's path
        local f=$T_TMP/reset-$1.sh app=$1
        shift
        cat >"$f" <<EOF
#!/bin/sh
exec nsenter -t $C_PID -a env -i PATH=$C_PATH /bin/sh -c '
# (systemctl warns that the socket can start the service again: that is the point)
out=\$(systemctl stop $* 2>&1) || { echo "\$out" >&2; exit 1; }
i=0
while [ \$i -lt 500 ]; do
        s=\$(cat /run/ember/$app/state 2>/dev/null)
        if [ "\$s" != warm ] && [ "\$s" != starting ] && [ "\$s" != stopping ] &&
           [ -z "\$(systemctl list-units --no-legend --plain --state=running,activating,deactivating "$app@*")" ]; then
                exit 0
        fi
        sleep 0.01
        i=\$((i + 1))
done
echo "reset $app: still not cold" >&2
exit 1'
EOF
        chmod +x "$f"
        echo "$f"
}
