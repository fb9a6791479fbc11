#!/bin/bash
# A docker backend under a real systemd: `emberctl new dock --policy=container -- docker run --rm --init
# --name=ember-dock --network=host IMAGE busybox httpd`, with the recipe's drop-in
# `ExecStartPre=-docker rm --force ember-dock`. The docker CLI runs in dock-backend.service; the container does not:
# dockerd starts it under its own shim, outside the unit's cgroup, so a SIGKILL of the unit leaves it running, on
# the backend's address, and only the ExecStartPre= of the next start removes it (the supervisor refuses to start
# a backend beside something that already answers there). Shown: cold start, reuse, the idle stop removing the
# container, the orphan after systemctl kill -s KILL removed by the next start, docker kill -> a fresh container.
# dockerd is the test's own and runs on this machine (tests/lib/containers.sh: no bridge, no iptables); the booted
# container gets its socket as /run/docker.sock, as a host's docker CLI would find it. A dockerd inside the booted
# container could not run containers: runc needs writable cgroups, and nspawn's cgroup v1 controllers are read-only.
. "$(dirname "$0")/lib.sh"
sys_require
command -v curl >/dev/null || skip_all "curl is not installed"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd ||
        skip_all "/bin/busybox with httpd not installed (package busybox-static)"
. "$(dirname "$0")/../lib/containers.sh"
dockerd_start
IMAGE=ember-test-httpd:latest
docker_image "$IMAGE"
plan 28

APP=dock
binds+=(--bind="$DD/docker.sock:/run/docker.sock")
sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}

containers() { "${DOCKER[@]}" ps --all --quiet --no-trunc 2>/dev/null; }
n_containers() { containers | grep -c .; }
no_container() { [ "$(n_containers)" = 0 ]; }
# the container's server runs on this machine, outside the booted container's PID namespace
server_pid() { pgrep -f "^/bin/busybox httpd -f -p 127\.0\.0\.1:$BACKEND_PORT " | head -n 1; }
no_server() { [ -z "$(server_pid)" ]; }
no_cli() { ! c pgrep -x docker >/dev/null; }
ENGINE_NAME=dockerd
. "$(dirname "$0")/container-lib.sh"

ok "app $APP is up with --policy=container" app_up $APP --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --idle=3s --policy=container --user=root -- \
        /usr/bin/docker run --rm --init --name=ember-$APP --network=host "$IMAGE" \
        /bin/busybox httpd -f -p 127.0.0.1:$BACKEND_PORT -h /www
c sh -c "mkdir -p /etc/systemd/system/$APP-backend.service.d && printf '%s\n' '[Service]' \
        'ExecStartPre=-/usr/bin/docker rm --force ember-$APP' >/etc/systemd/system/$APP-backend.service.d/orphan.conf &&
        systemctl daemon-reload"

# ---- cold start and reuse -------------------------------------------------------------------------------------
first_connection # sets CID
cg=$(grep name=systemd "/proc/$(server_pid)/cgroup" 2>&1)
ok "the container runs under dockerd, outside the backend unit's cgroup ($cg)" \
        test -n "$cg" -a "${cg%$APP-backend.service}" = "$cg"
is "the second connection is served" "$(get)" "hello from a container"
is "by the same container" "$(containers)" "$CID"

# ---- the idle stop: SIGTERM to the CLI, which passes it on to the container's init ----------------------------------
ok "the idle stop ends the backend unit" wait_until 20 unit_down
ok "and removes the container (docker ps -a is empty)" wait_until 10 no_container
ok "no container process is left" wait_until 10 no_server
ok "no docker CLI is left in the booted container" no_cli
ok "the state is cold" cold
served_fresh "after the idle stop" "$CID"

# ---- SIGKILL of the backend unit: the container is an orphan until the next start -----------------------------
hold
c systemctl kill -s KILL $APP-backend.service
ok "systemctl kill -s KILL: the unit is down" wait_until 10 unit_down
release
counts_exact "systemctl kill -s KILL, then the held connection closed" # its launcher has left: nothing more is to come
ok "systemctl kill -s KILL: the container survives it, still serving on the backend's address" \
        eval '[ "$(containers)" = "$CID" ] && [ -n "$(server_pid)" ]'
served_fresh "systemctl kill -s KILL, then ExecStartPre= removed the orphan" "$CID"

# ---- the container crashes -----------------------------------------------------------------------------------------
crashes=$(state $APP crashes)
hold
"${DOCKER[@]}" kill ember-$APP >"$T_TMP/kill.log" 2>&1
ok "docker kill: the CLI exits, the state goes cold" wait_until 20 cold
release
is "docker kill: counted as a crash" "$(state $APP crashes)" $((${crashes:-0} + 1))
served_fresh "docker kill" "$CID"

# ---- the end ----------------------------------------------------------------------------------------------------
ok "at the end the idle stop removes the last container" wait_until 20 no_container
ok "and no container process is left" wait_until 10 no_server
is "cold-starts is 4" "$(state $APP cold-starts)" 4

tap_passing || diag_journal $APP
finish
