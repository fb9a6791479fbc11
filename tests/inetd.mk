# inetd layer: shell TAP scripts driving ember-launch under systemd-socket-activate --accept --inetd (no PID 1),
# each one behaviour, named for it. They need bash, systemd-socket-activate, pgrep (procps), socat and curl.
# The test tools are check programs; the other layers may use them too.
check_PROGRAMS += \
	tests/tools/ember-test-backend \
	tests/tools/ember-test-client \
	tests/tools/ember-test-sockets \
	tests/tools/ember-test-sockmap

tests_tools_ember_test_backend_SOURCES = tests/tools/ember-test-backend.c tests/tools/io.h
tests_tools_ember_test_backend_LDADD = common/libember.a
tests_tools_ember_test_client_SOURCES = tests/tools/ember-test-client.c tests/tools/io.h
tests_tools_ember_test_client_LDADD = common/libember.a
tests_tools_ember_test_sockets_SOURCES = tests/tools/ember-test-sockets.c
tests_tools_ember_test_sockets_LDADD = common/libember.a
tests_tools_ember_test_sockmap_SOURCES = tests/tools/ember-test-sockmap.c

inetd_tests = \
	tests/inetd/cleanup-own.sh \
	tests/inetd/cold-start.sh \
	tests/inetd/upgrade.sh \
	tests/inetd/upgrade-fixed.sh \
	tests/inetd/proxy-protocol.sh \
	tests/inetd/proxy-header-bound.sh \
	tests/inetd/proxy-header-flood.sh \
	tests/inetd/warm-reuse.sh \
	tests/inetd/heal.sh \
	tests/inetd/infinity.sh \
	tests/inetd/stop-window.sh \
	tests/inetd/clock-step.sh \
	tests/inetd/lock-held.sh \
	tests/inetd/refcount.sh \
	tests/inetd/concurrent-cold.sh \
	tests/inetd/bulk-64mib.sh \
	tests/inetd/load.sh \
	tests/inetd/load-bulk.sh \
	tests/inetd/half-close.sh \
	tests/inetd/nodelay.sh \
	tests/inetd/idle-stop.sh \
	tests/inetd/idle-freeze.sh \
	tests/inetd/checkpoint-fallback.sh \
	tests/inetd/idle-deadline.sh \
	tests/inetd/stop-race.sh \
	tests/inetd/sigkill-heal.sh \
	tests/inetd/sigkill-random.sh \
	tests/inetd/backend-crash.sh \
	tests/inetd/backend-leftovers.sh \
	tests/inetd/never-ready.sh \
	tests/inetd/start-on-data.sh \
	tests/inetd/first-byte-bound.sh \
	tests/inetd/unix-backend.sh \
	tests/inetd/answer-close.sh \
	tests/inetd/answer-close-tcp.sh \
	tests/inetd/answer-unread.sh \
	tests/inetd/answer-unread-tcp.sh \
	tests/inetd/unix-symlink-attack.sh \
	tests/inetd/unix-owner.sh \
	tests/inetd/ready-notify.sh \
	tests/inetd/backend-fail-start.sh \
	tests/inetd/stop-timeout.sh \
	tests/inetd/idle-timeout.sh \
	tests/inetd/bad-args-launch.sh \
	tests/inetd/bad-args-sandbox.sh \
	tests/inetd/kernel-relay-not-built.sh \
	tests/inetd/kernel-relay.sh \
	tests/inetd/kernel-half-close.sh \
	tests/inetd/kernel-backend-crash.sh \
	tests/inetd/kernel-sigkill-heal.sh \
	tests/inetd/kernel-idle-timeout.sh \
	tests/inetd/kernel-bulk-64mib.sh \
	tests/inetd/kernel-backpressure.sh \
	tests/inetd/kernel-reset.sh \
	tests/inetd/kernel-lru.sh \
	tests/inetd/kernel-download.sh \
	tests/inetd/kernel-detached-close.sh \
	tests/inetd/kernel-load-bulk.sh

# A container as the backend (rootful podman, a private dockerd): inetd tests too, but not `make check-fast`'s.
inetd_container_tests = tests/inetd/podman.sh tests/inetd/docker.sh

TESTS += $(inetd_tests) $(inetd_container_tests)
EXTRA_DIST += $(inetd_tests) $(inetd_container_tests) tests/inetd/lib.sh tests/inetd/container-lib.sh tests/tools/answer-backend.py
