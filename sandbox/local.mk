pkglibexec_PROGRAMS += sandbox/ember-sandbox
sandbox_ember_sandbox_SOURCES = \
	sandbox/ember-sandbox.c sandbox/exit-status.c sandbox/exit-status.h sandbox/supervisor.h sandbox/supervisor-states.c sandbox/options.c sandbox/options.h sandbox/run.c \
	sandbox/heartbeat.c sandbox/upgrade.c \
	sandbox/backend.c sandbox/freeze.c sandbox/record.c sandbox/wake.c sandbox/generation.c \
	sandbox/bill.c sandbox/bill.h sandbox/launchers.c sandbox/launchers.h sandbox/listener.c
# The experimental in-kernel relay (BPF program, socket maps, relay.sock) only with ./configure --enable-kernel-relay;
# without it supervisor.h's stubs open nothing.
if ENABLE_KERNEL_RELAY
sandbox_ember_sandbox_SOURCES += sandbox/kernel-relay.c sandbox/relay-prog.c sandbox/relay-prog.h
endif
# The experimental --idle-action=checkpoint (criu) only with ./configure --enable-checkpoint; without it the option is
# refused as it is parsed, and supervisor.h's and protocol.h's stand-ins are never reached.
if ENABLE_CHECKPOINT
sandbox_ember_sandbox_SOURCES += sandbox/checkpoint.c
common_libember_a_SOURCES += common/checkpoint.c
endif
sandbox_ember_sandbox_CPPFLAGS = $(AM_CPPFLAGS) $(CONFINE_CPPFLAGS)
sandbox_ember_sandbox_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
sandbox_ember_sandbox_LDADD = confine/libconfine.a common/libember.a $(SECCOMP_LIBS)

# The same supervisor with the test-only hooks (EMBER_TEST_HOLD_STOPPING), for tests that step through a race.
check_PROGRAMS += sandbox/ember-sandbox-test
sandbox_ember_sandbox_test_SOURCES = $(sandbox_ember_sandbox_SOURCES)
sandbox_ember_sandbox_test_CPPFLAGS = $(sandbox_ember_sandbox_CPPFLAGS)
sandbox_ember_sandbox_test_CFLAGS = $(sandbox_ember_sandbox_CFLAGS) -DEMBER_TEST_HOOKS
sandbox_ember_sandbox_test_LDADD = $(sandbox_ember_sandbox_LDADD)
