#!/bin/bash
# A container backend under a real systemd: `emberctl new pod --policy=container -- podman run --rm --init --replace
# --name=ember-pod --network=host --cgroups=disabled --runtime=crun IMAGE busybox httpd`, in a booted container.
# Cold start, reuse of the same container, the idle stop that removes the container and leaves no podman, conmon or
# runtime process behind, `systemctl kill -s KILL` of the backend unit (and of its supervisor alone) and a crash of
# the container (`podman kill`): the next connection gets a fresh container and no orphan remains.
# The image (busybox-static's httpd, tests/lib/containers.sh) is imported into the booted container's own podman
# storage (its /var and /run are its own): no registry, and nothing of this machine's podman is touched.
# Why these flags, under systemd (see doc/containers.md):
# - --cgroups=disabled keeps conmon and the container in NAME-backend.service's cgroup, where systemd's stop and
#   kill reach them; the container's cgroup v1 controllers are read-only here, so podman could not make its own
#   cgroups anyway. runc refuses --cgroups=disabled ("not compatible with NoCgroups"), crun runs with it.
# - --replace --name=ember-pod: a container whose conmon was SIGKILLed with the unit stays in podman's records,
#   and the next start replaces it.
# - ExecStopPost=-podman rm --force --time 0 --ignore ember-pod (a drop-in, as doc/containers.md says): podman before 5.6
#   (Debian 13 has 5.4) cannot remove the record of a container whose conmon was killed at the first try ("conmon
#   exited prematurely", exit 125: podman issue 26640); that try marks it stopped, and the next one removes it. Left
#   to `run --replace`, the first try is the next cold start, which fails once: two cold starts where one should do.
# - nspawn's own system call filter denies keyrings (they are not namespaced), which crun joins for every container;
#   a host's systemd does not filter them, so the container lets keyctl through (SYS_NSPAWN_ARGS).
. "$(dirname "$0")/lib.sh"
sys_require
command -v podman >/dev/null || skip_all "podman is not installed"
[ -x /usr/bin/crun ] || skip_all "/usr/bin/crun not installed (package crun; runc refuses --cgroups=disabled)"
command -v catatonit >/dev/null || skip_all "catatonit not installed (podman run --init needs it)"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd ||
        skip_all "/bin/busybox with httpd not installed (package busybox-static)"
command -v curl >/dev/null || skip_all "curl is not installed"
plan 41

SYS_NSPAWN_ARGS=(--system-call-filter='keyctl add_key request_key')
sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
APP=pod
IMAGE=localhost/ember-test-httpd:latest

# the image: busybox's httpd serving one page, imported into the booted container's own podman storage
c sh -c 'mkdir -p /etc/containers && printf "%s\n" "{ \"default\": [ { \"type\": \"insecureAcceptAnything\" } ] }" \
        >/etc/containers/policy.json'
. "$(dirname "$0")/../lib/containers.sh"
image_tar "$T_TMP"
c podman import - "$IMAGE" <"$T_TMP/img.tar" >"$T_TMP/import.log" 2>&1 ||
        { diag_file "$T_TMP/import.log"; bail "podman import failed in the container"; }

containers() { c podman ps --all --quiet --no-trunc 2>/dev/null; }
n_containers() { containers | grep -c .; }
no_container() { [ "$(n_containers)" = 0 ]; }
# podman, conmon, the runtime, the container's init and httpd: every process the booted container runs is in its
# PID namespace, so this is all of them
engine_procs() { c pgrep -x 'podman|conmon|crun|podman-init|catatonit|busybox' || true; }
no_engine_procs() { [ -z "$(engine_procs)" ]; }
n_conmon() { c pgrep -c -x conmon || true; }
ENGINE_NAME=podman
. "$(dirname "$0")/container-lib.sh"

ok "app $APP is up with --policy=container" app_up $APP --listen=127.0.0.1:$LISTEN_PORT \
        --backend=127.0.0.1:$BACKEND_PORT --idle=3s --policy=container --user=root -- \
        podman run --rm --init --replace --name=ember-$APP --network=host --cgroups=disabled --runtime=crun \
        "$IMAGE" /bin/busybox httpd -f -p 127.0.0.1:$BACKEND_PORT -h /www
c sh -c "mkdir -p /etc/systemd/system/$APP-backend.service.d && printf '%s\n' '[Service]' \
        'ExecStopPost=-/usr/bin/podman rm --force --time 0 --ignore ember-$APP' \
        >/etc/systemd/system/$APP-backend.service.d/leftover.conf && systemctl daemon-reload"

ok "systemd-analyze verify passes on the container policy's backend unit" \
        verify_units /etc/systemd/system/$APP-backend.service
exposure=$(c systemd-analyze security --no-pager $APP-backend.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for .*: //p')
diag "systemd-analyze security $APP-backend.service: $exposure (the default policy's unit: at most 5.0, security.sh)"

# ---- cold start and reuse -------------------------------------------------------------------------------------
first_connection # sets CID
conmon=$(c pgrep -x conmon | head -n 1)
like "conmon stays in the backend unit's cgroup (--cgroups=disabled)" \
        "$(c cat /proc/${conmon:-0}/cgroup 2>&1 | grep name=systemd)" "/$APP-backend\.service$"
httpd=$(c pgrep -x busybox | head -n 1)
like "and so does the container's server" "$(c cat /proc/${httpd:-0}/cgroup 2>&1 | grep name=systemd)" \
        "/$APP-backend\.service$"
is "the second connection is served" "$(get)" "hello from a container"
is "by the same container" "$(containers)" "$CID"
is "cold-starts is 1" "$(state $APP cold-starts)" 1

# ---- the idle stop ----------------------------------------------------------------------------------------------
ok "the idle stop ends the backend unit" wait_until 20 unit_down
ok "and removes the container (podman ps -a is empty)" wait_until 10 no_container
ok "no podman, conmon, crun or container process is left" wait_until 10 no_engine_procs ||
        diag "left: $(engine_procs | xargs -r c ps -o pid,args -p)"
# its ExecStopPost= (podman rm) may still run a moment after the last container process is gone: "deactivating"
unit_inactive() { [ "$(unit_prop $APP-backend.service ActiveState)" = inactive ]; }
ok "the backend unit is inactive" wait_until 20 unit_inactive ||
        diag "ActiveState: $(unit_prop $APP-backend.service ActiveState)"
ok "the state is cold" cold
served_fresh "after the idle stop" "$CID"

# one_cold_start DESC: the connection that healed the fault cost one cold start, not a failed one and a retry
COLD=$(state $APP cold-starts)
one_cold_start() {
        is "$1: with one cold start" "$(state $APP cold-starts)" $((${COLD:-0} + 1))
        COLD=$(state $APP cold-starts)
}

# ---- SIGKILL of the whole backend unit ------------------------------------------------------------------------
hold
c systemctl kill -s KILL $APP-backend.service
ok "systemctl kill -s KILL: the unit is down" wait_until 10 unit_down
is "systemctl kill -s KILL: killed by the signal" "$(unit_prop $APP-backend.service Result)" signal
release
ok "systemctl kill -s KILL: every process of it is gone, the container's too" wait_until 10 no_engine_procs ||
        diag "left: $(engine_procs | xargs -r c ps -o pid,args -p)"
diag "podman lists $(n_containers) container(s) after it: conmon died before it could remove it, ExecStopPost= tried"
served_fresh "systemctl kill -s KILL" "$CID"
one_cold_start "systemctl kill -s KILL"
is "systemctl kill -s KILL: one conmon runs" "$(n_conmon)" 1

# ---- SIGKILL of the supervisor alone: systemd kills what is left in the unit (KillMode=mixed) --------------------
hold
c systemctl kill -s KILL --kill-whom=main $APP-backend.service
ok "the supervisor SIGKILLed: the unit is down" wait_until 10 unit_down
is "the supervisor SIGKILLed: killed by the signal" "$(unit_prop $APP-backend.service Result)" signal
release
ok "the supervisor SIGKILLed: podman, conmon and the container are gone with it" wait_until 10 no_engine_procs ||
        diag "left: $(engine_procs | xargs -r c ps -o pid,args -p)"
served_fresh "the supervisor SIGKILLed" "$CID"
one_cold_start "the supervisor SIGKILLed"

# ---- the container crashes -----------------------------------------------------------------------------------------
crashes=$(state $APP crashes)
hold
c podman kill ember-$APP >"$T_TMP/kill.log" 2>&1
ok "podman kill: podman run exits, the state goes cold" wait_until 20 cold
release
is "podman kill: counted as a crash" "$(state $APP crashes)" $((${crashes:-0} + 1))
served_fresh "podman kill" "$CID"
one_cold_start "podman kill"

# ---- the end: nothing of podman stays --------------------------------------------------------------------------
ok "at the end the idle stop removes the last container" wait_until 20 no_container
ok "and no podman, conmon or container process is left" wait_until 10 no_engine_procs
is "cold-starts is 5" "$(state $APP cold-starts)" 5

tap_passing || diag_journal $APP
finish
