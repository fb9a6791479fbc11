# Units of ember itself (not per app): the metrics textfile writer and its timer, installed where systemd looks
# for units below the prefix, disabled until `systemctl enable --now ember-metrics.timer`.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = units/ember-metrics.service
dist_systemdunit_DATA = units/ember-metrics.timer
EXTRA_DIST += units/ember-metrics.service.in
CLEANFILES += units/ember-metrics.service
units/ember-metrics.service: units/ember-metrics.service.in Makefile
	$(AM_V_GEN)mkdir -p units && sed -e 's|@BINDIR@|$(bindir)|g' $(srcdir)/units/ember-metrics.service.in > $@
