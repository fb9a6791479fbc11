# The warm path: deliberately not linked to libsystemd (its loader cost is paid on every connection).
pkglibexec_PROGRAMS += launcher/ember-launch
launcher_sources = \
	launcher/ember-launch.c \
	launcher/relay.c launcher/relay.h \
	launcher/session.c launcher/session.h
launcher_ember_launch_SOURCES = $(launcher_sources)
launcher_ember_launch_LDADD = common/libember.a
launcher_ember_launch_LDFLAGS = $(AM_LDFLAGS) $(LAUNCHER_LDFLAGS)

# The same launcher linked dynamically, for valgrind (memcheck cannot follow a static glibc's allocator).
check_PROGRAMS += launcher/ember-launch-dynamic
launcher_ember_launch_dynamic_SOURCES = $(launcher_sources)
launcher_ember_launch_dynamic_LDADD = common/libember.a
