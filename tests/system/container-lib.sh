# tests/system/container-lib.sh: what podman.sh and docker.sh check the same way under a real systemd (sourced
# after lib.sh and tests/lib/containers.sh). The test defines containers() and n_containers() for its engine, and
# ENGINE_NAME, the name that knows the containers ("podman", "dockerd").
get() { curl -sS --max-time 30 "http://127.0.0.1:$LISTEN_PORT/" 2>&1; }
cold() { [ "$(state $APP state)" = cold ]; }
unit_down() { [ "$(unit_prop $APP-backend.service ActiveState)" != active ]; }
# served_fresh DESC OLD-ID: a connection is served, by one container that is not OLD-ID
served_fresh() {
        local out id
        out=$(get)
        id=$(containers)
        is "$1: the next connection is served" "$out" "hello from a container"
        ok "$1: by a fresh container (${id:0:12}, was ${2:0:12})" test -n "$id" -a "$id" != "$2"
        is "$1: and it is the only container $ENGINE_NAME knows" "$(n_containers)" 1
        CID=$id
}
# hold: one live connection (fd 5), so that no idle stop comes before the fault; release closes it
_held() { [ "$(state $APP refcount)" = 1 ]; }
hold() { exec 5<>/dev/tcp/127.0.0.1/$LISTEN_PORT && wait_until 10 _held; }
release() { exec 5>&-; }
# first_connection: the first connection cold-starts one container, whose id goes to CID (2 tests)
first_connection() {
        local t0 out t1
        t0=$(ms_now)
        out=$(get)
        t1=$(ms_now)
        is "the first connection is served through a cold-started container ($((t1 - t0)) ms)" "$out" "hello from a container"
        CID=$(containers)
        is "one container runs" "$(n_containers)" 1
}
