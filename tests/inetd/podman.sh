#!/bin/bash
# A container backend: ember-sandbox runs `podman run --rm --init --network=host IMAGE busybox httpd` under the
# shipped `container` policy, in inetd mode (ember-launch under systemd-socket-activate; no systemd as PID 1 here).
# The first connection cold-starts a container, the next reuses it, the idle stop removes the container (not just
# the podman CLI), and after `podman kill` the next connection gets a fresh container; a SIGKILLed supervisor
# leaves an orphan container, which the recipe removes before the next supervisor starts. The image is built here
# from busybox-static (tar + podman import; no registry is needed) in a private storage that is removed at the end.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "rootful podman needs root"
need podman curl
[ -x /usr/sbin/runc ] || skip_all "/usr/sbin/runc not installed (package runc; crun refuses cgroup v1/hybrid)"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd ||
        skip_all "/bin/busybox with httpd not installed (package busybox-static)"
command -v catatonit >/dev/null || [ -x /usr/libexec/podman/catatonit ] ||
        skip_all "catatonit not installed (podman run --init needs it)"
plan 23
ember_setup
EMBER_TEST_DEADLINE=${EMBER_TEST_DEADLINE:-180}

# podman's storage, state, network config and events all live in PM, removed at the end
PM=$(mktemp -d "${TMPDIR:-/tmp}/ember-podman.XXXXXX") || bail "mktemp failed"
cat >"$PM/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
events_logger = "file"
events_logfile_path = "$PM/events.log"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF=$PM/containers.conf
PODMAN=(podman --root "$PM/root" --runroot "$PM/runroot" --tmpdir "$PM/tmp" --network-config-dir "$PM/net"
        --storage-driver vfs --runtime /usr/sbin/runc --cgroup-manager cgroupfs --events-backend file)
podman_cleanup() {
        "${PODMAN[@]}" rm --all --force --time 0 >/dev/null 2>&1
        # whatever podman still has mounted under PM (a container's /dev/shm) goes before the tree
        awk -v p="$PM/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
        rm -rf "$PM"
}
tap_at_exit podman_cleanup
containers() { "${PODMAN[@]}" ps --all --quiet --no-trunc 2>/dev/null; }
no_container() { [ -z "$(containers)" ]; }
one_container() { [ "$(containers | wc -l)" -eq 1 ]; }
# podman and conmon processes of this test (their command lines name PM)
podman_procs() {
        local p
        for p in $(pgrep -f -- "$PM/"); do
                case $(cat "/proc/$p/comm" 2>/dev/null) in podman | conmon | runc | catatonit) echo "$p" ;; esac
        done
        return 0
}
no_podman_procs() { [ -z "$(podman_procs)" ]; }

mkdir -p "$PM/img/bin" "$PM/img/www"
cp /bin/busybox "$PM/img/bin/busybox"
echo "hello from a container" >"$PM/img/www/index.html"
tar -C "$PM/img" -cf "$PM/img.tar" . || bail "tar failed"
IMAGE=localhost/ember-test-httpd:latest
"${PODMAN[@]}" import "$PM/img.tar" "$IMAGE" >>"$LOG" 2>&1 || bail "podman import failed (see $LOG)"

SA_ENV=(-E PATH -E CONTAINERS_CONF)
SANDBOX_ARGS=(--idle=2s --policy=container --stop-timeout=10s)
LAUNCH_ARGS=(--start-timeout=30s)
BACKEND_CMD=("${PODMAN[@]}" run --rm --init --replace --name=ember-$APP --network=host "$IMAGE"
        /bin/busybox httpd -f -p "127.0.0.1:{port}" -h /www)
# No cgroup ends what a SIGKILLed supervisor leaves in inetd mode: conmon and the container run on, holding the
# backend's address, and the next supervisor refuses to start beside them. So the recipe removes a container of the
# app's name before each supervisor starts (under systemd that is NAME-backend.service's ExecStartPre=; --replace
# would come too late, after the supervisor's check that the address is free).
printf -v rm_orphan '%q ' "${PODMAN[@]}" rm --force --time 0 --ignore "ember-$APP"
SANDBOX_PRE=(bash -c "$rm_orphan 3>&- >/dev/null 2>&1; exec \"\$@\"" ember-rm-orphan)
ember_start
get() { curl -sS --max-time 30 "http://$ADDR/"; }

t0=$(now_ms)
out=$(get 2>&1)
t1=$(now_ms)
is "the first connection is served through a cold-started container (in $((t1 - t0)) ms)" "$out" "hello from a container"
ok "one container runs" one_container
cid=$(containers)
bpid=$(st backend.pid)
ok "the backend pid is the podman CLI" grep -q podman "/proc/$bpid/cmdline"

out=$(get 2>&1)
is "the second connection is served" "$out" "hello from a container"
is "by the same container" "$(containers)" "$cid"
is "and the same backend" "$(st backend.pid)" "$bpid"
is "cold-starts is 1" "$(st cold-starts)" 1

# idle stop: SIGTERM to the podman CLI, which forwards it (--sig-proxy) to catatonit (--init), which stops httpd
ok "the idle stop begins" wait_until 15 st_is state stopping
t0=$(now_ms)
wait_until 20 dead "$bpid"
t1=$(now_ms)
ok "the idle stop removes the container (podman ps -a is empty; stop took $((t1 - t0)) ms)" wait_until 10 no_container
cmp_ok "the container stopped before --stop-timeout's SIGKILL (in $((t1 - t0)) ms)" $((t1 - t0)) -lt 9000
ok "no podman or conmon process is left" wait_until 10 no_podman_procs || diag "left: $(podman_procs | xargs -r ps -o pid,stat,args -p)"
ok "the state goes cold" wait_until 10 st_is state cold

out=$(get 2>&1)
cid2=$(containers)
is "after the idle stop a connection is served again (container $cid2)" "$out" "hello from a container"

# a crash: the container is killed; podman run exits, the supervisor sees the backend die
"${PODMAN[@]}" kill "$cid2" >>"$LOG" 2>&1
ok "after podman kill the state goes cold" wait_until 20 st_is state cold
out=$(get 2>&1)
cid3=$(containers)
is "the next connection is served" "$out" "hello from a container"
ok "by a fresh container ($cid3, was $cid2)" test -n "$cid3" -a "$cid3" != "$cid2"
is "cold-starts is 3" "$(st cold-starts)" 3

# the supervisor SIGKILLed: its podman CLI dies with it (PR_SET_PDEATHSIG), conmon and the container do not
exec 5<>"/dev/tcp/127.0.0.1/$PORT" # a live connection: no idle stop comes first
wait_until 10 st_is refcount 1
spid=$(st supervisor.pid)
kill -KILL "$spid"
wait_until 10 dead "$spid"
exec 5>&-
sleep 1
conmon_alive() { podman_procs | xargs -r ps -o comm= -p | grep -qx conmon; }
ok "after the supervisor's SIGKILL its container is an orphan: still there, with its conmon" eval 'one_container && conmon_alive'
out=$(get 2>&1)
cid4=$(containers)
is "after the supervisor's SIGKILL the next connection is served" "$out" "hello from a container"
ok "by a fresh container ($cid4, was $cid3)" test -n "$cid4" -a "$cid4" != "$cid3"
ok "the orphan is gone: one container, one conmon" eval 'one_container && [ "$(podman_procs | xargs -r ps -o comm= -p | grep -cx conmon)" = 1 ]'

# the end: the last container goes at the idle stop like the first, and nothing of podman stays
ok "at the end the idle stop removes the last container" wait_until 20 no_container
ok "and no podman or conmon process is left" wait_until 10 no_podman_procs
finish
