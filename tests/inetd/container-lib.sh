# tests/inetd/container-lib.sh: the container backend's story in inetd mode, told once for every engine; sourced by
# podman.sh and docker.sh, which build the image from image_tar's file (tests/lib/containers.sh), set up their
# engine and call container_story (this file is no test of its own, hence no #!):
#   ENGINE=(CLI GLOBAL-OPTIONS...)   the engine's CLI, pointed at the test's private storage or daemon
#   ENGINE_ROOT                      a directory every engine process of this test names on its command line
#   ENGINE_COMMS                     the comm names of those processes (CLI, monitor, runtime), an ERE
#   ENGINE_MONITOR                   the comm name of the process that watches one container (conmon, the shim)
#   ENGINE_RUN=(OPTIONS...)          more `run` options (podman: --replace)
#   ENGINE_RM_ORPHAN=(ARGS...)       the `rm` that removes a container left over by a SIGKILLed supervisor
#   IMAGE                            the imported image: /bin/busybox and /www/index.html
# The first connection cold-starts a container, the next reuses it, the idle stop removes the container (not just
# the CLI process), after `kill` the next connection gets a fresh container, and a SIGKILLed supervisor leaves an
# orphan container, which the recipe removes before the next supervisor starts. 23 results.

. "$(dirname "${BASH_SOURCE[0]}")/../lib/containers.sh"
containers() { "${ENGINE[@]}" ps --all --quiet --no-trunc 2>/dev/null; }
no_container() { [ -z "$(containers)" ]; }
one_container() { [ "$(containers | wc -l)" -eq 1 ]; }
# the engine's processes of this test (their command lines name ENGINE_ROOT) and the container's server
engine_procs() {
        local p
        for p in $(pgrep -f -- "$ENGINE_ROOT/"); do
                grep -qxE "$ENGINE_COMMS" "/proc/$p/comm" 2>/dev/null && echo "$p"
        done
        pgrep -f -- "^/bin/busybox httpd -f -p 127\.0\.0\.1:$BPORT " || true
}
no_engine_procs() { [ -z "$(engine_procs)" ]; }
n_monitors() { engine_procs | xargs -r ps -o comm= -p | grep -cxE "$ENGINE_MONITOR" || true; }

container_story() {
        ENGINE_NAME=$(basename "${ENGINE[0]}")
        # No cgroup ends what a SIGKILLed supervisor leaves in inetd mode: the container runs on under its monitor,
        # holding the backend's address, and the next supervisor refuses to start beside it. So the recipe removes a
        # container of the app's name before each supervisor starts (under systemd: NAME-backend.service's
        # ExecStartPre=; podman's --replace comes too late, after the supervisor's check that the address is free).
        printf -v rm_orphan '%q ' "${ENGINE[@]}" rm "${ENGINE_RM_ORPHAN[@]}" "ember-$APP"
        SANDBOX_PRE=(bash -c "$rm_orphan 3>&- >/dev/null 2>&1; exec \"\$@\"" ember-rm-orphan)
        SANDBOX_ARGS=(--idle=2s --policy=container --stop-timeout=10s)
        LAUNCH_ARGS=(--start-timeout=30s)
        BACKEND_CMD=("${ENGINE[@]}" run --rm --init "${ENGINE_RUN[@]}" --name="ember-$APP" --network=host "$IMAGE"
                /bin/busybox httpd -f -p "127.0.0.1:{port}" -h /www)
        ember_start
        get() { curl -sS --max-time 30 "http://$ADDR/"; }

        t0=$(now_ms)
        out=$(get 2>&1)
        t1=$(now_ms)
        is "the first connection is served through a cold-started container (in $((t1 - t0)) ms)" "$out" \
                "hello from a container"
        ok "one container runs" one_container
        cid=$(containers)
        bpid=$(st backend.pid)
        ok "the backend pid is the $ENGINE_NAME CLI" grep -q "$ENGINE_NAME" "/proc/$bpid/cmdline"

        out=$(get 2>&1)
        is "the second connection is served" "$out" "hello from a container"
        is "by the same container" "$(containers)" "$cid"
        is "and the same backend" "$(st backend.pid)" "$bpid"
        is "cold-starts is 1" "$(st cold-starts)" 1

        # idle stop: SIGTERM to the CLI, which forwards it (--sig-proxy) to the container's init (--init), which
        # stops httpd
        # "stopping" may last less than one look (50 ms apart, a docker stop with --init can be quicker): seen, or
        # already over with the backend gone
        idle_stop_began() { st_is state stopping || dead "$bpid"; }
        ok "the idle stop begins" wait_until 15 idle_stop_began
        t0=$(now_ms)
        wait_until 20 dead "$bpid"
        t1=$(now_ms)
        ok "the idle stop removes the container ($ENGINE_NAME ps -a is empty; stop took $((t1 - t0)) ms)" \
                wait_until 10 no_container
        cmp_ok "the container stopped before --stop-timeout's SIGKILL (in $((t1 - t0)) ms)" $((t1 - t0)) -lt 9000
        ok "no $ENGINE_NAME process, monitor or container process is left" wait_until 10 no_engine_procs ||
                diag "left: $(engine_procs | xargs -r ps -o pid,stat,args -p)"
        ok "the state goes cold" wait_until 10 st_is state cold

        out=$(get 2>&1)
        cid2=$(containers)
        is "after the idle stop a connection is served again (container $cid2)" "$out" "hello from a container"

        # a crash: the container is killed; the CLI exits, the supervisor sees the backend die
        "${ENGINE[@]}" kill "$cid2" >>"$LOG" 2>&1
        ok "after $ENGINE_NAME kill the state goes cold" wait_until 20 st_is state cold
        out=$(get 2>&1)
        cid3=$(containers)
        is "the next connection is served" "$out" "hello from a container"
        ok "by a fresh container ($cid3, was $cid2)" test -n "$cid3" -a "$cid3" != "$cid2"
        is "cold-starts is 3" "$(st cold-starts)" 3

        # the supervisor SIGKILLed: its CLI dies with it (PR_SET_PDEATHSIG), the container and its monitor do not
        exec 5<>"/dev/tcp/127.0.0.1/$PORT" # a live connection: no idle stop comes first
        wait_until 10 st_is refcount 1
        spid=$(st supervisor.pid)
        kill_ours -KILL "$spid"
        wait_until 10 dead "$spid"
        exec 5>&-
        # its launcher leaves: nothing of that connection is left to touch the container
        wait_until 10 launchers_gone || diag "the launcher of the closed connection has not exited after 10 s"
        ok "after the supervisor's SIGKILL its container is an orphan: still there, with its monitor" \
                eval 'one_container && [ "$(n_monitors)" = 1 ]'
        out=$(get 2>&1)
        cid4=$(containers)
        is "after the supervisor's SIGKILL the next connection is served" "$out" "hello from a container"
        ok "by a fresh container ($cid4, was $cid3)" test -n "$cid4" -a "$cid4" != "$cid3"
        ok "the orphan is gone: one container, one monitor" eval 'one_container && [ "$(n_monitors)" = 1 ]'

        # the end: the last container goes at the idle stop like the first, and nothing of the engine stays
        ok "at the end the idle stop removes the last container" wait_until 20 no_container
        ok "and no $ENGINE_NAME process, monitor or container process is left" wait_until 10 no_engine_procs
}
