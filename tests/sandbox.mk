# Sandbox layer: the policy unit test (C, TAP) and shell TAP tests that run probes and real servers under
# sandbox/ember-sandbox. The tests find their policies through EMBER_POLICY_DIR=$(top_srcdir)/confine/policies.
check_PROGRAMS += tests/sandbox/probe tests/unit/test-policy

tests_sandbox_probe_SOURCES = tests/sandbox/probe.c

tests_unit_test_policy_SOURCES = tests/unit/test-policy.c tests/tap.h
tests_unit_test_policy_CPPFLAGS = $(AM_CPPFLAGS) $(CONFINE_CPPFLAGS) -I$(top_srcdir)/tests
tests_unit_test_policy_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
tests_unit_test_policy_LDADD = confine/libconfine.a common/libember.a $(SECCOMP_LIBS)

sandbox_tests = \
	tests/sandbox/probes.sh \
	tests/sandbox/none.sh \
	tests/sandbox/hardening.sh \
	tests/sandbox/parse-errors.sh \
	tests/sandbox/user.sh \
	tests/sandbox/log.sh \
	tests/sandbox/server-python.sh \
	tests/sandbox/server-redis.sh \
	tests/sandbox/server-nginx.sh \
	tests/sandbox/server-java.sh \
	tests/sandbox/seccomp-kill-event.sh

TESTS += tests/unit/test-policy $(sandbox_tests)
EXTRA_DIST += $(sandbox_tests) tests/sandbox/lib.sh tests/sandbox/HelloServer.java
