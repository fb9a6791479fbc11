# System layer: ember under a real systemd as PID 1, booted in a throwaway container with systemd-nspawn
# (tests/system/lib.sh). They SKIP, with the reason, where not root or systemd-nspawn is missing.
# ctl-new.sh and ctl-checkpoint.sh need neither: they check emberctl's validation and the units it writes, on this machine.
system_tests = \
	tests/system/ctl-new.sh \
	tests/system/ctl-checkpoint.sh \
	tests/system/own-cgroup.sh \
	tests/system/security.sh \
	tests/system/backend-pid1.sh \
	tests/system/podman.sh \
	tests/system/docker.sh \
	tests/system/dynamic-user.sh \
	tests/system/backend-files.sh \
	tests/system/http.sh \
	tests/system/redis.sh \
	tests/system/postgres.sh \
	tests/system/app-uses-app.sh \
	tests/system/storm.sh \
	tests/system/client-bounds.sh \
	tests/system/emberctl.sh \
	tests/system/newcomer.sh \
	tests/system/unix-backend-attack.sh \
	tests/system/unix-backend-user.sh \
	tests/system/port-squat.sh \
	tests/system/sigkill.sh \
	tests/system/faults.sh \
	tests/system/heal-kill.sh \
	tests/system/heal-stop.sh \
	tests/system/idle-freeze.sh \
	tests/system/heal-state.sh \
	tests/system/fail-fix.sh \
	tests/system/metrics.sh \
	tests/system/cli.sh \
	tests/system/upgrade.sh \
	tests/system/upgrade-fixed.sh \
	tests/system/multihost.sh \
	tests/system/kernel-relay.sh \
	tests/system/deb.sh
TESTS += $(system_tests)
EXTRA_DIST += $(system_tests) tests/system/lib.sh tests/system/container-lib.sh tests/system/burst.py tests/system/upgrade-load.py

# The container must see the installed layout (compiled-in paths such as $(libexecdir)/ember): stage
# `make install DESTDIR=...` and let lib.sh bind it read-only at $(prefix). Redone on every run.
system_stage = $(abs_top_builddir)/tests/system/stage
tests/system/stage.stamp: $(bin_PROGRAMS) $(pkglibexec_PROGRAMS) system-stage-force
	$(AM_V_GEN)rm -rf '$(system_stage)' && \
	$(MAKE) $(AM_MAKEFLAGS) install DESTDIR='$(system_stage)' >/dev/null && \
	{ echo "prefix='$(prefix)'"; echo "bindir='$(bindir)'"; echo "libexecdir='$(libexecdir)'"; \
	  echo "pkgdatadir='$(pkgdatadir)'"; echo "mandir='$(mandir)'"; } > tests/system/stage.env && \
	touch $@
.PHONY: system-stage-force
system-stage-force:
$(system_tests:.sh=.log): tests/system/stage.stamp

CLEANFILES += tests/system/stage.stamp tests/system/stage.env
clean-local: clean-local-system-stage
.PHONY: clean-local-system-stage
clean-local-system-stage:
	-rm -rf '$(system_stage)'
# the web app of tests/system/app-uses-app.sh and the README's "Apps that use apps"
EXTRA_DIST += examples/web-db/app.py
