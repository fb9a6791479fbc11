# The warm path: deliberately not linked to libsystemd (its loader cost is paid on every connection).
pkglibexec_PROGRAMS += launcher/ember-launch
launcher_ember_launch_SOURCES = \
	launcher/ember-launch.c \
	launcher/relay.c launcher/relay.h \
	launcher/session.c launcher/session.h
launcher_ember_launch_LDADD = common/libember.a
launcher_ember_launch_LDFLAGS = $(AM_LDFLAGS) $(LAUNCHER_LDFLAGS)
