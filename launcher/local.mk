# The warm path: deliberately not linked to libsystemd (its loader cost is paid on every connection).
pkglibexec_PROGRAMS += launcher/ember-launch
launcher_sources = \
	launcher/ember-launch.c \
	launcher/relay.c launcher/relay.h \
	launcher/kernel-relay.h \
	launcher/session.c launcher/session.h \
	launcher/lockdown.c launcher/lockdown.h \
	launcher/client.c launcher/client.h
# The experimental in-kernel relay only with ./configure --enable-kernel-relay (kernel-relay.h says what is left
# without it: nothing the launcher calls).
launcher_kernel_relay_musl_sources =
if ENABLE_KERNEL_RELAY
launcher_sources += launcher/kernel-relay.c
launcher_kernel_relay_musl_sources += $(srcdir)/launcher/kernel-relay.c
endif
if MUSL_LAUNCHER
# Compiled and linked in one step by musl-gcc: automake has no per-program compiler, so the link command is it.
launcher_musl_sources = \
	$(srcdir)/launcher/ember-launch.c $(srcdir)/launcher/relay.c $(srcdir)/launcher/session.c $(srcdir)/launcher/lockdown.c \
	$(srcdir)/launcher/client.c $(srcdir)/common/proxy.c $(launcher_kernel_relay_musl_sources) \
	$(srcdir)/common/log.c $(srcdir)/common/parse.c $(srcdir)/common/state.c $(srcdir)/common/usage.c \
	$(srcdir)/common/protocol.c $(srcdir)/common/timeutil.c $(srcdir)/common/events.c \
	$(srcdir)/common/daemon.c $(srcdir)/common/unix-socket.c $(srcdir)/common/landlock.c
launcher_ember_launch_SOURCES =
EXTRA_launcher_ember_launch_SOURCES = $(launcher_sources)
launcher_ember_launch_DEPENDENCIES = $(launcher_musl_sources) $(srcdir)/launcher/*.h $(srcdir)/common/*.h $(top_builddir)/config.h
launcher_ember_launch_LDADD =
launcher_ember_launch_LINK = $(MUSL_CC) -static -O2 $(WARN_CFLAGS) -D_GNU_SOURCE $(DEFS) $(DEFAULT_INCLUDES) \
	$(AM_CPPFLAGS) $(CPPFLAGS) $(MUSL_KERNEL_CPPFLAGS) -o $@ $(launcher_musl_sources)
else
launcher_ember_launch_SOURCES = $(launcher_sources)
launcher_ember_launch_LDADD = common/libember.a
launcher_ember_launch_LDFLAGS = $(AM_LDFLAGS) $(LAUNCHER_LDFLAGS)
# automake uses a per-program _LINK in both branches once one branch sets it: spell out its default here.
launcher_ember_launch_LINK = $(CCLD) $(AM_CFLAGS) $(CFLAGS) $(launcher_ember_launch_LDFLAGS) $(LDFLAGS) -o $@
endif

# The same launcher linked dynamically, for valgrind (memcheck cannot follow a static glibc's allocator).
check_PROGRAMS += launcher/ember-launch-dynamic
launcher_ember_launch_dynamic_SOURCES = $(launcher_sources)
launcher_ember_launch_dynamic_LDADD = common/libember.a
