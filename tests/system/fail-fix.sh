#!/bin/bash
# A failed start never leaves an app dead: a backend that fails at once, again and again (its executable gone, its
# user gone, a crash at every start), is retried by ember with a growing backoff inside the supervisor, so neither
# systemd's start limit of the backend unit nor the wake socket's trigger limit ends the app. Once the fault is
# fixed, the next connection is served, with nobody restarting a unit.
. "$(dirname "$0")/lib.sh"
plan 21

sys_boot
pick_ports 2
LISTEN_PORT=${PORTS[0]} BACKEND_PORT=${PORTS[1]}
c mkdir -p /run/ff
# the backend: ember's test backend behind a wrapper that fails while /run/ff/broken exists
c sh -c "printf '#!/bin/sh\n[ -e /run/ff/broken ] && exit 3\nexec %s --listen=127.0.0.1:%s --mode=echo\n' \
        '$TOOLS/ember-test-backend' $BACKEND_PORT >/run/ff/backend && chmod 0755 /run/ff/backend"
c systemd-sysusers --inline 'u ffuser - "ember test backend user" -' >/dev/null 2>&1

ok "app ff is up" app_up ff --listen=127.0.0.1:$LISTEN_PORT --backend=127.0.0.1:$BACKEND_PORT --user=ffuser \
        --idle=2s --policy=none -- /run/ff/backend
served() { [ "$("$TOOLS/ember-test-client" --timeout=${1:-5}s --send=hello 127.0.0.1:$LISTEN_PORT 2>/dev/null)" = hello ]; }
ok "it serves" served
cold() { [ "$(state ff state)" = cold ]; }
ok "and stops when idle" wait_until 20 cold

# fail_many: 20 clients in four bursts of five, each giving up after 3 s, while the backend cannot start
fail_many() {
        local round i pids
        for round in 1 2 3 4; do
                pids=()
                for i in 1 2 3 4 5; do
                        "$TOOLS/ember-test-client" --timeout=3s --send=x 127.0.0.1:$LISTEN_PORT >/dev/null 2>&1 &
                        pids+=($!)
                done
                wait "${pids[@]}" # (not a bare wait: the container's nspawn is a job of this shell too)
        done
}
# backend_starts: how many times systemd has started the backend unit so far
backend_starts() {
        c journalctl --sync >/dev/null 2>&1
        c journalctl -q --no-pager -o cat -u ff-backend.service | grep -c '^Starting '
}
# alive: no limit of systemd's was hit, and both sockets still listen
alive() {
        [ "$(unit_prop ff-backend.service Result)" != start-limit-hit ] &&
                c systemctl is-active --quiet ff.socket ff-backend.socket
}

for fault in user exec crash; do
        case $fault in
        crash) c touch /run/ff/broken ;;
        exec) c chmod 0644 /run/ff/backend ;;
        user) c sed -i '/^ffuser:/d' /etc/passwd ;;
        esac
        before=$(state ff crashes) starts0=$(backend_starts)
        fail_many
        ok "$fault: 20 clients while the backend cannot start leave the app alive (no start or trigger limit hit)" alive ||
                diag "$(c systemctl status --no-pager ff-backend.socket ff-backend.service 2>&1 | tail -n 20)"
        # ~12 s of clients: without a backoff, systemd starts the backend again as soon as it fails, many times a
        # second, until its start limit (100 in 10 s) or the wake socket's trigger limit (50 in 2 s) ends the app
        cmp_ok "$fault: ember backs off: $(($(backend_starts) - starts0)) starts for 20 clients in ~12 s" \
                $(($(backend_starts) - starts0)) -le 12
        cmp_ok "$fault: the failed starts are counted as crashes (${before:-0} -> $(state ff crashes))" \
                "$(state ff crashes)" -gt "${before:-0}"
        case $fault in
        crash) c rm -f /run/ff/broken ;;
        exec) c chmod 0755 /run/ff/backend ;;
        user) c systemd-sysusers --inline 'u ffuser - "ember test backend user" -' >/dev/null 2>&1 ;;
        esac
        # the backoff after many failures is at most 10 s, well within the default start timeout (30 s)
        ok "$fault: fixed, the next connection is served with no unit restarted" served 45
        ok "$fault: the app goes cold again" wait_until 20 cold
        is "$fault: the refcount is 0" "$(state ff refcount)" 0
done

tap_passing || diag_journal ff
finish
