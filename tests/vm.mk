# VM layer (`make check-vm`, never part of `make check`): the tests in tests/vm/ run inside a Debian 13 virtual
# machine under QEMU (TCG) with systemd 257 as PID 1 and cgroup v2 with every controller, ember built as a .deb with
# dpkg-buildpackage and installed with apt: a real MemoryMax= OOM kill, the bill from memory.peak and cpu.stat, a
# unix-socket backend, --dynamic-user on a pristine system, podman with cgroups of its own (--cgroups=split).
# tests/vm/vm builds the image (debootstrap, cached under /var/tmp/ember-vm per checkout HEAD), boots it once for
# all the tests and brings their TAP back; automake's TAP driver then reports each test from that output
# (tests/vm/vm result). Needs root and qemu-system-x86, debootstrap and e2fsprogs; without them every test is a
# SKIP with the reason.
vm_tests = \
	tests/vm/oom.sh \
	tests/vm/bill.sh \
	tests/vm/cgroup.sh \
	tests/vm/unix.sh \
	tests/vm/dynamic-user.sh \
	tests/vm/podman.sh \
	tests/vm/idle-freeze.sh \
	tests/vm/checkpoint.sh
EXTRA_DIST += $(vm_tests) tests/vm/vm tests/vm/lib.sh tests/vm/runner.sh tests/vm/backend.py

vm_out = $(abs_top_builddir)/tests/vm/out
check-vm:
	@set --; for t in $(vm_tests); do set -- "$$@" '$(abs_top_srcdir)'/$$t; done; \
	  start=$$(date +%s); \
	  bash '$(abs_top_srcdir)/tests/vm/vm' check '$(vm_out)' '$(abs_top_srcdir)' "$$@"; \
	  $(MAKE) $(AM_MAKEFLAGS) check-TESTS check_PROGRAMS= TESTS='$(vm_tests)' TEST_SUITE_LOG=tests/vm/test-suite.log \
	    SH_LOG_COMPILER="bash '$(abs_top_srcdir)/tests/vm/vm' result '$(vm_out)'"; rc=$$?; \
	  cat '$(vm_out)/timing.host' '$(vm_out)/timing' 2>/dev/null | sed 's/^/# vm: /'; \
	  echo "# vm: check_vm_seconds=$$(($$(date +%s) - start))"; \
	  exit $$rc
.PHONY: check-vm

clean-local: clean-local-vm
.PHONY: clean-local-vm
clean-local-vm:
	-rm -rf '$(vm_out)'
