# Unit layer: C programs speaking TAP, run through the top Makefile's LOG_DRIVER (tap-driver).
unit_tests = \
	tests/unit/test-parse \
	tests/unit/test-state \
	tests/unit/test-protocol \
	tests/unit/test-transitions \
	tests/unit/test-events \
	tests/unit/test-daemon

check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
EXTRA_DIST += tests/tap.h

unit_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/tests

tests_unit_test_parse_SOURCES = tests/unit/test-parse.c tests/tap.h
tests_unit_test_parse_CPPFLAGS = $(unit_cppflags)
tests_unit_test_parse_LDADD = common/libember.a

tests_unit_test_state_SOURCES = tests/unit/test-state.c tests/tap.h
tests_unit_test_state_CPPFLAGS = $(unit_cppflags)
tests_unit_test_state_LDADD = common/libember.a

tests_unit_test_protocol_SOURCES = tests/unit/test-protocol.c tests/tap.h
tests_unit_test_protocol_CPPFLAGS = $(unit_cppflags)
tests_unit_test_protocol_LDADD = common/libember.a

tests_unit_test_transitions_SOURCES = tests/unit/test-transitions.c tests/tap.h
tests_unit_test_transitions_CPPFLAGS = $(unit_cppflags)
tests_unit_test_transitions_LDADD = common/libember.a

tests_unit_test_events_SOURCES = tests/unit/test-events.c tests/tap.h
tests_unit_test_events_CPPFLAGS = $(unit_cppflags)
tests_unit_test_events_LDADD = common/libember.a

tests_unit_test_daemon_SOURCES = tests/unit/test-daemon.c tests/tap.h
tests_unit_test_daemon_CPPFLAGS = $(unit_cppflags)
tests_unit_test_daemon_LDADD = common/libember.a

# closep() and take_fd(): an fd closed is forgotten, never closed again under a number reused since.
unit_tests += tests/unit/test-macro
tests_unit_test_macro_SOURCES = tests/unit/test-macro.c tests/tap.h
tests_unit_test_macro_CPPFLAGS = $(unit_cppflags)

# ember-launch's self-confinement, probed in locked-down children.
unit_tests += tests/unit/test-lockdown
tests_unit_test_lockdown_SOURCES = tests/unit/test-lockdown.c tests/tap.h launcher/lockdown.c launcher/lockdown.h
tests_unit_test_lockdown_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/launcher
tests_unit_test_lockdown_LDADD = common/libember.a

# The in-kernel relay's count of what the kernel took from a socket, in each TCP state a FIN leaves it in (a skip
# where the relay is not built: ./configure --enable-kernel-relay).
unit_tests += tests/unit/test-kernel-relay
tests_unit_test_kernel_relay_SOURCES = tests/unit/test-kernel-relay.c tests/tap.h launcher/kernel-relay.h
if ENABLE_KERNEL_RELAY
tests_unit_test_kernel_relay_SOURCES += launcher/kernel-relay.c launcher/session.c launcher/session.h
endif
tests_unit_test_kernel_relay_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/launcher
tests_unit_test_kernel_relay_LDADD = common/libember.a

# The PROXY protocol codec: the launcher's first look at client bytes.
unit_tests += tests/unit/test-proxy
tests_unit_test_proxy_SOURCES = tests/unit/test-proxy.c tests/tap.h
tests_unit_test_proxy_CPPFLAGS = $(unit_cppflags)
tests_unit_test_proxy_LDADD = common/libember.a

# Resolving a DynamicUser= user without NSS (no libnss-systemd), from PID 1's records.
unit_tests += tests/unit/test-user
tests_unit_test_user_SOURCES = tests/unit/test-user.c tests/tap.h
tests_unit_test_user_CPPFLAGS = $(unit_cppflags)
tests_unit_test_user_LDADD = common/libember.a

# Unix sockets by a path the backend controls: no symlink followed, reached through the descriptor, seen listening
# without a connection.
unit_tests += tests/unit/test-unix-socket
tests_unit_test_unix_socket_SOURCES = tests/unit/test-unix-socket.c tests/tap.h
tests_unit_test_unix_socket_CPPFLAGS = $(unit_cppflags)
tests_unit_test_unix_socket_LDADD = common/libember.a

# The launcher's read of a PROXY header from a peer on a schedule: bounded by its deadline, waiting without CPU.
unit_tests += tests/unit/test-client
tests_unit_test_client_SOURCES = tests/unit/test-client.c tests/tap.h launcher/client.c launcher/client.h
tests_unit_test_client_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/launcher
tests_unit_test_client_LDADD = common/libember.a

# Whose listener is on a TCP backend's address: the backend's own, or a stranger's that gets no client (issue 24).
unit_tests += tests/unit/test-listener
tests_unit_test_listener_SOURCES = tests/unit/test-listener.c tests/tap.h sandbox/listener.c
tests_unit_test_listener_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/sandbox $(CONFINE_CPPFLAGS)
tests_unit_test_listener_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
tests_unit_test_listener_LDADD = common/libember.a

# emberctl's one mapping from errors to exit statuses (ctl/errors.h).
unit_tests += tests/unit/test-ctl-errors
tests_unit_test_ctl_errors_SOURCES = tests/unit/test-ctl-errors.c tests/tap.h ctl/errors.c ctl/errors.h
tests_unit_test_ctl_errors_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/ctl
