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
        is_int("a connection is counted", connection_counted(dirfd_), 0);
        is_int("refcount 1", (long long) u64(STATE_REFCOUNT), 1);
        is_int("connections 1", (long long) u64(STATE_CONNECTIONS), 1);
        (void) unlinkat(dirfd_, STATE_IDLE_SINCE, 0);
        is_int("and uncounted", connection_uncounted(dirfd_), 0);
        is_int("refcount 0", (long long) u64(STATE_REFCOUNT), 0);
        is_int("connections stays the total", (long long) u64(STATE_CONNECTIONS), 1);
        ok("the last one out starts the idle clock (idle-since)", exists(STATE_IDLE_SINCE));
        is_int("one more leave than joins", connection_uncounted(dirfd_), 0);
        is_int("does not wrap the refcount", (long long) u64(STATE_REFCOUNT), 0);
        is_int("a garbled refcount", state_write(dirfd_, STATE_REFCOUNT, "garbage"), 0);
        is_int("is not trusted by the next join", connection_counted(dirfd_), 0);
        is_int("which recounts the live leases (this test's one)", (long long) u64(STATE_REFCOUNT), 1);
        close(lease);
}

static void test_run(void) {
        last_failure f = { .at_usec = 2000000, .started_usec = 1000000 }, g;

        (void) state_write_u64(dirfd_, STATE_COLD_STARTS, 4);
        (void) state_write_u64(dirfd_, STATE_MEMORY_PEAK, 99);
        run_begins(dirfd_, false);
        is_int("a run begins: cold-starts +1", (long long) u64(STATE_COLD_STARTS), 5);
        is_int("supervisor.pid is ours", (long long) u64(STATE_SUPERVISOR_PID), getpid());
        ok("started-at written", u64(STATE_STARTED_AT) != UINT64_MAX);
        is_int("the run's CPU from zero", (long long) u64(STATE_RUN_CPU_USEC), 0);
        is_int("the last peak kept where no cgroup will say the new one", (long long) u64(STATE_MEMORY_PEAK), 99);
        run_begins(dirfd_, true);
        is_int("and from zero where one will", (long long) u64(STATE_MEMORY_PEAK), 0);

        run_backend_started(dirfd_, 4242);
        is_int("the backend started: backend.pid", (long long) u64(STATE_BACKEND_PID), 4242);

        run_crashed(dirfd_);
        run_crashed(dirfd_);
        is_int("two crashes counted", (long long) u64(STATE_CRASHES), 2);
        ok("with when", u64(STATE_LAST_CRASH) != UINT64_MAX);
        snprintf(f.event, sizeof(f.event), "crash");
        snprintf(f.reason, sizeof(f.reason), "exited with status 1");
        last_failure_write(dirfd_, &f);
        is_int("a failure written reads back", last_failure_read(dirfd_, &g), 0);
        ok("its times", g.at_usec == f.at_usec && g.started_usec == f.started_usec);
        is_str("its event", g.event, "crash");
        is_str("its reason, spaces and all", g.reason, "exited with status 1");

        run_ready(dirfd_, 7, false);
        is_int("ready: ready-ms", (long long) u64(STATE_READY_MS), 7);
        is_int("the crash loop is over", (long long) u64(STATE_CRASHES), 0);
        is_int("and so is the last failure", last_failure_read(dirfd_, &g), -ENOENT);
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0;
                ok("7 ms counted in the histogram's 10 ms bucket",
                   state_kv_read(dirfd_, STATE_COLD_START_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "10", &n) >= 0 &&
                   n == 1);
        }
        ok("a cold start counts no restore", !exists(STATE_RESTORES));
        run_ready(dirfd_, 1200, true);
        is_int("ready from a checkpoint: ready-ms", (long long) u64(STATE_READY_MS), 1200);
        is_int("one restore counted", (long long) u64(STATE_RESTORES), 1);
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0, sum = 0;
                ok("1200 ms counted in the restore histogram's 2500 ms bucket, and its sum",
                   state_kv_read(dirfd_, STATE_RESTORE_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "2500", &n) >= 0 &&
                   n == 1 && kv_get_u64(kv, "sum", &sum) >= 0 && sum == 1200);
                ok("and not in the cold-start histogram",
                   state_kv_read(dirfd_, STATE_COLD_START_HIST, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "2500", &n) < 0 &&
                   kv_get_u64(kv, "sum", &sum) >= 0 && sum == 7);
        }

        run_billed(dirfd_, 1500, 2048);
        is_int("billed: the run's CPU", (long long) u64(STATE_RUN_CPU_USEC), 1500);
        is_int("and its peak", (long long) u64(STATE_MEMORY_PEAK), 2048);
        run_counted(dirfd_, "idle-stop", 3000000, 2500, 4096);
        run_counted(dirfd_, "idle-stop", 1000000, 500, 1024);
        is_int("two runs' time added up", (long long) u64(STATE_RUN_USEC_TOTAL), 4000000);
        is_int("and their CPU", (long long) u64(STATE_CPU_USEC_TOTAL), 3000);
        {
                char kv[STATE_KV_MAX + 1];
                uint64_t n = 0;
                ok("counted by how they ended",
                   state_kv_read(dirfd_, STATE_ENDS, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "idle-stop", &n) >= 0 &&
                   n == 2);
        }

        run_taken_over(dirfd_, 0);
        is_int("a take-over before the backend runs keeps backend.pid", (long long) u64(STATE_BACKEND_PID), 4242);
        run_taken_over(dirfd_, 4343);
        is_int("and writes the new one once it runs", (long long) u64(STATE_BACKEND_PID), 4343);

        (void) state_write(dirfd_, STATE_WAKE_SOCK, "");
        run_ended(dirfd_, false);
        ok("ended: no backend or supervisor pid", !exists(STATE_BACKEND_PID) && !exists(STATE_SUPERVISOR_PID));
        ok("wake.sock stays with the socket unit's", exists(STATE_WAKE_SOCK));
        run_ended(dirfd_, true);
        ok("and goes where the supervisor made it", !exists(STATE_WAKE_SOCK));
}

static void test_generations_and_upgrades(void) {
        char kv[STATE_KV_MAX + 1], name[48];
        uint64_t v = 0;

        is_int("the generation counter", generation_number_write(dirfd_, 3), 0);
        is_int("reads 3", (long long) u64(STATE_GENERATION), 3);
        generation_file_write(dirfd_, 3, 8080, 777);
        snprintf(name, sizeof(name), STATE_GEN_PREFIX "3");
        ok("gen-3 names its port",
           state_kv_read(dirfd_, name, kv, sizeof(kv)) >= 0 && kv_get_u64(kv, "port", &v) >= 0 && v == 8080);
        ok("and its backend", kv_get_u64(kv, "backend_pid", &v) >= 0 && v == 777);
        generation_file_remove(dirfd_, 3);
        ok("and is gone when it is forgotten", !exists(name));

        (void) state_write(dirfd_, STATE_UPGRADE_RESULT, "ready: old");
        is_int("an upgrade asks for a drain timeout", upgrade_request_write(dirfd_, true, 5000000), 0);
        ok("and clears the last result", !exists(STATE_UPGRADE_RESULT));
        is_int("the new generation takes the request", upgrade_request_take(dirfd_, &v), 1);
        is_int("with its drain timeout", (long long) v, 5000000);
        ok("which is gone after", !exists(STATE_UPGRADE_REQUEST));
        is_int("an upgrade without one", upgrade_request_write(dirfd_, false, 0), 0);
        ok("leaves nothing to take", upgrade_request_take(dirfd_, &v) <= 0);

        upgrade_under_way_write(dirfd_, 4, 2000000);
        is_int("the generation replaced by 4 drains for what 4 says", upgrade_under_way_drain(dirfd_, 4, &v), 1);
        is_int("2 s", (long long) v, 2000000);
        is_int("an upgrade that is not the one serving says nothing", upgrade_under_way_drain(dirfd_, 5, &v), 0);

        upgrade_result_write(dirfd_, "failed: because");
        ok("the upgrade's result, one line",
           state_kv_read(dirfd_, STATE_UPGRADE_RESULT, kv, sizeof(kv)) >= 0 && strcmp(kv, "failed: because") == 0);
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
