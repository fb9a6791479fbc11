#!/bin/bash
# bench/bench.sh: `make bench`. Boots a real systemd in a throwaway container exactly as the system tests
# do (tests/system/lib.sh: this machine's /usr, `make install DESTDIR=` staged and bound in), sets up ember and the
# things it is measured against, all on the same backend program (bench/bench-backend), and measures every
# comparison interleaved, sample by sample, in one run (bench/bench-client). Prints one key=value line per figure,
# then a short summary; every raw figure also goes to $top_builddir/bench/results.txt.
#
# Sides, on 127.0.0.1 port PT[N] (picked at set-up, see below; the container shares the host's network namespace):
#   ember        PT[1]   ember app "bench" (emberctl new, --ready=notify, backend on PT[11])
#   ember_rc     PT[2]   ember app "benchrc" (--ready=connect, backend on PT[12]; cold start only)
#   accept_cat   PT[3]   bare Accept=yes unit running /bin/cat: systemd's own per-connection floor
#   cat_ember_unit PT[4]   /bin/cat in a copy of bench@.service (ember's unit settings, not its launcher)
#   launch_bare  PT[5]   ember-launch for app "bench" in a bare Accept=yes unit (the launcher without the settings)
#   proxyd       PT[6]   systemd-socket-proxyd (socket-activated, stays up) in front of ember's own backend
#   ref_probe    PT[7]   the common recipe: socket-proxyd in front of a backend unit whose ExecStartPost is a bash
#                        connect-probe loop sleeping 0.1 s (backend on PT[17])
#   ref_notify   PT[8]   socket-proxyd in front of a Type=notify backend unit (backend on PT[18])
#   launch_lean  PT[9]   ember-launch for app "bench" in a hand-written unit with only NoNewPrivileges=,
#                        CapabilityBoundingSet=, DefaultDependencies=no, CollectMode=: the floor for ember's unit
#   lean_wants   PT[10]  launch_lean plus Wants=bench-backend.service: PID 1 starts a cold backend in the same
#                        transaction as the instance, instead of after the launcher's connect to wake.sock
#   direct       PT[11]  the backend itself, no proxy at all
#   ember_strict_profile PT[13] ember app "benchstrict" made by `emberctl new --hardening=strict` (backend on PT[14])
#   (cold only) PT[15] ember app "benchns": bench with the backend unit's systemd sandbox undone by a drop-in (backend PT[16])
#   ember_kernel PT[19]  ember app "benchk": bench with `emberctl new --relay=kernel` (BPF sockmap; backend on PT[33]);
#                        only where the experimental in-kernel relay is built in (./configure --enable-kernel-relay)
#   (realpg) PT[34]      the realpg app's launcher with --relay=kernel (realclients.sh: real_kernel_side; the same)
# The settings phase adds one socket per unit variant on ports of its own (see phase_settings).
# Exec -> ready of the backend alone is measured on this machine, outside the container, on PT[20].
# The realclients phases (Debian's own servers and clients, see "real clients" below) use PT[21..32]: for each of
# realpg, realredis, realtls, realhttp in turn the ember app's port, its backend's port and a socket-proxyd's port.
set -u

: "${top_builddir:?run through make bench}"
: "${top_srcdir:=$top_builddir}"
# shellcheck source=../tests/system/lib.sh
. "$top_srcdir/tests/system/lib.sh"
# The benchmark is not a TAP test: say why it cannot run and fail, instead of a TAP skip; and at exit only clean up
# (no TAP plan or verdict).
skip_all() { echo "make bench: cannot run: $*" >&2; exit 77; }
trap sys_cleanup EXIT

CONNECT_SAMPLES=${BENCH_CONNECT_SAMPLES:-400}
CONNECT_GAP_MS=${BENCH_CONNECT_GAP_MS:-5}
RR_SAMPLES=${BENCH_RR_SAMPLES:-20000}
BULK_BYTES=${BENCH_BULK_BYTES:-1G}
# 11: one 1 GiB sample swings ±10 % (p10-p90) on this 2-CPU machine, and the median of 5 moved the ratio against
# socket-proxyd by ±5 % between runs of the same code, as much as any change to the relay could win.
BULK_ROUNDS=${BENCH_BULK_ROUNDS:-11}
COLD_SAMPLES=${BENCH_COLD_SAMPLES:-30}
STORM_CONNS=${BENCH_STORM_CONNS:-500}
READY_DELAY_MS=${BENCH_READY_DELAY_MS:-0}
IDLE=${BENCH_IDLE:-3s}
IDLE_FLOOR_SAMPLES=${BENCH_IDLE_FLOOR_SAMPLES:-20}
IDLE_FLOOR_GAP_MS=${BENCH_IDLE_FLOOR_GAP_MS:-300}

# shellcheck source=lib.sh
. "$top_srcdir/bench/lib.sh"

# ---- set up -------------------------------------------------------------------------------------------------

NPORTS=34
bench_ports $NPORTS
: >"$RESULTS"
: >"$SAMPLES"
# The in-kernel relay's side (benchk) is measured only where it is built in (./configure --enable-kernel-relay;
# tests/lib/build.sh). It loads a BPF program and socket maps: nspawn's container has neither CAP_BPF
# nor bpf(2) by default. Never CAP_NET_ADMIN: the container shares this machine's network namespace, and its own
# units (nftables.service) would rewrite the machine's firewall. Socket maps take CAP_NET_ADMIN or CAP_SYS_ADMIN,
# which the container has: benchk's backend unit gets it below.
KSIDE=() # the kernel side's name=address for bench-client, where there is one
if kernel_relay_built; then
        KRELAY=1
        SYS_NSPAWN_ARGS=(--capability=CAP_BPF --system-call-filter=bpf)
else
        KRELAY=0
        say "the in-kernel relay's side (benchk) and its figures are skipped: $KERNEL_RELAY_NOT_BUILT"
fi
sys_boot >&2
BB="$BACKEND --ready-delay=$READY_DELAY_MS"

app_up bench --listen=127.0.0.1:${PT[1]} --backend=127.0.0.1:${PT[11]} --idle="$IDLE" --ready=notify \
        -- $BB --listen=127.0.0.1:${PT[11]} --notify || { diag_file "$T_TMP/new.out"; bail "emberctl new bench failed"; }
app_up benchrc --listen=127.0.0.1:${PT[2]} --backend=127.0.0.1:${PT[12]} --idle="$IDLE" --ready=connect \
        -- $BB --listen=127.0.0.1:${PT[12]} || bail "emberctl new benchrc failed"

app_up benchstrict --listen=127.0.0.1:${PT[13]} --backend=127.0.0.1:${PT[14]} --idle="$IDLE" --ready=notify \
        --hardening=strict -- $BB --listen=127.0.0.1:${PT[14]} --notify || bail "emberctl new benchstrict failed"

# The same app once more with the backend unit's systemd sandbox undone by a drop-in: what that sandbox costs a
# cold start (cold_overhead_ms_backend_sandbox), measured side by side with the real thing. It runs as root
# (--user=root) unless BENCH_NS_USER says otherwise: a root backend's unit has systemd's sandbox, which the
# drop-in undoes. With BENCH_NS_USER=default (the user emberctl new gives it) and BENCH_BACKEND_DROPIN, it is the
# default app plus the drop-in's settings: what those settings would cost a cold start.
NS_USER=(--user="${BENCH_NS_USER:-root}")
[ "${BENCH_NS_USER:-root}" != default ] || NS_USER=()
app_up benchns --listen=127.0.0.1:${PT[15]} --backend=127.0.0.1:${PT[16]} --idle="$IDLE" --ready=notify "${NS_USER[@]}" \
        -- $BB --listen=127.0.0.1:${PT[16]} --notify || bail "emberctl new benchns failed"
c mkdir -p /etc/systemd/system/benchns-backend.service.d
# BENCH_BACKEND_DROPIN (SETTING[;SETTING...]) replaces the drop-in, to measure what part of the sandbox costs what.
BACKEND_DROPIN_DEFAULT="NoNewPrivileges=no;ProtectSystem=no;ReadWritePaths=;ReadOnlyPaths=;ProtectHome=no;PrivateTmp=no;PrivateDevices=no;ProtectKernelTunables=no;ProtectKernelModules=no;ProtectKernelLogs=no;ProtectControlGroups=no;ProtectClock=no;ProtectHostname=no;RestrictSUIDSGID=no;RestrictRealtime=no;RestrictNamespaces=no;LockPersonality=no;SystemCallArchitectures=;RestrictAddressFamilies=;CapabilityBoundingSet=~"
{ echo "[Service]"; tr ';' '\n' <<<"${BENCH_BACKEND_DROPIN:-$BACKEND_DROPIN_DEFAULT}"; } |
        unit_file benchns-backend.service.d/no-sandbox.conf

# The same app relayed in the kernel: the rr and bulk phases measure it beside splice.
if [ "$KRELAY" = 1 ]; then
        app_up benchk --listen=127.0.0.1:${PT[19]} --backend=127.0.0.1:${PT[33]} --idle="$IDLE" --ready=notify --relay=kernel \
                -- $BB --listen=127.0.0.1:${PT[33]} --notify || bail "emberctl new benchk failed"
        c mkdir -p /etc/systemd/system/benchk-backend.service.d
        printf '[Service]\n# in this container, in place of CAP_NET_ADMIN (see SYS_NSPAWN_ARGS)\nCapabilityBoundingSet=CAP_SYS_ADMIN\n' |
                unit_file benchk-backend.service.d/bench-caps.conf
        c systemctl daemon-reload
        KSIDE=("ember_kernel=127.0.0.1:${PT[19]}")
fi

c cat /etc/systemd/system/bench@.service >"$T_TMP/bench@.service"
launch_exec=$(grep '^ExecStart=' "$T_TMP/bench@.service")
# without capabilities the launcher can use the state directory only as the user it belongs to (the launchers')
launch_user=$(grep '^User=' "$T_TMP/bench@.service")

unit_accept_cat bcat "${PT[3]}"
unit_file bcatu.socket <<EOF
[Socket]
ListenStream=127.0.0.1:${PT[4]}
Accept=yes
MaxConnections=1024
TriggerLimitIntervalSec=1s
TriggerLimitBurst=20000
EOF
sed -e 's|^ExecStart=.*|ExecStart=/bin/cat\nStandardInput=socket|' -e 's|^StandardOutput=.*|StandardOutput=socket|' \
        "$T_TMP/bench@.service" | unit_file bcatu@.service
unit_file blaunch.socket <<EOF
[Socket]
ListenStream=127.0.0.1:${PT[5]}
Accept=yes
MaxConnections=1024
TriggerLimitIntervalSec=1s
TriggerLimitBurst=20000
EOF
printf '[Service]\n%s\n' "$launch_exec" | unit_file blaunch@.service
for lean in blean blwants; do
        case $lean in
        blean) lp=${PT[9]} wants= ;;
        blwants) lp=${PT[10]} wants="Wants=bench-backend.service" ;;
        esac
        unit_file $lean.socket <<EOF
[Socket]
ListenStream=127.0.0.1:$lp
Accept=yes
MaxConnections=1024
TriggerLimitIntervalSec=1s
TriggerLimitBurst=20000
EOF
        unit_file $lean@.service <<EOF
[Unit]
DefaultDependencies=no
CollectMode=inactive-or-failed
$wants
[Service]
$launch_exec
$launch_user
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
EOF
done
unit_file bpxy.socket <<EOF
[Socket]
ListenStream=127.0.0.1:${PT[6]}
EOF
unit_file bpxy.service <<EOF
[Service]
ExecStart=$PROXYD 127.0.0.1:${PT[11]}
EOF
unit_ref_proxyd rprobe "${PT[7]}" "${PT[17]}" probe
unit_ref_proxyd rnotify "${PT[8]}" "${PT[18]}" notify
c systemctl daemon-reload
socks="bcat.socket bcatu.socket blaunch.socket blean.socket blwants.socket bpxy.socket rprobe.socket rnotify.socket"
# shellcheck disable=SC2086
c systemctl start $socks >"$T_TMP/start.out" 2>&1 || {
        c systemctl status --no-pager $socks >>"$T_TMP/start.out" 2>&1
        diag_file "$T_TMP/start.out" 80
        bail "cannot start the comparison sockets"
}

R_EMBER=$(reset_script bench bench-backend.service)
R_EMBER_RC=$(reset_script benchrc benchrc-backend.service)
R_EMBER_NS=$(reset_script benchns benchns-backend.service)
R_PROBE=$(reset_script rprobe rprobe.service rprobe-backend.service)
R_NOTIFY=$(reset_script rnotify rnotify.service rnotify-backend.service)

A=127.0.0.1
K[loadavg_start]=$(cut -d' ' -f1 /proc/loadavg)
say "machine: $(nproc) CPUs, $(uname -r), $(c systemctl --version | head -n 1)"

# shellcheck source=realclients.sh
. "$top_srcdir/bench/realclients.sh"

# BENCH_HOLD=1: set up, then keep the container for experiments (profiling, single sides) until the file
# $top_builddir/bench/hold.pid (the container's PID 1 as seen from here; enter with nsenter -t PID -a) is removed.
if [ "${BENCH_HOLD:-0}" = 1 ]; then
        # the realclients servers too, when BENCH_PHASES names them (they are set up by their phases otherwise)
        for phase in ${BENCH_PHASES:-}; do
                case $phase in
                realclients) real_setup_pg; real_setup_redis; real_setup_tls; real_setup_http ;;
                real*) "real_setup_${phase#real}" ;;
                esac
        done
        echo "$C_PID" >"$top_builddir/bench/hold.pid"
        say "holding: container PID 1 is $C_PID; ports PT[1..$NPORTS] = ${PT[*]} (see the head of bench/bench.sh); rm $top_builddir/bench/hold.pid to end"
        while [ -e "$top_builddir/bench/hold.pid" ]; do sleep 0.5; done
        exit 0
fi

phase_cold() { # connect -> first byte on a cold backend, and the backend's own exec -> ready alone
        say "cold start: $COLD_SAMPLES samples per side, interleaved"
        collect "$CLIENT" cold --samples="$COLD_SAMPLES" --warmup=1 --settle-ms=20 \
                --exec-ready="$BACKEND" --exec-listen=$A:${PT[20]} \
                "ember=$A:${PT[1]}=$R_EMBER" "ember_rc=$A:${PT[2]}=$R_EMBER_RC" "ember_lean=$A:${PT[9]}=$R_EMBER" \
                "ember_lean_wants=$A:${PT[10]}=$R_EMBER" \
                "ember_no_backend_sandbox=$A:${PT[15]}=$R_EMBER_NS" \
                "ref_probe=$A:${PT[7]}=$R_PROBE" "ref_notify=$A:${PT[8]}=$R_NOTIFY"
}

phase_idlefloor() { # what any connection costs when PID 1 has been idle for a while, as before a cold start
        say "idle floor: $IDLE_FLOOR_SAMPLES connections per side, ${IDLE_FLOOR_GAP_MS} ms apart"
        collect "$CLIENT" connect --samples="$IDLE_FLOOR_SAMPLES" --warmup=2 --gap-ms="$IDLE_FLOOR_GAP_MS" \
                "idle_accept_cat=$A:${PT[3]}" "idle_launch_lean=$A:${PT[9]}"
}

phase_storm() { # many concurrent connections on a cold backend
        local s0 s1
        say "storm: $STORM_CONNS concurrent connections on a cold backend"
        "$R_EMBER" || bail "cannot make bench cold"
        s0=$(state bench cold-starts)
        collect "$CLIENT" storm $A:${PT[1]} --conns="$STORM_CONNS" --timeout-ms=120000
        s1=$(state bench cold-starts)
        K[storm_cold_starts_counted]=$(( ${s1:-0} - ${s0:-0} ))
        # let the storm's instances finish before anything else is timed
        wait_until 120 test "$(instances bench)" = 0 || say "storm instances still running after 120 s"
}

phase_connect() { # fresh connection + 1-byte echo + close
        say "warm connect: $CONNECT_SAMPLES samples per side, interleaved, ${CONNECT_GAP_MS} ms apart"
        collect "$CLIENT" connect --samples="$CONNECT_SAMPLES" --warmup=20 --gap-ms="$CONNECT_GAP_MS" \
                "ember=$A:${PT[1]}" "accept_cat=$A:${PT[3]}" "cat_ember_unit=$A:${PT[4]}" \
                "launch_bare=$A:${PT[5]}" "launch_lean=$A:${PT[9]}" \
                "lean_wants=$A:${PT[10]}" "direct=$A:${PT[11]}" "ember_strict_profile=$A:${PT[13]}" \
                "${KSIDE[@]}"
}

# The settings phase (BENCH_PHASES=settings): what each systemd setting of the per-connection unit costs
# on the warm path, one setting at a time. Every candidate is a copy of ember's own bench@.service (the unit emberctl
# new writes) with that setting appended, behind a socket of its own, serving app "bench" with the same launcher;
# all are measured interleaved with the unit as it is (ember) and the bare Accept=yes /bin/cat (accept_cat). The
# unit runs the launcher as its own user (User=); "cat_root" measures what that costs, on /bin/cat in ember's unit
# settings (the launcher as root without capabilities could not use the launchers' files). Each side's exposure
# (systemd-analyze security on an instance of the variant) goes into the results too. The candidates are
# BENCH_SETTINGS (default below, or "frontier"): NAME:SETTING[;SETTING...] separated by newlines; "cat_" names run
# /bin/cat.
SCF_LL='SystemCallFilter=landlock_create_ruleset landlock_add_rule landlock_restrict_self'
SETTINGS_CHEAP='LockPersonality=yes;MemoryDenyWriteExecute=yes;RestrictRealtime=yes;RestrictSUIDSGID=yes;SystemCallArchitectures=native;SystemCallFilter=@system-service;SystemCallFilter=~@privileged @resources;'"$SCF_LL"';SystemCallErrorNumber=EPERM;RestrictNamespaces=yes;RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'
BENCH_SETTINGS_DEFAULT="lockpersonality:LockPersonality=yes
mdwe:MemoryDenyWriteExecute=yes
restrictrealtime:RestrictRealtime=yes
restrictsuidsgid:RestrictSUIDSGID=yes
archnative:SystemCallArchitectures=native
syscallfilter:SystemCallFilter=@system-service;SystemCallFilter=~@privileged @resources;$SCF_LL;SystemCallErrorNumber=EPERM
syscallfilter_native:SystemCallArchitectures=native;SystemCallFilter=@system-service;SystemCallFilter=~@privileged @resources;$SCF_LL;SystemCallErrorNumber=EPERM
restrictnamespaces:RestrictNamespaces=yes
restrictaf:RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
protectclock:ProtectClock=yes
protecthostname:ProtectHostname=yes
umask:UMask=0077
ipaddressdeny:IPAddressDeny=any;IPAddressAllow=localhost
devicepolicy:DevicePolicy=closed
privateusers:PrivateUsers=yes
privatedevices:PrivateDevices=yes
kernelmodules:ProtectKernelModules=yes
kernellogs:ProtectKernelLogs=yes
kerneltunables:ProtectKernelTunables=yes
controlgroups:ProtectControlGroups=yes
protectproc:ProtectProc=invisible
procsubset:ProcSubset=pid
protectsystem:ProtectSystem=strict;ReadWritePaths=/run/ember/bench
privatetmp:PrivateTmp=yes
privatemounts:PrivateMounts=yes
cheap_filters:$SETTINGS_CHEAP
cheap_all:$SETTINGS_CHEAP;ProtectClock=yes;ProtectHostname=yes;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed;PrivateUsers=yes
cheap_nousers:$SETTINGS_CHEAP;ProtectClock=yes;ProtectHostname=yes;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed
cheap_all_tunables:$SETTINGS_CHEAP;ProtectClock=yes;ProtectHostname=yes;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed;PrivateUsers=yes;ProtectKernelTunables=yes
cheap_all_devices:$SETTINGS_CHEAP;ProtectClock=yes;ProtectHostname=yes;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed;PrivateUsers=yes;PrivateDevices=yes
cheap_all_mounts:$SETTINGS_CHEAP;ProtectClock=yes;ProtectHostname=yes;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed;PrivateUsers=yes;PrivateDevices=yes;ProtectKernelTunables=yes;ProtectKernelModules=yes;ProtectKernelLogs=yes;ProtectControlGroups=yes;ProtectProc=invisible;ProcSubset=pid;PrivateMounts=yes
cat_root:User=root
removeipc:RemoveIPC=yes"
# The frontier (BENCH_SETTINGS=frontier): cumulative sets on the default unit, best exposure per microsecond first
# (exposures from systemd-analyze security --offline, bench/README.md). "before" approximates the unit before the
# launchers had a user: root (with CAP_DAC_OVERRIDE alone, to use their files) and journal streams.
FRONT1='RestrictNamespaces=yes'
FRONT2="$FRONT1;RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
FRONT3="$FRONT2;RemoveIPC=yes;RestrictSUIDSGID=yes"
FRONT4="$FRONT3;ProtectClock=yes;RestrictRealtime=yes"
FRONT5="$FRONT4;ProtectHostname=yes;LockPersonality=yes;MemoryDenyWriteExecute=yes"
FRONT6="$FRONT5;PrivateUsers=yes"
FRONT7="$FRONT6;SystemCallFilter=@system-service;SystemCallFilter=~@privileged @resources;$SCF_LL;SystemCallErrorNumber=EPERM"
BENCH_SETTINGS_FRONTIER="before:User=root;CapabilityBoundingSet=CAP_DAC_OVERRIDE;StandardOutput=journal;StandardError=journal
cat_root:User=root
streams:StandardOutput=journal;StandardError=journal
removeipc:RemoveIPC=yes
front1:$FRONT1
front2:$FRONT2
front3:$FRONT3
front4:$FRONT4
front5:$FRONT5
front6:$FRONT6
front7:$FRONT7"

phase_settings() {
        local list=${BENCH_SETTINGS:-$BENCH_SETTINGS_DEFAULT} line name settings n=0 base score u p
        [ "$list" != frontier ] || list=$BENCH_SETTINGS_FRONTIER
        local -a names=() sides=() socks=()
        local -a ports=()
        while IFS= read -r line; do [ -n "$line" ] && names+=("${line%%:*}"); done <<<"$list"
        # free ports that are none of PT[] (some of those are not bound during this phase)
        pick_ports $((${#names[@]} + NPORTS))
        for p in "${PORTS[@]}"; do [[ " ${PT[*]} " == *" $p "* ]] || ports+=("$p"); done
        PORTS=("${ports[@]}")
        sed -e 's|^ExecStart=.*|ExecStart=/bin/cat\nStandardInput=socket|' -e 's|^StandardOutput=.*|StandardOutput=socket|' \
                "$T_TMP/bench@.service" >"$T_TMP/bcatu@.service"
        while IFS= read -r line; do
                [ -n "$line" ] || continue
                name=${line%%:*} settings=${line#*:}
                base=$T_TMP/bench@.service
                case $name in cat_*) base=$T_TMP/bcatu@.service ;; esac
                unit_file bs$name.socket <<EOF
[Socket]
ListenStream=127.0.0.1:${PORTS[n]}
Accept=yes
MaxConnections=1024
TriggerLimitIntervalSec=1s
TriggerLimitBurst=20000
EOF
                { cat "$base"; printf '# the setting measured\n'; tr ';' '\n' <<<"$settings"; } | unit_file bs$name@.service
                sides+=("s_$name=$A:${PORTS[n]}")
                socks+=("bs$name.socket")
                n=$((n + 1))
        done <<<"$list"
        c systemctl daemon-reload
        c systemctl start "${socks[@]}" || bail "cannot start the settings sockets"
        for name in ember "${names[@]}"; do
                case $name in ember) u=bench@0.service ;; *) u=bs$name@0.service ;; esac
                score=$(c systemd-analyze security --no-pager "$u" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p')
                K[settings_${name}_exposure]=${score:-nan}
                echo "settings_${name}_exposure=${score:-nan}" >>"$RESULTS"
        done
        say "settings: $CONNECT_SAMPLES samples per side, ${#sides[@]} unit variants, interleaved, ${CONNECT_GAP_MS} ms apart"
        collect "$CLIENT" connect --samples="$CONNECT_SAMPLES" --warmup=20 --gap-ms="$CONNECT_GAP_MS" \
                "ember=$A:${PT[1]}" "accept_cat=$A:${PT[3]}" "cat_ember_unit=$A:${PT[4]}" "${sides[@]}"
        SETTINGS_NAMES=("${names[@]}")
}

# The settings table: p50 and ratio vs accept_cat per variant, its exposure, the difference to ember's unit as is.
settings_table() {
        local name ref p50 d
        [ ${#SETTINGS_NAMES[@]} -gt 0 ] || return 0
        echo "  unit settings, one at a time (warm connect p50; ratio vs accept_cat; vs the unit as is; exposure):"
        printf '    %-22s %9s %7s %9s %8s\n' side p50_us ratio delta_us exposure
        printf '    %-22s %9s %7s %9s %8s\n' ember "$(g connect_ember_p50_us)" "$(calc "$(g connect_ember_p50_us) / $(g connect_accept_cat_p50_us)")" 0 "$(g settings_ember_exposure)"
        for name in "${SETTINGS_NAMES[@]}"; do
                ref=ember
                case $name in cat_*) ref=cat_ember_unit ;; esac
                p50=$(g "connect_s_${name}_p50_us")
                d=$(calc "$p50 - $(g "connect_${ref}_p50_us")")
                printf '    %-22s %9s %7s %9s %8s\n' "$name" "$p50" "$(calc "$p50 / $(g connect_accept_cat_p50_us)")" "$d" "$(g "settings_${name}_exposure")"
                echo "settings_${name}_ratio=$(calc "$p50 / $(g connect_accept_cat_p50_us)")" >>"$RESULTS"
        done
}
SETTINGS_NAMES=()

keeper_open() { # a live ember connection keeps the backend warm while the other sides are measured
        exec 5<>/dev/tcp/$A/${PT[1]} && printf k >&5 && read -r -n 1 -t 30 -u 5 _ || bail "keeper connection failed"
        [ "$KRELAY" = 1 ] || { K[kernel_relay_offered]="not built"; return 0; }
        exec 7<>/dev/tcp/$A/${PT[19]} && printf k >&7 && read -r -n 1 -t 30 -u 7 _ || bail "keeper connection (kernel relay) failed"
        K[kernel_relay_offered]=$(c test -S /run/ember/benchk/relay.sock && echo yes || echo no)
}

phase_rr() { # request/response on one open connection
        keeper_open
        say "rr: $RR_SAMPLES round trips per side, interleaved"
        collect "$CLIENT" rr --samples="$RR_SAMPLES" --warmup=1000 \
                "ember=$A:${PT[1]}" "${KSIDE[@]}" "proxyd=$A:${PT[6]}" "direct=$A:${PT[11]}"
        exec 5>&- 7>&-
}

phase_bulk() { # 1 GiB through one connection
        keeper_open
        say "bulk: $BULK_BYTES per connection, $BULK_ROUNDS rounds per side, interleaved (download, then upload)"
        collect "$CLIENT" bulk --bytes="$BULK_BYTES" --rounds="$BULK_ROUNDS" \
                "ember=$A:${PT[1]}" "${KSIDE[@]}" "proxyd=$A:${PT[6]}" "direct=$A:${PT[11]}"
        collect "$CLIENT" bulk --dir=up --bytes="$BULK_BYTES" --rounds="$BULK_ROUNDS" \
                "ember=$A:${PT[1]}" "${KSIDE[@]}" "proxyd=$A:${PT[6]}" "direct=$A:${PT[11]}"
        exec 5>&- 7>&-
}

private_kib() { # PID (in the container): Private_Clean + Private_Dirty of smaps_rollup
        c cat "/proc/$1/smaps_rollup" | awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }'
}
main_pid_of() { # UNIT-GLOB: MainPID of the first running instance
        local u
        u=$(c systemctl list-units --no-legend --plain --state=running "$1" | awk 'NR == 1 { print $1 }')
        [ -n "$u" ] && c systemctl show -P MainPID "$u"
}

phase_memory() { # one launcher holding a live connection; a cat instance and socket-proxyd for comparison
        local lpid
        say "memory: one launcher holding a live connection"
        keeper_open
        lpid=$(main_pid_of 'bench@*')
        K[launcher_private_kib]=$(private_kib "$lpid")
        K[launcher_rss_kib]=$(c cat "/proc/$lpid/smaps_rollup" | awk '/^Rss:/ { print $2 }')
        c cat "/proc/$lpid/smaps_rollup" | sed 's/^/launcher_smaps: /' >>"$RESULTS"
        exec 6<>/dev/tcp/$A/${PT[3]} && printf k >&6 && read -r -n 1 -t 10 -u 6 _
        K[cat_private_kib]=$(private_kib "$(main_pid_of 'bcat@*')")
        exec 6>&- 5>&-
        c systemctl start bpxy.service
        K[proxyd_private_kib]=$(private_kib "$(c systemctl show -P MainPID bpxy.service)")
}

# The ember apps of the benchmark, and what of them may run: their launchers and supervisors, and their backends
# (as ps -o pid,unit,args prints them: a launcher or supervisor, or a backend on one of the apps' backend ports).
BENCH_APPS="bench benchrc benchstrict benchns"
[ "$KRELAY" = 1 ] && BENCH_APPS+=" benchk"
LEFT_RE="[ /]ember-(launch|sandbox)( |\$)|bench-backend .*--listen=127\.0\.0\.1:(${PT[11]}|${PT[12]}|${PT[14]}|${PT[16]}|${PT[33]})( |\$)"

# (an app no connection ever woke has no state file yet: that is cold too)
idle_done() {
        local app s
        for app in $BENCH_APPS; do
                s=$(state "$app" state)
                [ "${s:-cold}" = cold ] && [ "$(instances "$app")" = 0 ] &&
                        ! c systemctl is-active --quiet "$app-backend.service" || return 1
        done
}
# idle_left: what is left where nothing should be, one line each, named: each app not cold with its state files
# (state, refcount, pids, idle-since, serving), each unit of an app still running with its main pid, and each ember
# or backend process with its pid, unit and command line.
idle_left() {
        local app f v line u
        for app in $BENCH_APPS; do
                line=
                for f in state refcount backend.pid supervisor.pid idle-since generation serving; do
                        v=$(state "$app" "$f")
                        [ -n "$v" ] && line+=" $f=$v"
                done
                [ "$(state "$app" state)" != cold ] && [ -n "$line" ] && echo "app $app:$line"
                for u in $(c systemctl list-units --no-legend --plain --state=running,activating,deactivating \
                                "$app@*" "$app-backend.service" 2>/dev/null | awk '{ print $1 }'); do
                        echo "unit $u of app $app: $(c systemctl show -P ActiveState "$u")/$(c systemctl show -P SubState "$u"), main pid $(c systemctl show -P MainPID "$u")"
                done
        done
        c ps -eo pid=,unit=,args= | grep -E "$LEFT_RE" |
                awk '{ pid = $1; unit = $2; $1 = $2 = ""; sub(/^ +/, ""); printf "process %s in %s: %s\n", pid, unit, $0 }'
}
phase_idle() { # once the idle period is over nothing of ember or its backend may be left, and what is, is named
        local left line
        say "idle: waiting for the idle stop ($IDLE)"
        c systemctl stop bpxy.service rprobe.service rnotify.service >/dev/null 2>&1
        wait_until 60 idle_done || say "ember did not go idle within 60 s"
        left=$(idle_left)
        K[idle_processes]=$(grep -c '^process ' <<<"$left")
        [ -n "$left" ] || return 0
        say "idle: left after the idle period:"
        while IFS= read -r line; do
                say "  $line"
                echo "idle_left: $line" >>"$RESULTS"
        done <<<"$left"
}

for phase in ${BENCH_PHASES:-cold idlefloor storm connect rr bulk memory idle}; do
        t_phase=$(date +%s)
        "phase_$phase"
        K[phase_${phase}_sec]=$(($(date +%s) - t_phase))
        say "phase $phase: ${K[phase_${phase}_sec]} s"
        echo "phase_${phase}_sec=${K[phase_${phase}_sec]}" >>"$RESULTS"
done

# ---- the figures ------------------------------------------------------------------------------------------------
K[loadavg_end]=$(cut -d' ' -f1 /proc/loadavg)
g() { echo "${K[$1]:-nan}"; }
K[warm_connect_p50_ratio_vs_accept_cat]=$(calc "$(g connect_ember_p50_us) / $(g connect_accept_cat_p50_us)")
# what the in-kernel relay's hand-over (one more round trip, to the supervisor) costs a connection
K[warm_connect_p50_ratio_vs_accept_cat_kernel]=$(calc "$(g connect_ember_kernel_p50_us) / $(g connect_accept_cat_p50_us)")
K[warm_connect_p50_ratio_vs_accept_cat_strict]=$(calc "$(g connect_ember_strict_profile_p50_us) / $(g connect_accept_cat_p50_us)")
exec_ready=$(g cold_exec_ready_notify_p50_ms)
K[cold_overhead_ms]=$(calc "$(g cold_ember_p50_ms) - $exec_ready")
K[cold_overhead_ms_ready_connect]=$(calc "$(g cold_ember_rc_p50_ms) - $exec_ready")
K[cold_overhead_ms_lean_unit]=$(calc "$(g cold_ember_lean_p50_ms) - $exec_ready")
K[cold_overhead_ms_lean_wants]=$(calc "$(g cold_ember_lean_wants_p50_ms) - $exec_ready")
K[cold_overhead_ms_no_backend_sandbox]=$(calc "$(g cold_ember_no_backend_sandbox_p50_ms) - $exec_ready")
K[cold_overhead_ms_backend_sandbox]=$(calc "$(g cold_ember_p50_ms) - $(g cold_ember_no_backend_sandbox_p50_ms)")
K[idle_floor_ms]=$(calc "$(g connect_idle_accept_cat_p50_us) / 1000")
# what ember adds to a cold start beyond the one spawn PID 1 needs after a quiet period anyway
K[cold_overhead_ms_beyond_idle_floor]=$(calc "$(g cold_overhead_ms) - $(g idle_floor_ms)")
K[cold_overhead_ms_socket_proxyd_notify_beyond_idle_floor]=$(calc "$(g cold_ref_notify_p50_ms) - $exec_ready - $(g idle_floor_ms)")
K[cold_overhead_ms_socket_proxyd_probe]=$(calc "$(g cold_ref_probe_p50_ms) - $exec_ready")
K[cold_overhead_ms_socket_proxyd_notify]=$(calc "$(g cold_ref_notify_p50_ms) - $exec_ready")
K[bulk_ratio_vs_direct]=$(calc "$(g bulk_ember_p50_mibps) / $(g bulk_direct_p50_mibps)")
K[bulk_ratio_vs_socket_proxyd]=$(calc "$(g bulk_ember_p50_mibps) / $(g bulk_proxyd_p50_mibps)")
K[bulk_up_ratio_vs_direct]=$(calc "$(g bulk_up_ember_p50_mibps) / $(g bulk_up_direct_p50_mibps)")
K[bulk_up_ratio_vs_socket_proxyd]=$(calc "$(g bulk_up_ember_p50_mibps) / $(g bulk_up_proxyd_p50_mibps)")
K[rr_p50_ratio_vs_socket_proxyd]=$(calc "$(g rr_ember_p50_us) / $(g rr_proxyd_p50_us)")
# splice beside the in-kernel relay, each against the direct path
K[rr_p50_ratio_vs_direct]=$(calc "$(g rr_ember_p50_us) / $(g rr_direct_p50_us)")
K[rr_p50_ratio_vs_direct_kernel]=$(calc "$(g rr_ember_kernel_p50_us) / $(g rr_direct_p50_us)")
K[bulk_ratio_vs_direct_kernel]=$(calc "$(g bulk_ember_kernel_p50_mibps) / $(g bulk_direct_p50_mibps)")
K[bulk_up_ratio_vs_direct_kernel]=$(calc "$(g bulk_up_ember_kernel_p50_mibps) / $(g bulk_up_direct_p50_mibps)")
real_derive
pids=$(g storm_backend_pids)
counted=${K[storm_cold_starts_counted]:-nan}
[ "$pids" = nan ] || [ "$counted" = nan ] || K[storm_backend_starts]=$(( pids > counted ? pids : counted ))

keys=(warm_connect_p50_ratio_vs_accept_cat warm_connect_p50_ratio_vs_accept_cat_strict cold_overhead_ms bulk_ratio_vs_direct bulk_ratio_vs_socket_proxyd
        rr_p50_ratio_vs_socket_proxyd storm_backend_starts storm_failed launcher_private_kib idle_processes
        cold_overhead_ms_ready_connect cold_overhead_ms_socket_proxyd_probe cold_overhead_ms_socket_proxyd_notify
        cold_overhead_ms_beyond_idle_floor cold_overhead_ms_socket_proxyd_notify_beyond_idle_floor
        cold_overhead_ms_no_backend_sandbox cold_overhead_ms_backend_sandbox
        rr_p50_ratio_vs_direct bulk_up_ratio_vs_direct)
# the in-kernel relay's figures only where it is built in
[ "$KRELAY" = 1 ] && keys+=(warm_connect_p50_ratio_vs_accept_cat_kernel rr_p50_ratio_vs_direct_kernel bulk_ratio_vs_direct_kernel
        bulk_up_ratio_vs_direct_kernel kernel_relay_offered)
keys+=("${REAL_KEYS[@]}")
for k in "${keys[@]}"; do
        echo "$k=$(g "$k")"
done
{
        echo "# derived"
        for k in "${keys[@]}" loadavg_start loadavg_end cold_overhead_ms_lean_unit cold_overhead_ms_lean_wants idle_floor_ms bulk_up_ratio_vs_direct bulk_up_ratio_vs_socket_proxyd storm_cold_starts_counted \
                launcher_rss_kib cat_private_kib proxyd_private_kib; do
                echo "$k=$(g "$k")"
        done
} >>"$RESULTS"

# verdict KEY OP GOAL
verdict() { awk -v v="$(g "$1")" -v g="$3" -v op="$2" 'BEGIN {
        if (v == "" || v ~ /nan/) { print "not measured"; exit }
        ok = (op == "<=") ? (v + 0 <= g + 0) : (op == ">=") ? (v + 0 >= g + 0) : (v + 0 == g + 0)
        print ok ? "met" : "MISSED" }'; }
row() { printf '  %-40s %10s   goal %s %-6s %s\n' "$1" "$(g "$1")" "$2" "$3" "$(verdict "$1" "$2" "$3")"; }
cat <<EOF

ember bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), $(c systemctl --version | head -n 1 | cut -d' ' -f1-2)
EOF
row warm_connect_p50_ratio_vs_accept_cat "<=" 1.10
row cold_overhead_ms "<=" 5
row bulk_ratio_vs_direct ">=" 0.90
row bulk_ratio_vs_socket_proxyd ">=" 1.0
row rr_p50_ratio_vs_socket_proxyd "<=" 1.0
if [ "$KRELAY" = 1 ]; then
        echo "  relay, splice beside in the kernel (--relay=kernel; offered by the supervisor: $(g kernel_relay_offered)):"
        row warm_connect_p50_ratio_vs_accept_cat_kernel "<=" 1.10
        row rr_p50_ratio_vs_direct "<=" 1.5
        row rr_p50_ratio_vs_direct_kernel "<=" 1.5
        row bulk_ratio_vs_direct ">=" 0.90
        row bulk_ratio_vs_direct_kernel ">=" 0.90
        row bulk_up_ratio_vs_direct ">=" 0.90
        row bulk_up_ratio_vs_direct_kernel ">=" 0.90
else
        echo "  relay, splice only (no in-kernel relay in this build: ./configure --enable-kernel-relay):"
        row rr_p50_ratio_vs_direct "<=" 1.5
        row bulk_up_ratio_vs_direct ">=" 0.90
fi
row storm_backend_starts "==" 1
row storm_failed "==" 0
row launcher_private_kib "<=" 256
row idle_processes "==" 0
if [ ${#REAL_KEYS[@]} -gt 0 ]; then
        echo "  real clients and servers (BENCH_PHASES=realclients), ember / the same server:"
        for k in "${REAL_KEYS[@]}"; do
                case $k in
                pgbench_connect_ratio_vs_direct* | pgbench_persistent_ratio_vs_direct*) row "$k" ">=" 0.80 ;;
                *_vs_socket_proxyd) row "$k" ">=" 1.0 ;;
                *) printf '  %-40s %10s   (no goal)\n' "$k" "$(g "$k")" ;;
                esac
        done
else
        echo "  real clients and servers: not measured (BENCH_PHASES=realclients make bench)"
fi
cat <<EOF
  warm connect p50: ember $(g connect_ember_p50_us) us, bare Accept=yes cat $(g connect_accept_cat_p50_us) us,
    ember with --hardening=strict $(g connect_ember_strict_profile_p50_us) us,
    cat in ember's unit settings $(g connect_cat_ember_unit_p50_us) us, ember-launch in a bare unit $(g connect_launch_bare_p50_us) us,
    ember-launch in a lean unit $(g connect_launch_lean_p50_us) us (ratio $(calc "$(g connect_launch_lean_p50_us) / $(g connect_accept_cat_p50_us)")),
    lean + Wants= $(g connect_lean_wants_p50_us) us, backend direct $(g connect_direct_p50_us) us
  cold start p50 (connect -> first byte): ember $(g cold_ember_p50_ms) ms (--ready=connect $(g cold_ember_rc_p50_ms) ms),
    socket-proxyd + probe loop $(g cold_ref_probe_p50_ms) ms, socket-proxyd + Type=notify $(g cold_ref_notify_p50_ms) ms;
    backend exec -> ready alone $(g cold_exec_ready_notify_p50_ms) ms (READY=1), $(g cold_exec_ready_connect_p50_ms) ms (accepts)
  idle floor: a connection ${IDLE_FLOOR_GAP_MS} ms after the previous one, bare Accept=yes cat $(g idle_floor_ms) ms,
    ember-launch in a lean unit $(calc "$(g connect_idle_launch_lean_p50_us) / 1000") ms (every cold start pays this first)
  cold overhead: ember $(g cold_overhead_ms) ms, --ready=connect $(g cold_overhead_ms_ready_connect) ms, lean unit $(g cold_overhead_ms_lean_unit) ms, lean + Wants= $(g cold_overhead_ms_lean_wants) ms, socket-proxyd + probe $(g cold_overhead_ms_socket_proxyd_probe) ms, socket-proxyd + notify $(g cold_overhead_ms_socket_proxyd_notify) ms;
    beyond the idle floor: ember $(g cold_overhead_ms_beyond_idle_floor) ms, socket-proxyd + notify $(g cold_overhead_ms_socket_proxyd_notify_beyond_idle_floor) ms
  bulk $BULK_BYTES down MiB/s: ember $(g bulk_ember_p50_mibps),${KSIDE:+ in the kernel $(g bulk_ember_kernel_p50_mibps),} socket-proxyd $(g bulk_proxyd_p50_mibps), direct $(g bulk_direct_p50_mibps); up: ember $(g bulk_up_ember_p50_mibps),${KSIDE:+ in the kernel $(g bulk_up_ember_kernel_p50_mibps),} socket-proxyd $(g bulk_up_proxyd_p50_mibps), direct $(g bulk_up_direct_p50_mibps)
  rr p50: ember $(g rr_ember_p50_us) us,${KSIDE:+ in the kernel $(g rr_ember_kernel_p50_us) us,} socket-proxyd $(g rr_proxyd_p50_us) us, direct $(g rr_direct_p50_us) us
  storm: $(g storm_ok)/$(g storm_conns) answered, backend pids seen $(g storm_backend_pids), cold starts counted $(g storm_cold_starts_counted), all done in $(g storm_total_ms) ms
  private memory: launcher $(g launcher_private_kib) KiB (RSS $(g launcher_rss_kib) KiB), cat $(g cat_private_kib) KiB, socket-proxyd $(g proxyd_private_kib) KiB
EOF
for f in $REAL_FIGURES; do
        fig=${f%:*} unit=${f#*:}
        [ -n "${K[${fig}_ember_p50_$unit]:-}" ] &&
                echo "  $fig $unit (median): ember $(g "${fig}_ember_p50_$unit")${K[${fig}_ember_kernel_p50_$unit]:+, in the kernel (offered: $(g realpg_kernel_relay_offered)) ${K[${fig}_ember_kernel_p50_$unit]}}, direct $(g "${fig}_direct_p50_$unit"), socket-proxyd $(g "${fig}_socket_proxyd_p50_$unit")"
done
cat <<EOF
  all figures: $RESULTS
EOF
settings_table
awk -v a="$(g loadavg_start)" -v b="$(g loadavg_end)" -v n="$(nproc)" 'BEGIN { if (a > n || b > n)
        printf "  note: load average %s at the start, %s at the end, on %d CPUs: something else ran too; the\n" \
               "  sides are interleaved, so ratios stay fair, but absolute times are inflated\n", a, b, n }'
