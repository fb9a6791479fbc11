/* The supervisor's and emberctl's transitions of the state protocol (protocol.h, ember-state(7)): each function is
 * the whole set of files one step writes, so that no program spells a state file itself. Apart from protocol.c,
 * which has the launcher's, so that the per-connection launcher does not carry these. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "protocol.h"
#include "state.h"

/* The cold-start and restore histograms' buckets, upper bounds in ms (ember_cold_start_seconds and
 * ember_restore_seconds in emberctl metrics). */
static const char *const cold_start_buckets[] = { "1", "2.5", "5", "10", "25", "50", "100", "250", "500", "1000",
                                                  "2500", "5000", "10000", "30000", "60000" };

void run_begins(int dirfd, bool reset_memory_peak) {
        (void) state_add_u64(dirfd, STATE_COLD_STARTS, 1, NULL);
        (void) state_write_u64(dirfd, STATE_SUPERVISOR_PID, (uint64_t) getpid());
        (void) state_write_u64(dirfd, STATE_STARTED_AT, (uint64_t) time(NULL));
        (void) state_write_u64(dirfd, STATE_RUN_CPU_USEC, 0);
        if (reset_memory_peak)
                (void) state_write_u64(dirfd, STATE_MEMORY_PEAK, 0);
}

void run_taken_over(int dirfd, pid_t backend) {
        (void) state_write_u64(dirfd, STATE_SUPERVISOR_PID, (uint64_t) getpid());
        if (backend > 0)
                (void) state_write_u64(dirfd, STATE_BACKEND_PID, (uint64_t) backend);
        (void) state_write_u64(dirfd, STATE_STARTED_AT, (uint64_t) time(NULL));
}

void run_backend_started(int dirfd, pid_t backend) {
        (void) state_write_u64(dirfd, STATE_BACKEND_PID, (uint64_t) backend);
}

static void histogram_add(int dirfd, const char *name, uint64_t ms) {
        const char *bucket = "+Inf";

        for (size_t i = 0; i < ELEMENTSOF(cold_start_buckets); i++)
                if ((double) ms <= strtod(cold_start_buckets[i], NULL)) {
                        bucket = cold_start_buckets[i];
                        break;
                }
        (void) state_kv_add(dirfd, name, bucket, 1);
        (void) state_kv_add(dirfd, name, "sum", ms);
}

void run_ready(int dirfd, uint64_t ms, bool restored) {
        (void) state_write_u64(dirfd, STATE_READY_MS, ms);
        /* apart: a restore's time is not a cold start's, and would hide how long the real ones take */
        if (restored) {
                (void) state_add_u64(dirfd, STATE_RESTORES, 1, NULL);
                histogram_add(dirfd, STATE_RESTORE_HIST, ms);
        } else
                histogram_add(dirfd, STATE_COLD_START_HIST, ms);
        /* a run that became ready ends the crash loop, and what emberctl says of the last failure */
        (void) state_write_u64(dirfd, STATE_CRASHES, 0);
        (void) unlinkat(dirfd, STATE_LAST_FAILURE, 0);
}

void run_ended(int dirfd, bool owns_wake) {
        (void) unlinkat(dirfd, STATE_BACKEND_PID, 0);
        (void) unlinkat(dirfd, STATE_SUPERVISOR_PID, 0);
        if (owns_wake)
                (void) unlinkat(dirfd, STATE_WAKE_SOCK, 0);
}

void run_billed(int dirfd, uint64_t cpu_usec, uint64_t memory_peak_bytes) {
        (void) state_write_u64(dirfd, STATE_RUN_CPU_USEC, cpu_usec);
        (void) state_write_u64(dirfd, STATE_MEMORY_PEAK, memory_peak_bytes);
}

void run_counted(int dirfd, const char *event, uint64_t run_usec, uint64_t cpu_usec, uint64_t memory_peak_bytes) {
        (void) state_kv_add(dirfd, STATE_ENDS, event, 1);
        (void) state_add_u64(dirfd, STATE_RUN_USEC_TOTAL, (int64_t) run_usec, NULL);
        (void) state_add_u64(dirfd, STATE_CPU_USEC_TOTAL, (int64_t) cpu_usec, NULL);
        run_billed(dirfd, cpu_usec, memory_peak_bytes);
}

void run_crashed(int dirfd) {
        (void) state_add_u64(dirfd, STATE_CRASHES, 1, NULL);
        (void) state_write_u64(dirfd, STATE_LAST_CRASH, (uint64_t) time(NULL));
}

/* "AT STARTED EVENT WHY": one line a person can read, and last_failure_read() parses. */
void last_failure_write(int dirfd, const last_failure *f) {
        char line[STATE_KV_MAX];

        snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 " %s %s", f->at_usec, f->started_usec, f->event, f->reason);
        (void) state_kv_write(dirfd, STATE_LAST_FAILURE, line);
}

int last_failure_read(int dirfd, last_failure *f) {
        char line[STATE_KV_MAX];
        int n = 0, r;

        *f = (last_failure){};
        r = state_kv_read(dirfd, STATE_LAST_FAILURE, line, sizeof(line));
        if (r < 0)
                return r;
        if (!line[0])
                return -ENOENT;
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %47s %n", &f->at_usec, &f->started_usec, f->event, &n) < 3 || n == 0)
                return -EBADMSG;
        snprintf(f->reason, sizeof(f->reason), "%s", line + n);
        return 0;
}

int generation_number_write(int dirfd, uint64_t generation) {
        return state_write_u64(dirfd, STATE_GENERATION, generation);
}

int upgrade_request_write(int dirfd, bool have_drain, uint64_t drain_usec) {
        char kv[48];

        (void) unlinkat(dirfd, STATE_UPGRADE_RESULT, 0);
        if (!have_drain) {
                (void) unlinkat(dirfd, STATE_UPGRADE_REQUEST, 0);
                return 0;
        }
        snprintf(kv, sizeof(kv), "drain_usec=%" PRIu64, drain_usec);
        return state_kv_write(dirfd, STATE_UPGRADE_REQUEST, kv);
}

int upgrade_request_take(int dirfd, uint64_t *ret_drain_usec) {
        char kv[STATE_KV_MAX + 1];
        int r = state_kv_read(dirfd, STATE_UPGRADE_REQUEST, kv, sizeof(kv));

        if (r >= 0)
                r = kv_get_u64(kv, "drain_usec", ret_drain_usec);
        (void) unlinkat(dirfd, STATE_UPGRADE_REQUEST, 0);
        return r < 0 ? r : 1;
}

void upgrade_result_write(int dirfd, const char *result) {
        (void) state_kv_write(dirfd, STATE_UPGRADE_RESULT, result);
}

void generation_file_write(int dirfd, uint64_t generation, uint16_t port, pid_t backend) {
        char name[48], line[160];

        snprintf(name, sizeof(name), STATE_GEN_PREFIX "%" PRIu64, generation);
        snprintf(line, sizeof(line), "port=%u backend_pid=%d supervisor_pid=%d", port, (int) backend, (int) getpid());
        (void) state_kv_write(dirfd, name, line);
}

void generation_file_remove(int dirfd, uint64_t generation) {
        char name[48];

        snprintf(name, sizeof(name), STATE_GEN_PREFIX "%" PRIu64, generation);
        (void) unlinkat(dirfd, name, 0);
}

void upgrade_under_way_write(int dirfd, uint64_t generation, uint64_t drain_usec) {
        char kv[96];

        snprintf(kv, sizeof(kv), "generation=%" PRIu64 " drain_usec=%" PRIu64, generation, drain_usec);
        (void) state_kv_write(dirfd, STATE_UPGRADE, kv);
}

int upgrade_under_way_drain(int dirfd, uint64_t serving_generation, uint64_t *ret_drain_usec) {
        char kv[STATE_KV_MAX + 1];
        uint64_t g = 0;
        int r = state_kv_read(dirfd, STATE_UPGRADE, kv, sizeof(kv));

        if (r < 0)
                return r;
        if (kv_get_u64(kv, "generation", &g) < 0 || g != serving_generation)
                return 0;
        return kv_get_u64(kv, "drain_usec", ret_drain_usec) < 0 ? 0 : 1;
}
