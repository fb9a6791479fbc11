# Units of ember itself (not per app): the metrics textfile writer and its timer, installed where systemd looks
# for units (systemdsystemunitdir: configure --with-systemdsystemunitdir), disabled until
# `systemctl enable --now ember-metrics.timer`.
systemdsystemunit_DATA = units/ember-metrics.service
dist_systemdsystemunit_DATA = units/ember-metrics.timer
EXTRA_DIST += units/ember-metrics.service.in
CLEANFILES += units/ember-metrics.service
units/ember-metrics.service: units/ember-metrics.service.in Makefile
	$(AM_V_GEN)mkdir -p units && sed -e 's|@BINDIR@|$(bindir)|g' $(srcdir)/units/ember-metrics.service.in > $@

# The launchers' user (LAUNCH_USER, configure --with-launch-user): systemd-sysusers makes it at boot, the package's
# postinst at install, and emberctl new when it is missing. In sysusersdir (configure --with-sysusersdir).
sysusers_DATA = units/ember.conf
EXTRA_DIST += units/ember.sysusers.in
CLEANFILES += units/ember.conf
units/ember.conf: units/ember.sysusers.in Makefile
	$(AM_V_GEN)mkdir -p units && sed -e 's|[@]LAUNCH_USER[@]|$(LAUNCH_USER)|g' $(srcdir)/units/ember.sysusers.in > $@
