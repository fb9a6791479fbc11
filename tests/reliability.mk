# Reliability layer: faults, load, hostile input and memcheck, on the inetd harness.
reliability_tests = \
	tests/reliability/valgrind-relay.sh \
	tests/reliability/hostile-clients.sh \
	tests/reliability/state-dir.sh \
	tests/reliability/state-dir-unprepared.sh \
	tests/reliability/crash-loop.sh

TESTS += $(reliability_tests)
EXTRA_DIST += $(reliability_tests)
