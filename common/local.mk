noinst_LIBRARIES += common/libember.a
common_libember_a_SOURCES = \
	common/macro.h \
	common/log.c common/log.h \
	common/events.c common/events.h \
	common/parse.c common/parse.h \
	common/state.c common/state.h \
	common/protocol.c common/protocol.h common/run-state.c \
	common/timeutil.c common/timeutil.h \
	common/usage.c common/usage.h \
	common/daemon.c common/daemon.h \
	common/proxy.c common/proxy.h \
	common/user.c common/user.h \
	common/landlock.c common/landlock.h \
	common/unix-socket.c common/unix-socket.h \
	common/tcp-listener.c common/tcp-listener.h

# The message catalog for journalctl -x (MESSAGE_ID= of every EMBER_EVENT=), in catalogdir (configure
# --with-catalogdir).
dist_catalog_DATA = catalog/ember.catalog
