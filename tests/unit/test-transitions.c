/* Specification of the state protocol's transitions (common/protocol.c, the launcher's; common/run-state.c, the
 * supervisor's and emberctl's): each is one function, and these are the files each writes, in a private
 * EMBER_RUNTIME_DIR. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol.h"
#include "state.h"
#include "tap.h"

static int dirfd_ = -1;

static uint64_t u64(const char *name) {
        uint64_t v = UINT64_MAX;
        (void) state_read_u64(dirfd_, name, &v);
        return v;
}

static bool exists(const char *name) {
        return faccessat(dirfd_, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_connections(void) {
        int lease = -1;

        if (lease_take(dirfd_, &lease) < 0)
                bail_out("cannot take a lease");
        is_int(connection_counted(dirfd_), 0, "a connection is counted");
        is_int((long long) u64(STATE_REFCOUNT), 1, "refcount 1");
        is_int((long long) u64(STATE_CONNECTIONS), 1, "connections 1");
        (void) unlinkat(dirfd_, STATE_IDLE_SINCE, 0);
        is_int(connection_uncounted(dirfd_), 0, "and uncounted");
        is_int((long long) u64(STATE_REFCOUNT), 0, "refcount 0");
        is_int((long long) u64(STATE_CONNECTIONS), 1, "connections stays the total");
        ok(exists(STATE_IDLE_SINCE), "the last one out starts the idle clock (idle-since)");
        is_int(connection_uncounted(dirfd_), 0, "one more leave than joins");
        is_int((long long) u64(STATE_REFCOUNT), 0, "does not wrap the refcount");
        is_int(state_write(dirfd_, STATE_REFCOUNT, "garbage"), 0, "a garbled refcount");
        is_int(connection_counted(dirfd_), 0, "is not trusted by the next join");
        is_int((long long) u64(STATE_REFCOUNT), 1, "which recounts the live leases (this test's one)");
        close(lease);
}

static void test_run(void) {
        last_failure f = { .at_usec = 2000000, .started_usec = 1000000 }, g;

        (void) state_write_u64(dirfd_, STATE_COLD_STARTS, 4);
        (void) state_write_u64(dirfd_, STATE_MEMORY_PEAK, 99);
        run_begins(dirfd_, false);
        is_int((long long) u64(STATE_COLD_STARTS), 5, "a run begins: cold-starts +1");
        is_int((long long) u64(STATE_SUPERVISOR_PID), getpid(), "supervisor.pid is ours");
        ok(u64(STATE_STARTED_AT) != UINT64_MAX, "started-at written");
        is_int((long long) u64(STATE_RUN_CPU_USEC), 0, "the run's CPU from zero");
        is_int((long long) u64(STATE_MEMORY_PEAK), 99, "the last peak kept where no cgroup will say the new one");
        run_begins(dirfd_, true);
        is_int((long long) u64(STATE_MEMORY_PEAK), 0, "and from zero where one will");

        run_backend_started(dirfd_, 4242);
        is_int((long long) u64(STATE_BACKEND_PID), 4242, "the backend started: backend.pid");

        run_crashed(dirfd_);
        run_crashed(dirfd_);
        is_int((long long) u64(STATE_CRASHES), 2, "two crashes counted");
        ok(u64(STATE_LAST_CRASH) != UINT64_MAX, "with when");
        snprintf(f.event, sizeof(f.event), "crash");
        snprintf(f.reason, sizeof(f.reason), "exited with status 1");
        last_failure_write(dirfd_, &f);
        is_int(last_failure_read(dirfd_, &g), 0, "a failure written reads back");
        ok(g.at_usec == f.at_usec && g.started_usec == f.started_usec, "its times");
        is_str(g.event, "crash", "its event");
        is_str(g.reason, "exited with status 1", "its reason, spaces and all");

        run_ready(dirfd_, 7, false);
        is_int((long long) u64(STATE_READY_MS), 7, "ready: ready-ms");
        is_int((long long) u64(STATE_CRASHES), 0, "the crash loop is over");
        is_int(last_failure_read(dirfd_, &g), -ENOENT, "and so is the last failure");
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0;
                ok(state_kv_read(dirfd_, STATE_COLD_START_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "10", &n) >= 0 &&
                   n == 1, "7 ms counted in the histogram's 10 ms bucket");
        }
        ok(!exists(STATE_RESTORES), "a cold start counts no restore");
        run_ready(dirfd_, 1200, true);
        is_int((long long) u64(STATE_READY_MS), 1200, "ready from a checkpoint: ready-ms");
        is_int((long long) u64(STATE_RESTORES), 1, "one restore counted");
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0, sum = 0;
                ok(state_kv_read(dirfd_, STATE_RESTORE_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "2500", &n) >= 0 &&
                   n == 1 && kv_get_u64(kv, "sum", &sum) >= 0 && sum == 1200,
                   "1200 ms counted in the restore histogram's 2500 ms bucket, and its sum");
                ok(state_kv_read(dirfd_, STATE_COLD_START_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "2500", &n) < 0 &&
                   kv_get_u64(kv, "sum", &sum) >= 0 && sum == 7, "and not in the cold-start histogram");
        }

        run_billed(dirfd_, 1500, 2048);
        is_int((long long) u64(STATE_RUN_CPU_USEC), 1500, "billed: the run's CPU");
        is_int((long long) u64(STATE_MEMORY_PEAK), 2048, "and its peak");
        run_counted(dirfd_, "idle-stop", 3000000, 2500, 4096);
        run_counted(dirfd_, "idle-stop", 1000000, 500, 1024);
        is_int((long long) u64(STATE_RUN_USEC_TOTAL), 4000000, "two runs' time added up");
        is_int((long long) u64(STATE_CPU_USEC_TOTAL), 3000, "and their CPU");
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0;
                ok(state_kv_read(dirfd_, STATE_ENDS, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "idle-stop", &n) >= 0 &&
                   n == 2, "counted by how they ended");
        }

        run_taken_over(dirfd_, 0);
        is_int((long long) u64(STATE_BACKEND_PID), 4242, "a take-over before the backend runs keeps backend.pid");
        run_taken_over(dirfd_, 4343);
        is_int((long long) u64(STATE_BACKEND_PID), 4343, "and writes the new one once it runs");

        (void) state_write(dirfd_, STATE_WAKE_SOCK, "");
        run_ended(dirfd_, false);
        ok(!exists(STATE_BACKEND_PID) && !exists(STATE_SUPERVISOR_PID), "ended: no backend or supervisor pid");
        ok(exists(STATE_WAKE_SOCK), "wake.sock stays with the socket unit's");
        run_ended(dirfd_, true);
        ok(!exists(STATE_WAKE_SOCK), "and goes where the supervisor made it");
}

static void test_generations_and_upgrades(void) {
        char kv[STATE_KV_MAX + 1], name[48];
        uint64_t v = 0;

        is_int(generation_number_write(dirfd_, 3), 0, "the generation counter");
        is_int((long long) u64(STATE_GENERATION), 3, "reads 3");
        generation_file_write(dirfd_, 3, 8080, 777);
        snprintf(name, sizeof(name), STATE_GEN_PREFIX "3");
        ok(state_kv_read(dirfd_, name, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "port", &v) >= 0 && v == 8080,
           "gen-3 names its port");
        ok(kv_get_u64(kv, "backend_pid", &v) >= 0 && v == 777, "and its backend");
        generation_file_remove(dirfd_, 3);
        ok(!exists(name), "and is gone when it is forgotten");

        (void) state_write(dirfd_, STATE_UPGRADE_RESULT, "ready: old");
        is_int(upgrade_request_write(dirfd_, true, 5000000), 0, "an upgrade asks for a drain timeout");
        ok(!exists(STATE_UPGRADE_RESULT), "and clears the last result");
        is_int(upgrade_request_take(dirfd_, &v), 1, "the new generation takes the request");
        is_int((long long) v, 5000000, "with its drain timeout");
        ok(!exists(STATE_UPGRADE_REQUEST), "which is gone after");
        is_int(upgrade_request_write(dirfd_, false, 0), 0, "an upgrade without one");
        ok(upgrade_request_take(dirfd_, &v) <= 0, "leaves nothing to take");

        upgrade_under_way_write(dirfd_, 4, 2000000);
        is_int(upgrade_under_way_drain(dirfd_, 4, &v), 1, "the generation replaced by 4 drains for what 4 says");
        is_int((long long) v, 2000000, "2 s");
        is_int(upgrade_under_way_drain(dirfd_, 5, &v), 0, "an upgrade that is not the one serving says nothing");

        upgrade_result_write(dirfd_, "failed: because");
        ok(state_kv_read(dirfd_, STATE_UPGRADE_RESULT, kv, sizeof(kv)) >= 0 && strcmp(kv, "failed: because") == 0,
           "the upgrade's result, one line");
}

int main(void) {
        char tmpl[] = "/tmp/ember-test-transitions.XXXXXX";
        char path[PATH_MAX + 32];
        int rc;

        if (!mkdtemp(tmpl))
                bail_out("mkdtemp failed");
        snprintf(path, sizeof(path), "%s/run", tmpl);
        setenv("EMBER_RUNTIME_DIR", path, 1);
        if (state_open("t", true, &dirfd_) < 0)
                bail_out("cannot open the state directory");

        test_connections();
        test_run();
        test_generations_and_upgrades();

        close(dirfd_);
        rc = done();
        snprintf(path, sizeof(path), "rm -rf '%s'", tmpl);
        if (system(path) != 0)
                diag("could not remove %s", tmpl);
        return rc;
}
