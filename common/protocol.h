#pragma once
/* ember's state protocol: the one place that knows the app's states, who moves between them, which file is
 * written under which lock, and how a launcher tells a live state from a stale one. ember-launch, ember-sandbox and
 * emberctl all go through it; doc/ember-state.md (ember-state(7)) draws it.
 *
 *   cold ──supervisor starts──▶ starting ──backend ready──▶ warm ──idle / stop / crash──▶ stopping ──▶ cold
 *     ▲            │                 └──── failed / start timeout / crash ───────────────────────────────┘
 *     └── stale ───┘  a launcher, under the state lock, finds starting/warm/stopping with no supervisor alive
 *
 * Liveness is a lock, never a pid: the supervisor of backend run (generation) G holds a POSIX write lock on byte G
 * of supervisor.lock for its whole life, and the kernel drops it however the supervisor ends. A state other than
 * cold with no such lock held is stale. Generations are numbered by the "generation" file; the refcount file stays
 * the total of live connections over all of them. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

/* A backend that keeps crashing is restarted ever more slowly, from BACKOFF_FIRST_USEC doubling up to BACKOFF_MAX_USEC;
 * emberctl leaves systemd's start timeout room for it. */
#define BACKOFF_FIRST_USEC (250 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (10 * USEC_PER_SEC)

typedef enum app_state {
        APP_COLD,     /* no backend; the next connection wakes one */
        APP_STARTING, /* a supervisor runs and its backend is not ready yet: wake.sock waiters get the byte */
        APP_WARM,     /* the backend accepts: launchers connect to it directly, without the state lock */
        APP_STOPPING, /* the supervisor stops the backend, holding the state lock all along */
        _APP_STATE_MAX,
        _APP_STATE_INVALID = -EINVAL,
} app_state;

const char *app_state_to_string(app_state s);
app_state app_state_from_string(const char *s);

/* The "state" file. A missing one is cold; an unreadable or garbled one is -EBADMSG and the like. */
int app_state_get(int dirfd, app_state *ret);
/* Only the supervisor (and a launcher repairing a stale state) writes it, always under the state lock. */
int app_state_set(int dirfd, app_state s);

/* The supervisor's lifetime lock on byte GENERATION of supervisor.lock, -EBUSY if another process holds it. The
 * fd must stay open for the supervisor's whole life, and the supervisor must never open that file a second time:
 * closing any fd of it would drop a POSIX lock. */
int supervisor_lock_take(int dirfd, uint64_t generation, int *ret_fd);
/* 1 if a supervisor of any generation is alive, with its pid in our pid namespace (0 where not visible); 0 if
 * none is. One open and one fcntl: cheap enough for the warm path. */
int supervisor_find(int dirfd, pid_t *ret_pid);

/* Warm path, without the state lock: the state says warm and its supervisor is alive. */
bool app_is_warm(int dirfd);
/* Under the state lock, for a launcher about to wake the backend: the state, with a stale one (no supervisor alive)
 * reset to cold and logged once as EMBER_EVENT=stale-state. */
int app_state_settle(int dirfd, app_state *ret);

/* Everything `emberctl status` shows, read without the state lock (a value midway through an update is re-read). */
typedef struct app_status {
        app_state state;
        bool stale; /* the state file says it is up, but no supervisor holds its lock */
        bool supervisor_alive;
        pid_t supervisor_pid; /* the lock holder's, 0 if it is in a pid namespace we cannot see */
        bool have_refcount, have_started_at, have_idle_since, have_ready_ms;
        uint64_t refcount, backend_pid, generation, started_at, idle_since, cold_starts, connections, ready_ms;
} app_status;

int app_status_read(int dirfd, app_status *ret);
/* Up: a supervisor is alive and its state is not cold. */
static inline bool app_status_is_up(const app_status *s) {
        return s->state != APP_COLD && !s->stale;
}
