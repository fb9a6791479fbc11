#!/bin/bash
# emberctl new --idle-action=checkpoint on this machine, no systemd needed (criu need not work here, tests/vm/checkpoint.sh
# runs it; new only looks for its binary): the backend unit gets what criu needs, and only with the option: the
# capabilities of criu's dump and restore, none of systemd's system call filters or address family and namespace
# restrictions (criu may not suspend the backend's own seccomp filter under one, and probes the kernel), no device
# policy and devices opened (criu probes /dev/net/tun), the checkpoint's root-only state directory, systemd's file
# sandbox instead of Landlock (criu restores no Landlock domain) and a user of its own (never DynamicUser=). The
# default idle action (stop), and freeze, write none of it; the per-connection unit is the same for all three.
# Where criu is missing new refuses (64) naming the package. Where the checkpoint is not built (the default build,
# without ./configure --enable-checkpoint) --idle-action=checkpoint is a usage error (64) of emberctl new and of
# ember-sandbox that names the switch, and nothing is written.
# What a checkpoint costs is shown from a stand-in state directory and checkpoint (EMBER_RUNTIME_DIR,
# EMBER_CHECKPOINT_ROOT; tests/vm/checkpoint.sh shows them from real ones): emberctl status says checkpointed with
# its size, emberctl metrics has the restores, their histogram and the checkpoint's disk, emberctl report the
# largest checkpoint of the runs in the journal. The default build shows none of it.
. "$(dirname "$0")/lib.sh"

EMBERCTL_BIN=$top_builddir/ctl/emberctl
SANDBOX_BIN=$top_builddir/sandbox/ember-sandbox
[ -x "$EMBERCTL_BIN" ] && [ -x "$SANDBOX_BIN" ] || bail "emberctl or ember-sandbox is not built"
export EMBER_TEMPLATE_DIR=$top_srcdir/templates
UNITS=$T_TMP/units
mkdir -p "$UNITS"
ectl() { "$EMBERCTL_BIN" "$@"; }

# the places emberctl new looks for criu (ctl/new.c, validate_checkpoint)
criu_installed() {
        local p
        for p in /usr/sbin/criu /sbin/criu /usr/local/sbin/criu /usr/bin/criu; do
                [ -x "$p" ] && return 0
        done
        return 1
}
if [ "${EMBER_CHECKPOINT:-no}" != yes ]; then
        case_=not-built
        plan 13
elif criu_installed && [ -e /proc/self/map_files ]; then
        case_=built
        plan 31
else
        case_=no-criu
        plan 13
fi

# last KEY UNIT: the last KEY= line of UNIT, the one systemd keeps
last() { grep "^$1=" "$UNITS/$2" | tail -n 1; }
new_app() { # NAME PORT ARGS...: emberctl new NAME, backend on PORT+1
        local name=$1 port=$2
        shift 2
        ectl new "$name" --listen=127.0.0.1:$port --backend=127.0.0.1:$((port + 1)) --unit-dir="$UNITS" "$@" -- /bin/cat
}

# ---- the default idle action (stop), and freeze: nothing of criu's ----------------------------------------------
CRIU_CAPS='CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_NET_ADMIN CAP_SETPCAP CAP_SYS_CHROOT CAP_SYS_TIME'
new_app st 18401 >/dev/null 2>&1
new_app fr 18403 --idle-action=freeze >/dev/null 2>&1
for app in st fr; do
        action=stop && [ $app = fr ] && action=freeze
        is "$app (--idle-action=$action): no criu capabilities, checkpoint directory or lifted restriction" \
                "$(grep -cxE "$CRIU_CAPS|StateDirectoryMode=0700|RestrictNamespaces=no|SystemCallArchitectures=|RestrictAddressFamilies=|.*--idle-action=checkpoint.*" "$UNITS/$app-backend.service")" 0
        is "$app: PID 1's device policy closed" "$(last DevicePolicy $app-backend.service)" DevicePolicy=closed
done
like "stop: the backend's files confined by Landlock" "$(last ExecStart st-backend.service)" ' --landlock '

# ---- --idle-action=checkpoint --------------------------------------------------------------------------------------
case $case_ in
not-built)
        expect_exit "emberctl new --idle-action=checkpoint where it is not built: a usage error (64)" 64 \
                new_app ck 18405 --idle-action=checkpoint
        like "which says so and names the switch" "$(cat "$T_TMP/err")" \
                "this build cannot checkpoint \(it is experimental: \./configure --enable-checkpoint\)"
        is "and writes no unit" "$(ls "$UNITS" | grep -c '^ck')" 0
        expect_exit "ember-sandbox --idle-action=checkpoint where it is not built: a usage error (64)" 64 \
                "$SANDBOX_BIN" --app=ck --backend=127.0.0.1:18406 --idle-action=checkpoint -- /bin/cat
        like "which says so and names the switch" "$(cat "$T_TMP/err")" \
                "this build cannot checkpoint \(it is experimental: \./configure --enable-checkpoint\)"
        is "--idle-action=freeze is built all the same" "$(ls "$UNITS" | grep -c '^fr')" 4
        ;;
no-criu)
        expect_exit "--idle-action=checkpoint without criu installed: a usage error (64)" 64 \
                new_app ck 18405 --idle-action=checkpoint
        like "which names the package" "$(cat "$T_TMP/err")" "needs criu, which is not installed \(apt install criu"
        is "and writes no unit" "$(ls "$UNITS" | grep -c '^ck')" 0
        diag "criu is not installed here: what new writes with it is not checked (apt install criu)"
        ;;
built)
        expect_exit "--idle-action=checkpoint writes the units" 0 new_app ck 18405 --idle-action=checkpoint
        unit=ck-backend.service
        like "the supervisor checkpoints at the idle deadline" "$(last ExecStart $unit)" ' --idle-action=checkpoint '
        like "and restores on a reload's generation too (the same arguments)" "$(last ExecReload $unit)" ' --idle-action=checkpoint '
        is "no Landlock (criu restores no Landlock domain): systemd's file sandbox instead" \
                "$(last ExecStart $unit | grep -c -- ' --landlock ')/$(last ProtectSystem $unit)" "0/ProtectSystem=strict"
        like "a user of its own, not one allocated per run" "$(last ExecStart $unit)" ' --user=ck-backend '
        is "no DynamicUser=" "$(grep -c '^DynamicUser=' "$UNITS/$unit")" 0
        is "criu's capabilities in the bounding set" "$(last CapabilityBoundingSet $unit)" "$CRIU_CAPS"
        for kv in RestrictNamespaces=no PrivateDevices=no SystemCallArchitectures= RestrictAddressFamilies= \
                LockPersonality=no ProtectClock=no; do
                is "what criu needs lifted: ${kv%%=*}" "$(last "${kv%%=*}" $unit)" "$kv"
        done
        is "no system call filter from systemd (criu may not suspend the backend's own under one)" \
                "$(grep -c '^SystemCallFilter=' "$UNITS/$unit")" 0
        is "no device policy from PID 1" "$(grep -c '^DevicePolicy=' "$UNITS/$unit")" 0
        is "the checkpoint's directory: /var/lib/ember/ck, root's alone" \
                "$(last StateDirectory $unit) $(last StateDirectoryMode $unit)" "StateDirectory=ember/ck StateDirectoryMode=0700"
        is "the backend's /sys stays read-only" "$(last ReadOnlyPaths $unit)" "ReadOnlyPaths=/sys -/proc/sysrq-trigger -/proc/irq"
        is "the connection's unit is the default one's (criu costs no connection anything)" \
                "$(sed -e 's/\bck\b/APP/g; s/18405/PORT/g; s/18406/BPORT/g' "$UNITS/ck@.service")" \
                "$(sed -e 's/\bst\b/APP/g; s/18401/PORT/g; s/18402/BPORT/g' "$UNITS/st@.service")"
        rm -f "$UNITS"/ck*
        expect_exit "--idle-action=checkpoint with --dynamic-user: a usage error (64)" 64 \
                new_app ck 18405 --idle-action=checkpoint --dynamic-user
        like "which says why" "$(cat "$T_TMP/err")" "exclude each other: a restored backend keeps its uid"
        is "and writes no unit" "$(ls "$UNITS" | grep -c '^ck')" 0
        ;;
esac

# ---- status and metrics of a checkpointed app, from a stand-in state directory and checkpoint ---------------------
export EMBER_RUNTIME_DIR=$T_TMP/run EMBER_CHECKPOINT_ROOT=$T_TMP/lib
mkdir -p "$EMBER_RUNTIME_DIR/ck" && mkdir -p -m 0700 "$EMBER_CHECKPOINT_ROOT/ck/checkpoint"
for kv in state=cold refcount=0 cold-starts=3 restores=2 'cold-start-ms=5000=1 sum=4100' 'restore-ms=1000=1 2500=1 sum=2900'; do
        echo "${kv#*=}" >"$EMBER_RUNTIME_DIR/ck/${kv%%=*}"
done
head -c 10000 /dev/zero >"$EMBER_CHECKPOINT_ROOT/ck/checkpoint/pages-1.img"
head -c 240 /dev/zero >"$EMBER_CHECKPOINT_ROOT/ck/checkpoint/ember-checkpoint"
metrics=$(ectl metrics ck 2>&1)
# sample NAME: its value for app ck
sample() { awk -v n="$1" '$1 == n {print $2}' <<<"$metrics"; }
if [ "$case_" = not-built ]; then
        is "status: cold, and no checkpoint is looked for" "$(ectl status --json ck | grep -o '"state":"[a-z]*","checkpoint_bytes":[a-z0-9]*')" \
                '"state":"cold","checkpoint_bytes":null'
        is "metrics: nothing of the checkpoint" "$(grep -c -i -e restore -e checkpoint <<<"$metrics")" 0
else
        like "status: cold, checkpointed, with the checkpoint's size (10240 bytes: 10 KiB)" "$(ectl status ck)" \
                '^ck +cold \(checkpointed, 10 KiB\) '
        is "status --json: its bytes" "$(ectl status --json ck | grep -o '"checkpoint_bytes":[0-9]*')" '"checkpoint_bytes":10240'
        is "metrics: the restores, counted apart, and the checkpoint's disk" \
                "$(sample 'ember_restores_total{app="ck"}') $(sample 'ember_cold_starts_total{app="ck"}') $(sample 'ember_checkpoint_bytes{app="ck"}')" \
                "2 3 10240"
        is "metrics: the restores' histogram, its buckets cumulative, its sum in seconds" \
                "$(sample 'ember_restore_seconds_bucket{app="ck",le="0.5"}') $(sample 'ember_restore_seconds_bucket{app="ck",le="1"}') $(sample 'ember_restore_seconds_bucket{app="ck",le="2.5"}') $(sample 'ember_restore_seconds_bucket{app="ck",le="+Inf"}') $(sample 'ember_restore_seconds_sum{app="ck"}') $(sample 'ember_restore_seconds_count{app="ck"}')" \
                "0 1 2 2 2.900 2"
        is "and the cold starts' histogram is the cold starts' alone" \
                "$(sample 'ember_cold_start_seconds_count{app="ck"}') $(sample 'ember_cold_start_seconds_sum{app="ck"}')" "1 4.100"
fi
finish
