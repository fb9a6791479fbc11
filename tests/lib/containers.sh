# tests/lib/containers.sh: what the container-backend tests of every layer share (sourced after the layer's lib.sh,
# which gives bail, skip_all, wait_until and tap_at_exit).

# image_tar DIR: DIR/img.tar, the test image's file system (busybox-static, and a page to serve), for `import`
image_tar() {
        mkdir -p "$1/img/bin" "$1/img/www" && cp /bin/busybox "$1/img/bin/busybox" &&
                echo "hello from a container" >"$1/img/www/index.html" && tar -C "$1/img" -cf "$1/img.tar" . ||
                bail "cannot make the image's tar file in $1"
}

# dockerd_start: a dockerd of the test's own, in DD (a new temporary directory): its data, state and socket there,
# no bridge, no iptables rules and no IP forwarding (--network=host needs none of them), so that nothing of the
# machine's network changes. Sets DD and DOCKER (the CLI pointed at it); stopped and removed at exit. Skips the
# test, saying why, where docker.io is missing or dockerd does not start.
dockerd_start() {
        local why
        [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || skip_all "dockerd is not installed (package docker.io)"
        [ -x /usr/bin/docker-init ] ||
                skip_all "docker-init is not installed (docker run --init needs it; package tini)"
        DD=$(mktemp -d "${TMPDIR:-/tmp}/ember-docker.XXXXXX") || bail "mktemp failed"
        DOCKER=(/usr/bin/docker -H "unix://$DD/docker.sock")
        tap_at_exit dockerd_cleanup
        setsid /usr/sbin/dockerd --data-root "$DD/data" --exec-root "$DD/exec" --pidfile "$DD/dockerd.pid" \
                -H "unix://$DD/docker.sock" --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
                --ip-masq=false --storage-driver=vfs >"$DD/dockerd.log" 2>&1 </dev/null &
        if ! wait_until 60 _dockerd_up; then
                why=$(grep -m 1 -i -e 'level=fatal' -e 'level=error' "$DD/dockerd.log")
                skip_all "dockerd does not start here: ${why:-no answer on its socket in 60 s}"
        fi
}
_dockerd_up() { "${DOCKER[@]}" info >/dev/null 2>&1; }
dockerd_cleanup() {
        local pid
        # shellcheck disable=SC2046
        "${DOCKER[@]}" rm --force $("${DOCKER[@]}" ps --all --quiet 2>/dev/null) >/dev/null 2>&1
        pid=$(cat "$DD/dockerd.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
                wait_until 20 _dockerd_gone "$pid" || kill -KILL "$pid" 2>/dev/null
        fi
        # what dockerd leaves mounted under DD (its netns file, a container's shm) goes before the tree
        awk -v p="$DD/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l \
                2>/dev/null
        rm -rf "$DD"
}
_dockerd_gone() { ! kill -0 "$1" 2>/dev/null; }

# docker_image IMAGE: imports image_tar's file (in DD) as IMAGE and runs it once; skips the test, saying why, if
# dockerd cannot run a container here (in an nspawn container runc finds the cgroups read-only)
docker_image() {
        local why
        image_tar "$DD"
        "${DOCKER[@]}" import "$DD/img.tar" "$1" >"$DD/import.log" 2>&1 ||
                { diag_file "$DD/import.log"; bail "docker import failed"; }
        if ! "${DOCKER[@]}" run --rm --network=host "$1" /bin/busybox true >"$DD/probe.log" 2>&1; then
                why=$(grep -m 1 . "$DD/probe.log")
                skip_all "dockerd cannot run a container here: ${why:-docker run failed}"
        fi
}
