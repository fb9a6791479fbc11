#!/bin/bash
# A container backend run by docker: ember-sandbox runs `docker run --rm --init --network=host IMAGE busybox httpd`
# under the shipped `container` policy, in inetd mode, with the same story as podman.sh (container-lib.sh): cold
# start, reuse, the idle stop removing the container, a fresh one after `docker kill`, and the orphan a SIGKILLed
# supervisor leaves (with docker the container never was the CLI's child: it runs under dockerd's shim) removed
# before the next start. The test runs a dockerd of its own that changes nothing of the machine's network
# (tests/lib/containers.sh); the image is imported from busybox-static, no registry is needed.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "dockerd needs root"
need curl
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd ||
        skip_all "/bin/busybox with httpd not installed (package busybox-static)"
ember_setup
EMBER_TEST_DEADLINE=${EMBER_TEST_DEADLINE:-180}

. "$(dirname "$0")/container-lib.sh"
dockerd_start
IMAGE=ember-test-httpd:latest
docker_image "$IMAGE"
plan 23

# comm names: the CLI, containerd's shim (the container's monitor; 15 characters of containerd-shim-runc-v2), runc
ENGINE=("${DOCKER[@]}") ENGINE_ROOT=$DD ENGINE_COMMS='docker|containerd-shim|runc' ENGINE_MONITOR=containerd-shim
ENGINE_RUN=() ENGINE_RM_ORPHAN=(--force)
container_story
finish
