#!/bin/bash
# emberctl on this machine, no systemd needed: `new` validates everything and writes exactly the units it should
# (quoting included), refuses to overwrite; `status` and `stop` against a fake runtime dir (EMBER_RUNTIME_DIR).
. "$(dirname "$0")/lib.sh"
plan 218

EMBERCTL_BIN=$top_builddir/ctl/emberctl
[ -x "$EMBERCTL_BIN" ] || bail "$EMBERCTL_BIN is not built"
export EMBER_TEMPLATE_DIR=$top_srcdir/templates
UNITS=$T_TMP/units
mkdir -p "$UNITS"
ectl() { "$EMBERCTL_BIN" "$@"; }

no_units_written() { [ -z "$(ls -A "$UNITS")" ]; }

new_ok=(--listen=127.0.0.1:18001 --backend=127.0.0.1:18002 --unit-dir="$UNITS")

# ---- usage ------------------------------------------------------------------------------------------------------
expect_exit "no command is a usage error (64)" 64 ectl
expect_exit "unknown command is a usage error (64)" 64 ectl frobnicate
expect_exit "--help exits 0" 0 ectl --help
expect_exit "new --help exits 0" 0 ectl new --help
expect_exit "unknown option of new is a usage error" 64 ectl new app --bogus "${new_ok[@]}" -- /bin/cat

# ---- NAME -------------------------------------------------------------------------------------------------------
expect_exit "new without NAME: 64" 64 ectl new "${new_ok[@]}" -- /bin/cat
expect_exit "new with two NAMEs: 64" 64 ectl new a b "${new_ok[@]}" -- /bin/cat
long=$(printf 'a%.0s' $(seq 65))
for bad in . .. -x a/b "a b" 'foo@bar' 'a%b' "$long" x-backend ''; do
        expect_exit "NAME '$bad' is refused (64)" 64 ectl new "$bad" "${new_ok[@]}" -- /bin/cat
done
ok "nothing written by refused NAMEs" no_units_written

# ---- ADDR -------------------------------------------------------------------------------------------------------
expect_exit "missing --listen: 64" 64 ectl new app --backend=127.0.0.1:18002 --unit-dir="$UNITS" -- /bin/cat
expect_exit "missing --backend: 64" 64 ectl new app --listen=127.0.0.1:18001 --unit-dir="$UNITS" -- /bin/cat
for bad in '' example.com:80 1.2.3.4 1.2.3.4:0 1.2.3.4:65536 ::1:80 '[::1]' '[::1]80' relative/path 127.0.0.1:80x; do
        expect_exit "--listen='$bad' is refused (64)" 64 ectl new app --listen="$bad" --backend=127.0.0.1:18002 --unit-dir="$UNITS" -- /bin/cat
        expect_exit "--backend='$bad' is refused (64)" 64 ectl new app --listen=127.0.0.1:18001 --backend="$bad" --unit-dir="$UNITS" -- /bin/cat
done
expect_exit "a unix --listen path with a space is refused (systemd would mangle it)" 64 \
        ectl new app --listen='/run/a b.sock' --backend=127.0.0.1:18002 --unit-dir="$UNITS" -- /bin/cat
expect_exit "--listen equal to --backend is refused" 64 \
        ectl new app --listen=127.0.0.1:18002 --backend=127.0.0.1:18002 --unit-dir="$UNITS" -- /bin/cat
expect_exit "a bare --listen PORT equal to the backend's port is refused" 64 \
        ectl new app --listen=18002 --backend=127.0.0.1:18002 --unit-dir="$UNITS" -- /bin/cat

# ---- DUR, enums, user, policy, COMMAND ------------------------------------------------------------------------
for bad in '' 5x -1 1.5s 's' '10 parsecs'; do
        expect_exit "--idle='$bad' is refused (64)" 64 ectl new app "${new_ok[@]}" --idle="$bad" -- /bin/cat
done
expect_exit "--start-timeout=0 is refused" 64 ectl new app "${new_ok[@]}" --start-timeout=0 -- /bin/cat
expect_exit "--stop-timeout=junk is refused" 64 ectl new app "${new_ok[@]}" --stop-timeout=junk -- /bin/cat
expect_exit "--start-on=later is refused" 64 ectl new app "${new_ok[@]}" --start-on=later -- /bin/cat
expect_exit "--ready=maybe is refused" 64 ectl new app "${new_ok[@]}" --ready=maybe -- /bin/cat
expect_exit "--client-idle-timeout=0 is refused" 64 ectl new app "${new_ok[@]}" --client-idle-timeout=0 -- /bin/cat
expect_exit "--max-connections=0 is refused" 64 ectl new app "${new_ok[@]}" --max-connections=0 -- /bin/cat
expect_exit "--unit-dir must be absolute" 64 ectl new app --listen=18001 --backend=18002 --unit-dir=units -- /bin/cat
expect_exit "--user of an unknown user is refused" 64 ectl new app "${new_ok[@]}" --user=no-such-user-ember -- /bin/cat
expect_exit "an unknown named --policy is a policy error (78)" 78 ectl new app "${new_ok[@]}" --policy=bogus -- /bin/cat
expect_exit "a missing --policy file is a policy error (78)" 78 ectl new app "${new_ok[@]}" --policy=/nonexistent/x.policy -- /bin/cat
expect_exit "a directory as --policy is a policy error (78)" 78 ectl new app "${new_ok[@]}" --policy=/etc/ -- /bin/cat
# the backend unit's own settings
ectl new envy "${new_ok[@]}" --env='GREETING=hello "big" world 100%' --env=EMPTY= --env-file=/etc/default/envy \
        --working-directory=/var/tmp -- /bin/cat >"$T_TMP/out" 2>&1
is "--env, --env-file, --working-directory are accepted" "$?" 0
like "--env becomes Environment=, quoted, with '%' doubled" "$(cat "$UNITS/envy-backend.service")" '^Environment="GREETING=hello \\"big\\" world 100%%"$'
like "an empty value is kept" "$(cat "$UNITS/envy-backend.service")" '^Environment="EMPTY="$'
like "--env-file becomes EnvironmentFile=" "$(cat "$UNITS/envy-backend.service")" '^EnvironmentFile=/etc/default/envy$'
like "--working-directory becomes WorkingDirectory=" "$(cat "$UNITS/envy-backend.service")" '^WorkingDirectory=/var/tmp$'
rm -f "$UNITS"/envy*
expect_exit "--env without '=' is refused" 64 ectl new app "${new_ok[@]}" --env=NOVALUE -- /bin/cat
expect_exit "--env with a name starting with a digit is refused" 64 ectl new app "${new_ok[@]}" --env=1X=y -- /bin/cat
expect_exit "--env with a newline in the value is refused" 64 ectl new app "${new_ok[@]}" --env="$(printf 'A=b\nc')" -- /bin/cat
expect_exit "a relative --env-file is refused" 64 ectl new app "${new_ok[@]}" --env-file=env -- /bin/cat
expect_exit "a relative --working-directory is refused" 64 ectl new app "${new_ok[@]}" --working-directory=tmp -- /bin/cat

# ---- what the sandboxed backend may write: --rw-path, --state-dir -------------------------------------------
ectl new wr "${new_ok[@]}" --rw-path=/srv/a%b --rw-path=/var/cache/wr --state-dir=wr/db --user=nobody -- /bin/cat \
        >"$T_TMP/out" 2>&1
is "--rw-path (twice) and --state-dir are accepted" "$?" 0
wr=$(cat "$UNITS/wr-backend.service")
like "the backend's files are confined by ember-sandbox (Landlock), read-only by default" "$wr" '^ExecStart=.* --landlock '
is "with no mount namespace: no ReadWritePaths=, ProtectSystem= or PrivateTmp=" \
        "$(grep -cE '^(ReadWritePaths|ProtectSystem|PrivateTmp|ReadOnlyPaths|ProtectHome|PrivateDevices)=' "$UNITS/wr-backend.service")" 0
like "each --rw-path becomes ember-sandbox --rw-path= (% escaped)" "$wr" '^ExecStart=.* "--rw-path=/srv/a%%b" '
like "the second one too" "$wr" '^ExecStart=.* --rw-path=/var/cache/wr '
like "--state-dir with --user: ember-sandbox makes /var/lib/NAME the user's as it starts, and exports it" "$wr" '^ExecStart=.* --state-dir=/var/lib/wr/db '
is "not a process more before each start (ExecStartPre=)" "$(grep -c '^ExecStartPre=' "$UNITS/wr-backend.service")" 0
ectl new wd "${new_ok[@]}" --state-dir=wd -- /bin/cat >/dev/null 2>&1
like "--state-dir without --user: the same, for the backend's own user" "$(cat "$UNITS/wd-backend.service")" \
        '^ExecStart=.* --state-dir=/var/lib/wd '
rm -f "$UNITS"/wd*
ectl new sd "${new_ok[@]}" -- /bin/cat >/dev/null 2>&1
like "without --state-dir every app gets /var/lib/ember/NAME" "$(cat "$UNITS/sd-backend.service")" '^ExecStart=.* --state-dir=/var/lib/ember/sd '
rm -f "$UNITS"/sd*
ectl new sd "${new_ok[@]}" --hardening=strict -- /bin/cat >/dev/null 2>&1
like "under --hardening=strict: StateDirectory=ember/NAME of the dynamic user" "$(cat "$UNITS/sd-backend.service")" '^StateDirectory=ember/sd$'
rm -f "$UNITS"/sd*
ectl new sd "${new_ok[@]}" --hardening=strict --user=nobody -- /bin/cat >/dev/null 2>&1
sd=$(cat "$UNITS/sd-backend.service")
like "under --hardening=strict with --user: made that user's before each start" "$sd" \
        '^ExecStartPre=\+/usr/bin/install -d -o 65534 -g 65534 -m 0750 /var/lib/ember/sd$'
like "writable in systemd's namespace" "$sd" '^ReadWritePaths=-/var/lib/ember/sd$'
like "and exported as StateDirectory= would" "$sd" '^Environment=STATE_DIRECTORY=/var/lib/ember/sd$'
rm -f "$UNITS"/sd*
ectl new wd "${new_ok[@]}" --state-dir=wd --hardening=strict -- /bin/cat >/dev/null 2>&1
wd=$(cat "$UNITS/wd-backend.service")
like "under --hardening=strict (systemd's sandbox) the state directory is StateDirectory= of the dynamic user" "$wd" '^StateDirectory=wd$'
like "and the file system read-only by systemd" "$wd" '^ProtectSystem=strict$'
like "but its state directory" "$wd" '^ReadWritePaths=/run/ember/wd$'
rm -f "$UNITS"/wd*
rm -f "$UNITS"/wr*
ectl new ux --listen=18001 --backend=/tmp/ux/b.sock --user=root --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
ux=$(cat "$UNITS/ux-backend.service")
like "a unix --backend's directory stays writable (to bind there)" "$ux" '^ExecStart=.* --rw-path=/tmp/ux '
is "and /tmp is shared with the launchers (no PrivateTmp=)" "$(grep -c '^PrivateTmp=' "$UNITS/ux-backend.service")" 0
like "the launchers take only a socket of the backend's user: root's with --user=root" \
        "$(grep '^ExecStart=' "$UNITS/ux@.service")" ' --backend-owner=0$'
is "and run as root only then (ember-launch(8), USER)" "$(grep '^User=' "$UNITS/ux@.service")" User=root
is "a root backend's unit hides PID 1's, the bus's and journald's control sockets" \
        "$(grep '^InaccessiblePaths=' "$UNITS/ux-backend.service")" \
        "InaccessiblePaths=-/run/systemd/private -/run/dbus/system_bus_socket -/run/systemd/journal/io.systemd.journal"
rm -f "$UNITS"/ux*
ectl new ux --listen=18001 --backend=/tmp/ux/b.sock --user=nobody --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
like "and --user's uid with --user" "$(grep '^ExecStart=' "$UNITS/ux@.service")" " --backend-owner=$(id -u nobody)\$"
is "whose launchers run as that user" "$(grep '^User=' "$UNITS/ux@.service")" User=nobody
is "and whose backend unit hides nothing (the sockets' own checks hold)" "$(grep -c '^InaccessiblePaths=' "$UNITS/ux-backend.service")" 0
rm -f "$UNITS"/ux*
expect_exit "a relative --rw-path is refused" 64 ectl new app "${new_ok[@]}" --rw-path=srv -- /bin/cat
expect_exit "an absolute --state-dir is refused (it is under /var/lib)" 64 ectl new app "${new_ok[@]}" --state-dir=/var/lib/x -- /bin/cat
expect_exit "a --state-dir with .. is refused" 64 ectl new app "${new_ok[@]}" --state-dir=a/../b -- /bin/cat

# the same rules as ember-sandbox's (common/): a hidden name is no policy, a numeric uid with a passwd entry is a user
mkdir -p "$T_TMP/pol" && touch "$T_TMP/pol/.hidden.policy"
expect_exit "a named --policy starting with '.' is refused, as ember-sandbox would (78)" 78 \
        env EMBER_POLICY_DIR="$T_TMP/pol" "$EMBERCTL_BIN" new app "${new_ok[@]}" --policy=.hidden -- /bin/cat
ectl new numeric "${new_ok[@]}" --user=0 --unit-dir="$UNITS" -- /bin/cat >"$T_TMP/out" 2>&1
is "--user=0 (a uid with a passwd entry) is accepted, as ember-sandbox accepts it" "$?" 0
rm -f "$UNITS"/numeric*
expect_exit "no COMMAND: 64" 64 ectl new app "${new_ok[@]}"
expect_exit "an empty COMMAND after --: 64" 64 ectl new app "${new_ok[@]}" --
expect_exit "a COMMAND not in \$PATH: 64" 64 ectl new app "${new_ok[@]}" -- no-such-command-ember
expect_exit "a COMMAND that is not executable: 64" 64 ectl new app "${new_ok[@]}" -- /etc/passwd
expect_exit "a COMMAND that is a directory: 64" 64 ectl new app "${new_ok[@]}" -- /usr/bin
ok "nothing written by refused options" no_units_written

# ---- a good app ----------------------------------------------------------------------------------------------
ectl new web "${new_ok[@]}" --idle=1m30s -- cat -u >"$T_TMP/new.out" 2>&1
is "new exits 0" "$?" 0
like "new prints systemctl daemon-reload" "$(cat "$T_TMP/new.out")" '^  systemctl daemon-reload$'
like "new prints systemctl enable --now web.socket" "$(cat "$T_TMP/new.out")" '^  systemctl enable --now web\.socket$'
is "four units, nothing else (no temporary files)" "$(cd "$UNITS" && ls -A | tr '\n' ' ')" \
        "web-backend.service web-backend.socket web.socket web@.service "
is "units are mode 0644" "$(stat -c %a "$UNITS"/* | sort -u)" 644
is "no placeholder is left" "$(grep -l '@[A-Z_]*@' "$UNITS"/* | wc -l)" 0
is "NAME.socket listens where asked" "$(grep '^ListenStream=' "$UNITS/web.socket")" "ListenStream=127.0.0.1:18001"
is "NAME.socket accepts connections itself" "$(grep '^Accept=' "$UNITS/web.socket")" "Accept=yes"
like "NAME.socket has an explicit trigger limit" "$(grep '^TriggerLimit' "$UNITS/web.socket")" 'TriggerLimitBurst=[0-9]{4,}'
like "NAME.socket has an explicit MaxConnections" "$(grep '^MaxConnections=' "$UNITS/web.socket")" '^MaxConnections=1024$'
is "the wake socket is the app's wake.sock" "$(grep '^ListenStream=' "$UNITS/web-backend.socket")" "ListenStream=/run/ember/web/wake.sock"
is "the wake socket is root's and the launchers' alone" "$(grep -E '^Socket(User|Mode)=' "$UNITS/web-backend.socket" | tr '\n' ' ')" \
        "SocketUser=root SocketMode=0660 "
like "the instance runs ember-launch for the app" "$(grep '^ExecStart=' "$UNITS/web@.service")" \
        '^ExecStart=/.*/ember/ember-launch --app=web --backend=127\.0\.0\.1:18002 --start-on=connect --start-timeout=30s$'
like "the backend runs ember-sandbox with the resolved COMMAND, as a user of its own, its files confined by Landlock" \
        "$(grep '^ExecStart=' "$UNITS/web-backend.service")" \
        '^ExecStart=/.*/ember/ember-sandbox --app=web --backend=127\.0\.0\.1:18002 --idle=90s --ready=connect --policy=default --user=web-backend --landlock --state-dir=/var/lib/ember/web --start-timeout=30s --stop-timeout=10s --launch-user=ember -- /(usr/)?bin/cat -u$'
is "a system user of its own, not DynamicUser= (no --user: never root; no mount namespace at each cold start)" \
        "$(grep -c '^DynamicUser=' "$UNITS/web-backend.service")" 0
is "the backend is Type=notify" "$(grep '^Type=' "$UNITS/web-backend.service")" "Type=notify"
like "a cold start begins the backend in the instance's own transaction" "$(cat "$UNITS/web@.service")" '^Wants=web-backend\.service$'
is "with no ordering after it (the launcher waits on wake.sock)" "$(grep -c '^After=web-backend\.service' "$UNITS/web@.service")" 0
for opt in NoNewPrivileges=yes CapabilityBoundingSet= AmbientCapabilities= CollectMode=inactive-or-failed; do
        ok "the instance is hardened: $opt" grep -qx -- "$opt" "$UNITS/web@.service"
done

rm -f "$UNITS"/*
ectl new idle "${new_ok[@]}" --client-idle-timeout=1m30s --start-on=data --start-timeout=5s -- /bin/cat >/dev/null 2>&1
like "--client-idle-timeout becomes the launcher's --idle-timeout" "$(grep '^ExecStart=' "$UNITS/idle@.service")" \
        ' --start-on=data --start-timeout=5s --idle-timeout=90s$'
is "--start-on=data: the instance does not begin the backend (the first byte does)" \
        "$(grep -c '^Wants=idle-backend\.service' "$UNITS/idle@.service")" 0
like "systemd's start timeout leaves room for the supervisor's (5 s + 10 s crash backoff, as ember-sandbox caps it, + 10 s)" \
        "$(grep '^TimeoutStartSec=' "$UNITS/idle-backend.service")" '^TimeoutStartSec=25s$'
rm -f "$UNITS"/*
ectl new pp "${new_ok[@]}" --accept-proxy-protocol -- /bin/cat >/dev/null 2>&1
is "--accept-proxy-protocol: nor does it (a health check or a bad header must wake nothing)" \
        "$(grep -c '^Wants=pp-backend\.service' "$UNITS/pp@.service")" 0
rm -f "$UNITS"/*
ectl new web "${new_ok[@]}" --idle=1m30s -- cat -u >/dev/null 2>&1

# ---- overwrite ------------------------------------------------------------------------------------------------
sum_before=$(cat "$UNITS"/* | md5sum)
expect_exit "new refuses to overwrite an app's units (73)" 73 ectl new web "${new_ok[@]}" -- /bin/true
is "refused overwrite leaves the units alone" "$(cat "$UNITS"/* | md5sum)" "$sum_before"
rm "$UNITS/web@.service"
expect_exit "new refuses even if only some units exist" 73 ectl new web "${new_ok[@]}" -- /bin/true
ok "and writes none of them" test ! -e "$UNITS/web@.service"
expect_exit "new --force replaces the units" 0 ectl new web "${new_ok[@]}" --force -- /bin/true
ok "--force wrote the new COMMAND" grep -q -- '-- /bin/true$' "$UNITS/web-backend.service"
expect_exit "a missing unit directory is refused (73)" 73 ectl new web2 --listen=18003 --backend=18004 --unit-dir="$T_TMP/nope" -- /bin/true

# ---- quoting of COMMAND for ExecStart= ----------------------------------------------------------------------
rm -f "$UNITS"/*
ectl new q --listen=18005 --backend=/run/q/back%end.sock --policy=strict --user=root --unit-dir="$UNITS" -- \
        /bin/echo plain 'two words' '$HOME' '${X}' '%n' 'say "hi"' 'back\slash' '' ';' "$(printf 'tab\there')" \
        "$(printf 'new\nline')" 'ünïcode' >/dev/null 2>&1
is "new with awkward arguments exits 0" "$?" 0
exp='-- /bin/echo plain "two words" "$$HOME" "$${X}" "%%n" "say \"hi\"" "back\\slash" "" ";" "tab\there" "new\nline" "ünïcode"'
got=$(grep '^ExecStart=' "$UNITS/q-backend.service" | sed 's/.* -- /-- /')
is "COMMAND words are quoted and escaped for systemd" "$got" "$exp"
like "a backend path with % is escaped" "$(grep '^ExecStart=' "$UNITS/q-backend.service")" '"--backend=/run/q/back%%end\.sock"'
like "--user is passed to the sandbox" "$(grep '^ExecStart=' "$UNITS/q-backend.service")" ' --user=root '
like "--policy is passed to the sandbox" "$(grep '^ExecStart=' "$UNITS/q-backend.service")" ' --policy=strict '
is "a bare --listen PORT listens on all addresses" "$(grep '^ListenStream=' "$UNITS/q.socket")" "ListenStream=18005"
rm -f "$UNITS"/*
ectl new u --listen=/run/u%1.sock --backend=18006 --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
is "a unix --listen path has its % escaped" "$(grep '^ListenStream=' "$UNITS/u.socket")" "ListenStream=/run/u%%1.sock"
like "a bare --backend PORT means 127.0.0.1" "$(grep '^ExecStart=' "$UNITS/u@.service")" ' --backend=127\.0\.0\.1:18006 '

# ---- --hardening ----------------------------------------------------------------------------------------------
rm -f "$UNITS"/*
ectl new h --listen=18007 --backend=18008 --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
default_unit=$(cat "$UNITS/h@.service")
like "the default hardening (lean) keeps no capabilities and no_new_privs" "$default_unit" '^NoNewPrivileges=yes$'
is "the default hardening (lean) has systemd build no namespace and no filter per connection" \
        "$(grep -cE '^(ProtectSystem|PrivateTmp|PrivateDevices|ReadOnlyPaths|ProtectHome|SystemCallFilter|RestrictAddressFamilies)=' "$UNITS/h@.service")" 0
rm -f "$UNITS"/*
ectl new h --listen=18007 --backend=18008 --hardening=lean --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
is "--hardening=lean is the default" "$(cat "$UNITS/h@.service")" "$default_unit"
rm -f "$UNITS"/*
ectl new h --listen=18007 --backend=18008 --hardening=strict --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
for opt in NoNewPrivileges=yes CapabilityBoundingSet= ProtectSystem=strict ReadWritePaths=/run/ember/h PrivateTmp=yes \
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' SystemCallFilter=@system-service; do
        ok "--hardening=strict adds systemd's sandbox: $opt" grep -qx -- "$opt" "$UNITS/h@.service"
done
expect_exit "--hardening=other is a usage error (64)" 64 ectl new h --listen=18007 --backend=18008 --hardening=other --unit-dir="$UNITS" -- /bin/cat

# ---- who the backend runs as: never root unless the app says --user=root ---------------------------------------------
out=$(ectl new nu --listen=18021 --backend=/run/nu/b.sock --unit-dir="$UNITS" -- /bin/cat 2>&1)
is "a unix --backend without --user is a usage error (64)" "$?" 64
like "naming --user=USER and what --user=root gives away" "$out" 'a unix --backend needs --user=USER.*--user=root runs it as root'
out=$(ectl new nc --listen=18021 --backend=18022 --policy=container --unit-dir="$UNITS" -- /bin/cat 2>&1)
is "--policy=container without --user is a usage error (64)" "$?" 64
like "naming --user=root" "$out" 'needs root: say so with --user=root'
out=$(ectl new abcdefghijklmnopqrstuvwxyz --listen=18021 --backend=18022 --unit-dir="$UNITS" -- /bin/cat 2>&1)
is "a NAME too long for the backend's own user, without --user, is a usage error (64)" "$?" 64
like "naming the fix" "$out" "cannot name the backend's own user .*choose another NAME, or --user=USER"
is "none of them wrote a unit" "$(ls "$UNITS" | grep -c -e '^nu' -e '^nc' -e '^abc')" 0
out=$(ectl new nd --listen=18021 --backend=18022 --unit-dir="$UNITS" -- /bin/cat 2>/dev/null)
like "without --user, new says the backend runs as a user of its own" "$out" 'user nd-backend, a system user of its own'
err=$(ectl new nr --listen=18023 --backend=18024 --user=root --unit-dir="$UNITS" -- /bin/cat 2>&1 >/dev/null)
like "--user=root warns what it gives away" "$err" 'Warning: the backend runs as root \(--user=root\)'
is "and its unit has no DynamicUser=" "$(grep -c '^DynamicUser=' "$UNITS/nr-backend.service")" 0
rm -f "$UNITS"/nd* "$UNITS"/nr*

# ---- --policy=container: the backend unit's sandbox relaxed for a container engine, and only then ---------------
rm -f "$UNITS"/*
ectl new k --listen=18009 --backend=18010 --policy=container --user=root --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
ectl new d --listen=18011 --backend=18012 --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
relaxed='^(CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_CHROOT CAP_SETPCAP CAP_SETFCAP CAP_MKNOD CAP_MAC_ADMIN|RestrictNamespaces=no|PrivateDevices=no|ProtectHostname=no|RestrictSUIDSGID=no|ReadWritePaths=-/var/lib/containers /run -/etc/containers/networks -/etc/cni/net\.d -/sys/kernel/security)$'
is "--policy=container relaxes six settings of the backend unit (capabilities, namespaces, devices, host name, set-user-ID files, podman's paths and AppArmor's securityfs)" \
        "$(grep -cE "$relaxed" "$UNITS/k-backend.service")" 6
for opt in RestrictNamespaces PrivateDevices ProtectHostname RestrictSUIDSGID; do
        is "--policy=container: the last $opt= (the one systemd keeps) is no" "$(grep "^$opt=" "$UNITS/k-backend.service" | tail -n 1)" "$opt=no"
done
is "--policy=container --user=root hides no socket (its engine could undo a mount)" "$(grep -c '^InaccessiblePaths=' "$UNITS/k-backend.service")" 0
is "--policy=container leaves /run writable (the engine's state is there)" "$(grep -c "^ReadOnlyPaths=/run$" "$UNITS/k-backend.service")" 0
for opt in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes ProtectKernelModules=yes; do
        ok "--policy=container keeps $opt" grep -qx -- "$opt" "$UNITS/k-backend.service"
done
mkdir -p "$T_TMP/bin" && printf '#!/bin/sh\n' >"$T_TMP/bin/docker" && cp "$T_TMP/bin/docker" "$T_TMP/bin/podman" &&
        chmod +x "$T_TMP/bin/docker" "$T_TMP/bin/podman"
# these fake engines live in $T_TMP, which the backend unit's PrivateTmp= (and ProtectHome=, for a TMPDIR there) would
# hide from the backend, and new would refuse them: drop-ins let the backend see them, as a user's would
for app in kd kp; do
        mkdir -p "$UNITS/$app-backend.service.d" &&
                printf '[Service]\nPrivateTmp=no\nProtectHome=read-only\n' >"$UNITS/$app-backend.service.d/see-tmp.conf"
done
like "--policy=container with docker: new says how to remove a leftover container before each start" \
        "$(ectl new kd --listen=18013 --backend=18014 --policy=container --user=root --unit-dir="$UNITS" -- "$T_TMP/bin/docker" run IMG 2>/dev/null)" \
        "ExecStartPre=-$(re_quote "$T_TMP/bin/docker") rm --force ember-kd"
out=$(ectl new kp --listen=18015 --backend=18016 --policy=container --user=root --unit-dir="$UNITS" -- \
        "$T_TMP/bin/podman" run IMG 2>/dev/null)
like "with podman: new says how to remove the record of a container killed with the unit, when the unit stops" \
        "$out" "ExecStopPost=-$(re_quote "$T_TMP/bin/podman") rm --force --time 0 --ignore ember-kp"
is "and nothing before each start (the cold start would pay for it)" "$(grep -c ExecStartPre <<<"$out")" 0
rm -rf "$UNITS"/kd-backend.service.d "$UNITS"/kp-backend.service.d
is "the default policy's backend unit has none of it" "$(grep -cE "$relaxed" "$UNITS/d-backend.service")" 0
ok "and its /run is read-only (Landlock: ember-sandbox --landlock)" grep -q "^ExecStart=.* --landlock " "$UNITS/d-backend.service"

# ---- --relay ----------------------------------------------------------------------------------------------------
rm -f "$UNITS"/*
ectl new h --listen=18007 --backend=18008 --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
is "splice is the default: no --relay anywhere, no CAP_BPF" "$(cat "$UNITS"/h* | grep -cE -- '--relay=|CAP_BPF')" 0
rm -f "$UNITS"/*
if kernel_relay_built; then
        ectl new h --listen=18007 --backend=18008 --relay=kernel --unit-dir="$UNITS" -- /bin/cat >/dev/null 2>&1
        like "--relay=kernel: the launcher asks for the in-kernel relay" "$(grep '^ExecStart=' "$UNITS/h@.service")" ' --relay=kernel$'
        like "and the supervisor offers it" "$(grep '^ExecStart=' "$UNITS/h-backend.service")" ' --relay=kernel( --[a-z-]+=[^ ]+)* -- '
        ok "and its unit may load BPF socket maps" grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN' "$UNITS/h-backend.service"
else
        # the experimental in-kernel relay is built only with ./configure --enable-kernel-relay
        expect_exit "--relay=kernel where the in-kernel relay is not built in is a usage error (64)" 64 \
                ectl new h --listen=18007 --backend=18008 --relay=kernel --unit-dir="$UNITS" -- /bin/cat
        like "which names the configure switch" "$(cat "$T_TMP/err")" 'no in-kernel relay.*--enable-kernel-relay'
        ok "and writes no unit" no_units_written
fi
expect_exit "--relay=other is a usage error (64)" 64 ectl new h --listen=18007 --backend=18008 --relay=other --unit-dir="$UNITS" -- /bin/cat

# ---- broken template --------------------------------------------------------------------------------------------
rm -f "$UNITS"/*
mkdir "$T_TMP/tpl" && cp "$top_srcdir"/templates/NAME* "$top_srcdir"/templates/hardening-*.conf "$top_srcdir"/templates/backend-*.conf "$T_TMP/tpl/" && echo 'X=@NO_SUCH_KEY@' >>"$T_TMP/tpl/NAME.socket"
EMBER_TEMPLATE_DIR=$T_TMP/tpl expect_exit "an unknown placeholder in a template is bad data (65)" 65 ectl new app "${new_ok[@]}" -- /bin/cat
like "and names FILE:LINE" "$(cat "$T_TMP/err")" 'NAME\.socket:[0-9]+: unknown placeholder @NO_SUCH_KEY@'
ok "a broken template writes nothing" no_units_written

# ---- status and stop against a fake runtime dir --------------------------------------------------------------
export EMBER_RUNTIME_DIR=$T_TMP/run
mkdir -p "$EMBER_RUNTIME_DIR"
out=$(ectl status 2>&1)
like "status with no apps says so" "$out" '^No ember apps'
is "status --json with no apps is []" "$(ectl status --json)" "[]"
expect_exit "status of an unknown app: 69" 69 ectl status nope
# A stand-in supervisor proves it is alive the way ember-sandbox does: a POSIX write lock on byte GENERATION of
# supervisor.lock, held for its whole life. fake_supervisor DIR obedient|stubborn: on SIGTERM the obedient one
# records "cold" and exits, the stubborn one ignores it. Its pid in $fake once it holds the lock.
fake_supervisor() {
        rm -f "$T_TMP/locked"
        python3 -c '
import fcntl, signal, sys, time
d, mode, ready = sys.argv[1:4]
f = open(d + "/supervisor.lock", "a+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1)
def term(*_):
    open(d + "/state", "w").write("cold\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term if mode == "obedient" else signal.SIG_IGN)
open(ready, "w").write("locked")
while True:
    time.sleep(0.05)
' "$1" "$2" "$T_TMP/locked" &
        fake=$!
        wait_until 20 test -e "$T_TMP/locked"
}

mkdir -p "$EMBER_RUNTIME_DIR/a" "$EMBER_RUNTIME_DIR/b"
now=$(date +%s)
for kv in state=warm refcount=2 backend.pid=$$ supervisor.pid=1 started-at=$((now - 125)) idle-since=$((now - 200)) \
        cold-starts=3 connections=41 ready-ms=87; do
        echo "${kv#*=}" >"$EMBER_RUNTIME_DIR/a/${kv%%=*}"
done
echo cold >"$EMBER_RUNTIME_DIR/b/state"
out=$(ectl status)
like "a warm state with no supervisor holding its lock is shown as stale" "$out" "^a +cold \(stale 'warm': its supervisor is gone\) +2 +- "
is "and in JSON: cold, stale_state warm, no supervisor" \
        "$(ectl status a --json | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["state"], o["stale_state"], o["supervisor_running"], o["supervisor_pid"])')" \
        "cold warm False None"
fake_supervisor "$EMBER_RUNTIME_DIR/a" stubborn
out=$(ectl status)
like "status shows a table header" "$out" '^APP +STATE +CONNECTIONS +BACKEND-PID +UP +IDLE +COLD-STARTS +SERVED +LAST-COLD-START$'
like "status shows the warm app's figures once its supervisor holds the lock" "$out" "^a +warm +2 +$$ +2m[0-9]+s +- +3 +41 +87ms\$"
like "status shows the cold app" "$out" '^b +cold +0 +- +- +- +0 +0 +-$'
expect_exit "a status that cannot be written is a system error (71), and says so" 71 \
        sh -c '"$0" status b >/dev/full' "$EMBERCTL_BIN"
json=$(ectl status a --json)
ok "status NAME --json is one JSON object with every field; the supervisor pid is the lock holder's, not supervisor.pid's" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
want = {"app": "a", "state": "warm", "stale_state": None, "connections_live": 2, "cold_starts": 3, "connections_served": 41,
        "last_cold_start_ms": 87, "backend_pid": int(sys.argv[2]), "supervisor_pid": int(sys.argv[3]), "supervisor_running": True}
bad = {k: o.get(k) for k, v in want.items() if o.get(k) != v}
assert not bad, bad
assert 124 <= o["up_sec"] <= 130, o["up_sec"]
assert o["idle_sec"] is None, o["idle_sec"]
' "$json" "$$" "$fake"
ok "status --json lists every app" python3 -c '
import json, sys
l = json.loads(sys.argv[1]); assert [o["app"] for o in l] == ["a", "b"], l
assert l[1]["backend_pid"] is None and l[1]["up_sec"] is None and l[1]["last_cold_start_ms"] is None, l[1]
' "$(ectl status --json)"
ln -s "$EMBER_RUNTIME_DIR/a" "$EMBER_RUNTIME_DIR/evil"
expect_exit "status refuses a symlinked app dir (77)" 77 ectl status evil
ok "status of all apps skips the symlink" sh -c "! '$EMBERCTL_BIN' status | grep -q '^evil'"
mkdir -p "$EMBER_RUNTIME_DIR/g" && head -c 200 /dev/zero | tr '\0' 7 >"$EMBER_RUNTIME_DIR/g/refcount" && printf 'war' >"$EMBER_RUNTIME_DIR/g/state"
like "status survives garbage, huge and truncated files" "$(ectl status g)" '^g +cold +0 '

expect_exit "stop of an unknown app: 69" 69 ectl stop nope
expect_exit "stop without NAME: 64" 64 ectl stop
ectl stop b >"$T_TMP/out" 2>&1
is "stop of a cold app exits 0" "$?" 0
like "and says it is not running" "$(cat "$T_TMP/out")" 'not running'

t0=$(ms_now)
expect_exit "stop of a supervisor that does not stop gives up after --timeout (69)" 69 ectl stop a --timeout=1s
t1=$(ms_now)
ok "within the timeout (1 s, took $((t1 - t0)) ms)" test $((t1 - t0)) -lt 3000
kill -KILL "$fake"
wait "$fake" 2>/dev/null
ectl stop a >"$T_TMP/out" 2>&1
is "once that supervisor is killed, stop exits 0" "$?" 0
like "and says the recorded state is stale" "$(cat "$T_TMP/out")" "not running \(its recorded state 'warm' is stale"

sleep 300 &
decoy=$!
echo "$decoy" >"$EMBER_RUNTIME_DIR/a/supervisor.pid"
ectl stop a >"$T_TMP/out" 2>&1
is "stop with a supervisor.pid naming a live process that holds no lock exits 0" "$?" 0
ok "and does not signal that process" kill -0 "$decoy"
kill "$decoy"

echo warm >"$EMBER_RUNTIME_DIR/a/state"
fake_supervisor "$EMBER_RUNTIME_DIR/a" obedient
ectl stop a >"$T_TMP/out" 2>&1
is "stop signals the lock's holder and waits until it is gone" "$?:$(cat "$EMBER_RUNTIME_DIR/a/state")" "0:cold"
ok "the supervisor is gone" sh -c "! kill -0 $fake 2>/dev/null || grep -q '^State:.*zombie' /proc/$fake/status"
wait "$fake" 2>/dev/null

finish
