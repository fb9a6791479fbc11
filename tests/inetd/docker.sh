#!/bin/bash
# A container backend run by docker: ember-sandbox runs `docker run --rm --init --network=host IMAGE busybox httpd`
# under the shipped `container` policy, in inetd mode, with the same story as podman.sh (container-lib.sh): cold
# start, reuse, the idle stop removing the container, a fresh one after `docker kill`, and the orphan a SIGKILLed
# supervisor leaves (with docker the container never was the CLI's child: it runs under dockerd's shim) removed
# before the next start. The test runs a dockerd of its own: its data, state and socket in a temporary directory,
# no bridge, no iptables rules and no IP forwarding (--network=host needs none of them), so that nothing of the
# machine's network changes; the image is imported from busybox-static, no registry is needed.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "dockerd needs root"
need curl
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || skip_all "dockerd is not installed (package docker.io)"
[ -x /usr/bin/docker-init ] || skip_all "docker-init is not installed (docker run --init needs it; package tini)"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd ||
        skip_all "/bin/busybox with httpd not installed (package busybox-static)"
ember_setup
EMBER_TEST_DEADLINE=${EMBER_TEST_DEADLINE:-180}

DD=$(mktemp -d "${TMPDIR:-/tmp}/ember-docker.XXXXXX") || bail "mktemp failed"
DOCKER=(/usr/bin/docker -H "unix://$DD/docker.sock")
docker_cleanup() {
        local pid
        "${DOCKER[@]}" rm --force $("${DOCKER[@]}" ps --all --quiet 2>/dev/null) >/dev/null 2>&1
        pid=$(cat "$DD/dockerd.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
                wait_until 20 dead "$pid" || kill -KILL "$pid" 2>/dev/null
        fi
        # what dockerd leaves mounted under DD (its netns file, a container's shm) goes before the tree
        awk -v p="$DD/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l \
                2>/dev/null
        rm -rf "$DD"
}
tap_at_exit docker_cleanup
setsid /usr/sbin/dockerd --data-root "$DD/data" --exec-root "$DD/exec" --pidfile "$DD/dockerd.pid" \
        -H "unix://$DD/docker.sock" --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
        --ip-masq=false --storage-driver=vfs >"$DD/dockerd.log" 2>&1 </dev/null &
docker_up() { "${DOCKER[@]}" info >/dev/null 2>&1; }
if ! wait_until 60 docker_up; then
        why=$(grep -m 1 -i -e 'level=fatal' -e 'level=error' "$DD/dockerd.log")
        skip_all "dockerd does not start here: ${why:-no answer on its socket in 60 s}"
fi
plan 23

. "$(dirname "$0")/container-lib.sh"
image_tar "$DD"
IMAGE=ember-test-httpd:latest
"${DOCKER[@]}" import "$DD/img.tar" "$IMAGE" >>"$LOG" 2>&1 || bail "docker import failed (see $LOG)"

# comm names: the CLI, containerd's shim (the container's monitor; 15 characters of containerd-shim-runc-v2), runc
ENGINE=("${DOCKER[@]}") ENGINE_ROOT=$DD ENGINE_COMMS='docker|containerd-shim|runc' ENGINE_MONITOR=containerd-shim
ENGINE_RUN=() ENGINE_RM_ORPHAN=(--force)
container_story
finish
