# emberctl: writes an app's units from templates/, shows state, stops backends. See man/emberctl.1.
bin_PROGRAMS += ctl/emberctl
ctl_emberctl_SOURCES = \
	ctl/emberctl.c ctl/ctl.h ctl/errors.c ctl/errors.h \
	ctl/new.c ctl/new.h ctl/new-options.c ctl/new-options.h ctl/app-check.c ctl/launch-user.c ctl/status.c ctl/stop.c ctl/metrics.c ctl/report.c \
	ctl/list.c ctl/start.c ctl/rm.c ctl/logs.c ctl/units.c ctl/upgrade.c ctl/failure.c ctl/failure.h \
	ctl/bus.c ctl/bus.h \
	ctl/buf.c ctl/buf.h \
	ctl/unit-quote.c ctl/unit-quote.h \
	ctl/template.c ctl/template.h
ctl_emberctl_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
ctl_emberctl_LDADD = common/libember.a $(SYSTEMD_LIBS)

# The man pages of the programs, of the state protocol, and of emberctl.
dist_man_MANS += man/emberctl.1 man/ember-launch.8 man/ember-sandbox.8 man/ember-state.7

# The README's quick start: sudo demo/run after building.
EXTRA_DIST += demo/run demo/quickstart
EXTRA_DIST += doc/ARCHITECTURE.md doc/apps.md doc/building.md doc/containers.md doc/hardening.md doc/how-it-works.md \
	doc/inetd.md doc/observability.md doc/several-hosts.md doc/upgrades.md
# a balancer in front of several hosts (doc/several-hosts.md; tests/system/multihost.sh)
EXTRA_DIST += examples/haproxy/haproxy.cfg examples/nginx/stream.conf

# bash completion: verbs, app names, options
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = completion/emberctl
