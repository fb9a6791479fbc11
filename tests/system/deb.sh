#!/bin/bash
# The Debian package as installed on this machine (.ci/run builds it with dpkg-buildpackage and installs it with
# apt, then runs this with EMBER_TEST_DEB=1): under a real systemd, an app made with the installed emberctl runs the
# installed launcher and supervisor and serves, its man pages and catalog are where Debian looks, and emberctl rm
# takes it away. Elsewhere it skips: make check must not install packages.
. "$(dirname "$0")/lib.sh"
plan 14

[ -n "${EMBER_TEST_DEB:-}" ] || skip_all "runs in .ci/run after the package is installed (EMBER_TEST_DEB=1)"
dpkg-query -W -f='${Status}' ember 2>/dev/null | grep -q 'install ok installed' || bail "the ember package is not installed"
SYS_INSTALLED=1
sys_boot
pick_ports 2
P1=${PORTS[0]} P2=${PORTS[1]}

is "emberctl is the package's" "$(c sh -c 'command -v emberctl')" /usr/bin/emberctl
ok "the package's postinst made the launchers' user on this machine" id -u ember
ok "the package ships it for systemd-sysusers" test -s /usr/lib/sysusers.d/ember.conf
ok "new --now with the installed emberctl" c emberctl new debapp --listen=127.0.0.1:$P1 --backend=127.0.0.1:$P2 \
        --idle=3s --now -- "$TOOLS/ember-test-backend" --listen=127.0.0.1:$P2 --mode=echo
like "the units run the package's launcher" "$(unit_prop debapp@.service ExecStart 2>/dev/null; c cat /etc/systemd/system/debapp@.service)" \
        'ExecStart=/usr/libexec/ember/ember-launch '
like "and the package's supervisor" "$(c cat /etc/systemd/system/debapp-backend.service)" 'ExecStart=!?/usr/libexec/ember/ember-sandbox '
is "an app from the installed package serves" "$("$TOOLS/ember-test-client" --timeout=10s --send=deb 127.0.0.1:$P1)" deb
like "emberctl status sees it" "$(c emberctl status debapp)" '^debapp +warm '
is "its launchers' files are the launchers' user's" "$(c stat -c %U /run/ember/debapp/refcount)" ember
ok "the man pages are installed" c test -e /usr/share/man/man1/emberctl.1.gz -a -e /usr/share/man/man7/ember-state.7.gz
ok "the message catalog is where journalctl looks" c test -e /usr/lib/systemd/catalog/ember.catalog
is "ember-metrics.timer is shipped" "$(unit_prop ember-metrics.timer LoadState)" loaded
ok "emberctl rm takes the app away" c emberctl rm debapp
ok "nothing listens on its port any more" port_free $P1

finish
