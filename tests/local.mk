# Each test layer registers itself here; doc/ARCHITECTURE.md ("Tests, in layers") says what each one covers.
include tests/unit.mk
include tests/inetd.mk
include tests/sandbox.mk
include tests/reliability.mk
include tests/system.mk
include tests/vm.mk
include tests/docs.mk
include tests/fuzz/local.mk

# The TAP producer every shell layer's lib.sh sources, and its own test.
TESTS += tests/lib/selftest.sh
EXTRA_DIST += tests/lib/tap.sh tests/lib/selftest.sh tests/lib/containers.sh tests/lib/cgroup.sh tests/lib/usage.sh tests/lib/build.sh

# `make check-fast`, for the edit loop: the unit layer and the inetd layer without container backends (no systemd
# booted in a container, no podman or dockerd; 5 minutes on 2 shared cores). `make check` runs everything.
check_fast_tests = tests/lib/selftest.sh $(unit_tests) tests/unit/test-policy $(inetd_tests)
check-fast:
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(check_fast_tests)'
.PHONY: check-fast

# make distcheck checks that the tarball builds, installs, uninstalls and cleans up out of tree; its `make check`
# runs check-fast's tests (configure's EMBER_CHECK=fast). The layers that boot systemd in containers and run real
# servers take most of an hour; they run on the source tree (.ci/run).
AM_DISTCHECK_CONFIGURE_FLAGS = EMBER_CHECK=fast
AM_MAKEFLAGS = $(CHECK_FAST_MAKEFLAGS)
