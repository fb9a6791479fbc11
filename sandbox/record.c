/* What each backend run is counted and billed as, for the journal and for emberctl metrics. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "macro.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

#define BACKOFF_FORGET_SEC 300 /* a crash longer ago than this does not slow the next start */

/* The run's CPU time and peak memory so far: the cgroup's, else the ended backend's rusage, else nothing yet. */
static bill run_bill(supervisor *s) {
        bill b = {};

        if (s->cgroup_fd >= 0 && bill_read_cgroup(s->cgroup_fd, &b) >= 0)
                return b;
        if (s->have_rusage)
                bill_from_rusage(&s->rusage, &b);
        return b;
}

/* Every second: the live run's bill, for emberctl metrics. */
void record_bill(supervisor *s) {
        bill b = run_bill(s);

        run_billed(s->dirfd, b.cpu_usec, b.memory_peak_bytes);
}

/* The end of a run, under the lock: counted by how it ended, billed, and logged once with the bill. */
void log_run_end(supervisor *s, const char *event, int prio, const char *why) {
        uint64_t served = 0, run_usec = now_usec(CLOCK_MONOTONIC) - s->started, conns;
        char e[48], sec[48], cn[48], cpu[48], mem[64], disk[64];
        bill b = run_bill(s);

        (void) state_read_u64(s->dirfd, STATE_CONNECTIONS, &served);
        conns = served >= s->connections_at_start ? served - s->connections_at_start : 0;
        run_counted(s->dirfd, event, run_usec, b.cpu_usec, b.memory_peak_bytes);
        snprintf(e, sizeof(e), "EMBER_EVENT=%s", event);
        snprintf(sec, sizeof(sec), "EMBER_RUN_SEC=%" PRIu64, run_usec / USEC_PER_SEC);
        snprintf(cn, sizeof(cn), "EMBER_CONNECTIONS=%" PRIu64, conns);
        snprintf(cpu, sizeof(cpu), "EMBER_CPU_USEC=%" PRIu64, b.cpu_usec);
        snprintf(mem, sizeof(mem), "EMBER_MEMORY_PEAK_BYTES=%" PRIu64, b.memory_peak_bytes);
        /* a run that ends checkpointed leaves the disk its checkpoint takes until the next start: billed too */
        snprintf(disk, sizeof(disk), "EMBER_CHECKPOINT_BYTES=%" PRIu64, s->checkpoint_bytes);
        if (prio <= LOG_ERR)
                record_failure(s, event, why);
        log_event(prio, FIELDS(e, sec, cn, cpu, mem, s->checkpoint_bytes > 0 ? disk : NULL),
                  "Backend %s after %" PRIu64 " s and %" PRIu64 " connections (CPU %" PRIu64 " ms, peak memory %" PRIu64
                  " KiB): %s", event, run_usec / USEC_PER_SEC, conns, b.cpu_usec / 1000, b.memory_peak_bytes / 1024, why);
}


/* One line a person can read, and emberctl parses: when the run failed and when it began (epoch microseconds: the
 * backend's output of that run is what its unit wrote to the journal in between), the event and why. */
void record_failure(supervisor *s, const char *event, const char *why) {
        uint64_t now_real = now_usec(CLOCK_REALTIME), now_mono = now_usec(CLOCK_MONOTONIC);
        uint64_t ran = s->started > 0 && now_mono > s->started ? now_mono - s->started : 0;
        last_failure f = { .at_usec = now_real, .started_usec = now_real > ran ? now_real - ran : 0 };

        snprintf(f.event, sizeof(f.event), "%s", event);
        snprintf(f.reason, sizeof(f.reason), "%s", why);
        last_failure_write(s->dirfd, &f);
}

/* A backend that keeps crashing is restarted ever more slowly (250 ms, 500 ms, … 10 s) instead of in a tight
 * loop; the socket stays up and the first start after a fix is served. Waiting clients keep their timeout. */
void crash_backoff(int dirfd) {
        uint64_t crashes = 0, last = 0, delay;

        uint64_t now_sec = (uint64_t) time(NULL);

        /* A last crash "in the future" is a wall clock stepped back since: no reason to wait. */
        if (state_read_u64(dirfd, STATE_CRASHES, &crashes) < 0 || crashes == 0 ||
            state_read_u64(dirfd, STATE_LAST_CRASH, &last) < 0 || last > now_sec || now_sec - last > BACKOFF_FORGET_SEC)
                return;
        delay = crashes > 8 ? BACKOFF_MAX_USEC : BACKOFF_FIRST_USEC << (crashes - 1);
        if (delay > BACKOFF_MAX_USEC)
                delay = BACKOFF_MAX_USEC;
        log_info("Backend crashed %" PRIu64 " times in a row, waiting %" PRIu64 " ms before starting it again", crashes,
                 delay / USEC_PER_MSEC);
        (void) poll(NULL, 0, (int) (delay / USEC_PER_MSEC));
}
