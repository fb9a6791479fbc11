#!/bin/bash
# podman with cgroups of its own, on cgroup v2 under systemd 257 (issue 23): doc/containers.md's podman recipe with
# --cgroups=split instead of --cgroups=disabled, and the drop-in that mode needs:
#   emberctl new pod --policy=container --user=root -- podman run --rm --init --replace --name=ember-pod
#           --network=host --cgroups=split IMAGE busybox httpd ...
#   [Service] Delegate=yes, ReadWritePaths=/sys/fs/cgroup,
#             ExecStopPost=-/usr/bin/podman rm --force --time 0 --ignore ember-pod
# With split, podman moves the unit's processes (the supervisor, podman itself, then conmon) into the unit's
# sub-cgroup "runtime" and runs the container in a sibling, libpod-payload-ID, with every controller of its own:
# all of it stays under the backend unit's cgroup, so systemd's stop and kill reach the container and the unit's
# cgroup (which ember bills: memory.peak, cpu.stat) counts it. A sub-cgroup is the unit's only if systemd delegates
# it (Delegate=yes), and the default backend unit has /sys read-only: crun writes cgroup.subtree_control from the
# root down ("enable controllers ... /sys/fs/cgroup/cgroup.subtree_control: Read-only file system" otherwise), hence
# /sys/fs/cgroup writable. (Podman's default mode, not tested here, needs the same, and puts the container in
# machine.slice/libpod-ID.scope: outside the unit, which neither bills nor stops it; conmon stays in the unit.)
# Checked: cold start, the warm reuse of one container, where each process and the container's cgroup are, the
# bill against the cgroups, the idle stop (no container, no podman, conmon or container process, no cgroup left),
# and a SIGKILL of the unit healed by the next connection with one cold start.
. "$(dirname "$0")/lib.sh"
plan 26

for cmd in podman crun catatonit; do
        command -v $cmd >/dev/null || bail "$cmd is not installed in the VM (tests/vm/vm's VM_CONTAINER_PACKAGES)"
done
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || bail "/bin/busybox (busybox-static) is missing"

APP=pod PORT=18121 BPORT=18122
IMAGE=localhost/ember-vm-httpd:latest
UNIT_CG=/sys/fs/cgroup/system.slice/$APP-backend.service

# the image: busybox's httpd serving one page, imported (no registry)
mkdir -p /etc/containers "$T_TMP/img/bin" "$T_TMP/img/www"
[ -e /etc/containers/policy.json ] ||
        echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' >/etc/containers/policy.json
cp /bin/busybox "$T_TMP/img/bin/" && echo "hello from a container" >"$T_TMP/img/www/index.html" &&
        tar -C "$T_TMP/img" -cf "$T_TMP/img.tar" . || bail "cannot make the image's tar file"
podman import "$T_TMP/img.tar" "$IMAGE" >"$T_TMP/import.log" 2>&1 || { diag_file "$T_TMP/import.log"; bail "podman import failed"; }
diag "$(podman --version), $(crun --version | head -n 1), cgroup manager $(podman info --format '{{.Host.CgroupManager}}' 2>/dev/null)"

podman_cleanup() { podman rm --all --force --time 0 >/dev/null 2>&1; podman rmi --force "$IMAGE" >/dev/null 2>&1; }
tap_at_exit podman_cleanup

get() { curl -sS -m 180 "http://127.0.0.1:$PORT/" 2>&1; }
containers() { podman ps --all --quiet --no-trunc 2>/dev/null; }
n_containers() { containers | grep -c .; }
no_container() { [ "$(n_containers)" = 0 ]; }
engine_procs() { pgrep -x 'podman|conmon|crun|podman-init|catatonit|busybox' || true; }
no_engine_procs() { [ -z "$(engine_procs)" ]; }
unit_down() { [ "$(unit_prop $APP-backend.service ActiveState)" != active ]; }
no_unit_cgroup() { [ ! -d "$UNIT_CG" ]; }
# cgroup_of PID: its cgroup v2 path ("" if it is gone)
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
_held() { [ "$(state $APP refcount)" = 1 ]; }
hold() { exec 5<>/dev/tcp/127.0.0.1/$PORT && wait_until 60 _held; }
release() { exec 5>&-; }

# the drop-in first: one daemon-reload fewer under TCG, where emberctl's may time out
ok "the drop-in: Delegate=yes, /sys/fs/cgroup writable, the leftover removed at the stop" dropin $APP-backend.service \
        split.conf "[Service]\nDelegate=yes\nReadWritePaths=/sys/fs/cgroup\nExecStopPost=-/usr/bin/podman rm --force --time 0 --ignore ember-$APP\n"
ok "app $APP is up: podman --cgroups=split, with --policy=container" app_new $APP --listen=127.0.0.1:$PORT \
        --backend=127.0.0.1:$BPORT --idle=5s --policy=container --user=root -- \
        /usr/bin/podman run --rm --init --replace --name=ember-$APP --network=host --cgroups=split \
        "$IMAGE" /bin/busybox httpd -f -p 127.0.0.1:$BPORT -h /www

# ---- cold start: where everything runs ----------------------------------------------------------------------------
t0=$(ms_now)
out=$(get)
is "the first connection is served by a cold-started container ($(($(ms_now) - t0)) ms)" "$out" "hello from a container"
CID=$(containers)
is "one container runs" "$(n_containers)" 1
httpd=$(pgrep -x busybox | head -n 1)
conmon=$(pgrep -x conmon | head -n 1)
spid=$(unit_prop $APP-backend.service MainPID)
payload=/system.slice/$APP-backend.service/libpod-payload-$CID
is "the container's server runs in a cgroup of its own, under the backend unit's" "$(cgroup_of "${httpd:-0}")" "$payload"
ok "which has its own memory, cpu and pids controllers" test -e "/sys/fs/cgroup$payload/memory.peak" \
        -a -e "/sys/fs/cgroup$payload/cpu.stat" -a -e "/sys/fs/cgroup$payload/pids.current"
like "conmon stays in the backend unit (podman moved it to the unit's sub-cgroup runtime)" "$(cgroup_of "${conmon:-0}")" \
        "^/system\.slice/$APP-backend\.service/runtime$"
like "and so does the supervisor ($spid)" "$(cgroup_of "${spid:-0}")" "^/system\.slice/$APP-backend\.service(/runtime)?$"
diag "cgroups: supervisor $(cgroup_of "${spid:-0}"), conmon $(cgroup_of "${conmon:-0}"), container $(cgroup_of "${httpd:-0}")"

# ---- warm, and the bill -------------------------------------------------------------------------------------------
is "the second connection is served" "$(get)" "hello from a container"
is "by the same container" "$(containers)" "$CID"
is "cold-starts is 1" "$(state $APP cold-starts)" 1
cpu_usec() { sed -n 's/^usage_usec //p' "$1/cpu.stat" 2>/dev/null; }
ok "the unit's cgroup counts the container's memory: its memory.peak is at least the container's" \
        test "$(cat $UNIT_CG/memory.peak 2>/dev/null || echo 0)" -ge "$(cat /sys/fs/cgroup$payload/memory.peak 2>/dev/null || echo x)"
ok "and its CPU time: usage_usec at least the container's" \
        test "$(cpu_usec $UNIT_CG || echo 0)" -ge "$(cpu_usec /sys/fs/cgroup$payload || echo x)"
diag "memory.peak: unit $(cat $UNIT_CG/memory.peak 2>/dev/null), container $(cat /sys/fs/cgroup$payload/memory.peak 2>/dev/null);" \
        "usage_usec: unit $(cpu_usec $UNIT_CG), container $(cpu_usec /sys/fs/cgroup$payload)"
metric() { "$EMBERCTL" metrics $APP | sed -n "s/^$1{app=\"$APP\"} //p"; }
peak_agrees() { [ "$(metric ember_backend_memory_peak_bytes)" = "$(cat $UNIT_CG/memory.peak)" ]; }
ok "ember bills the unit's cgroup, container included (ember_backend_memory_peak_bytes is its memory.peak)" \
        wait_until 30 peak_agrees

# ---- the idle stop -------------------------------------------------------------------------------------------------
ok "the idle stop ends the backend unit" wait_until 120 unit_down
ok "and removes the container (podman ps -a is empty)" wait_until 60 no_container
ok "no podman, conmon, crun or container process is left" wait_until 30 no_engine_procs ||
        diag "left: $(engine_procs | xargs -r ps -o pid,cgroup,args -p)"
ok "nor the unit's cgroup, the container's with it" wait_until 30 no_unit_cgroup
is "the state is cold" "$(state $APP state)" cold

# ---- SIGKILL of the whole unit: the container is in it, so it dies too; the next connection heals with one cold start
is "after the idle stop a connection is served again" "$(get)" "hello from a container"
CID=$(containers)
hold
systemctl kill -s KILL $APP-backend.service
ok "systemctl kill -s KILL: the unit is down, the container's processes with it" wait_until 60 no_engine_procs ||
        diag "left: $(engine_procs | xargs -r ps -o pid,cgroup,args -p)"
release
cold=$(state $APP cold-starts)
out=$(get)
new=$(containers)
is "systemctl kill -s KILL: the next connection is served" "$out" "hello from a container"
ok "by a fresh container (${new:0:12}, was ${CID:0:12}), the only one podman knows" test -n "$new" -a "$new" != "$CID" \
        -a "$(n_containers)" = 1
is "with one cold start" "$(state $APP cold-starts)" $((${cold:-0} + 1))
ok "at the end the idle stop leaves no container" wait_until 120 no_container
counts_exact "at the end" $APP
finish
