#!/bin/bash
# bench/state-dir.sh (root, systemd-nspawn; after make bench/bench-client bench/bench-backend): what the
# StateDirectory= every app gets costs a cold start. Two apps from the same emberctl, the second with the state
# directory reset by a drop-in (StateDirectory=), SAMPLES (20) connect -> first byte cold starts each, interleaved
# (bench-client cold), under a real systemd booted in nspawn (tests/system/lib.sh); every sample (us) in
# bench/state-dir-samples.txt. STATE_DIR_USER=USER: both apps run as --user=USER, whose state directory the wake
# socket makes theirs as it starts; the second app's drop-in adds what it replaced, an ExecStartPre=+install of it
# before each start (sides "as_generated" and "exec_start_pre").
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}" "${top_srcdir:=$top_builddir}"
export top_builddir top_srcdir
. "$top_srcdir/tests/system/lib.sh"
plan 1
CLIENT=$top_builddir/bench/bench-client BACKEND=$top_builddir/bench/bench-backend
sys_boot >&2
pick_ports 4
A=127.0.0.1
USER_ARGS=() DROPIN='StateDirectory=' ON=with_state_dir OFF=without_state_dir
if [ -n "${STATE_DIR_USER:-}" ]; then
        USER_ARGS=(--user="$STATE_DIR_USER") ON=as_generated OFF=exec_start_pre
        DROPIN="ExecStartPre=+/usr/bin/install -d -o $STATE_DIR_USER -m 0750 /var/lib/ember/sdoff"
fi
app_up sdon "${USER_ARGS[@]}" --listen=$A:${PORTS[0]} --backend=$A:${PORTS[1]} --idle=1h --ready=notify -- $BACKEND --listen=$A:${PORTS[1]} --notify || bail "sdon"
app_up sdoff "${USER_ARGS[@]}" --listen=$A:${PORTS[2]} --backend=$A:${PORTS[3]} --idle=1h --ready=notify -- $BACKEND --listen=$A:${PORTS[3]} --notify || bail "sdoff"
c mkdir -p /etc/systemd/system/sdoff-backend.service.d
printf '[Service]\n%s\n' "$DROPIN" | c tee /etc/systemd/system/sdoff-backend.service.d/no-state.conf >/dev/null
c systemctl daemon-reload
for u in sdon sdoff; do
        echo "$u: StateDirectory='$(c systemctl show -P StateDirectory $u-backend.service)'" \
                "ExecStartPre='$(c systemctl show -P ExecStartPre $u-backend.service | cut -c1-80)'" >&2
done
reset() { # APP: a script that leaves APP cold
        local f=$T_TMP/reset-$1.sh
        cat >"$f" <<EOS
#!/bin/sh
exec nsenter -t $C_PID -a env -i PATH=$C_PATH /bin/sh -c '
systemctl stop $1-backend.service 2>/dev/null
i=0
while [ \$i -lt 500 ]; do
        s=\$(cat /run/ember/$1/state 2>/dev/null)
        [ "\$s" != warm ] && [ "\$s" != starting ] && [ "\$s" != stopping ] &&
           [ -z "\$(systemctl list-units --no-legend --plain --state=running,activating,deactivating "$1@*")" ] && exit 0
        sleep 0.01; i=\$((i + 1))
done
exit 1'
EOS
        chmod +x "$f"; echo "$f"
}
"$CLIENT" cold --samples=${SAMPLES:-20} --warmup=1 --settle-ms=20 --verbose \
        "$ON=$A:${PORTS[0]}=$(reset sdon)" "$OFF=$A:${PORTS[2]}=$(reset sdoff)" \
        2>"$T_TMP/samples" || bail "bench-client failed"
grep "^sample " "$T_TMP/samples" >"${SAMPLES_OUT:-$top_builddir/bench/state-dir-samples.txt}"
pass "measured: $(grep -c "^sample " "$T_TMP/samples") cold starts"
finish
