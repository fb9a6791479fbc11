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
. "$(dirname "$0")/container-lib.sh"
image_tar "$PM"
IMAGE=localhost/ember-test-httpd:latest
"${PODMAN[@]}" import "$PM/img.tar" "$IMAGE" >>"$LOG" 2>&1 || bail "podman import failed (see $LOG)"
# runc with cgroupfs makes the container's cgroups in every v1 controller: inside a container (a pristine Debian
# booted with systemd-nspawn) those are read-only, and no container can run at all. That is the machine's doing.
if ! "${PODMAN[@]}" run --rm --network=host "$IMAGE" /bin/busybox true >"$PM/probe.log" 2>&1; then
        skip_all "podman cannot run a container here: $(grep -m 1 -e '^Error' -e 'level=error' "$PM/probe.log" || head -n 1 "$PM/probe.log")"
fi

SA_ENV=(-E PATH -E CONTAINERS_CONF)
ENGINE=("${PODMAN[@]}") ENGINE_ROOT=$PM ENGINE_COMMS='podman|conmon|runc|catatonit' ENGINE_MONITOR=conmon
ENGINE_RUN=(--replace) ENGINE_RM_ORPHAN=(--force --time 0 --ignore)
container_story
finish
