#pragma once
/* ember's state protocol: the one place that knows the app's states, who moves between them, which file is
 * written under which lock, and how a launcher tells a live state from a stale one. ember-launch, ember-sandbox and
 * emberctl all go through it; doc/ember-state.md (ember-state(7)) draws it.
 *
 *   cold ──supervisor starts──▶ starting ──backend ready──▶ warm ──idle / stop / crash──▶ stopping ──▶ cold
 *     ▲            │                 └──── failed / start timeout / crash ───────────────────────────────┘
 *     └── stale ───┘  a launcher, under the state lock, finds starting/warm/stopping with no supervisor alive
 *   warm ──idle, --idle-action=freeze──▶ frozen ──a launcher on wake.sock──▶ warm (thawed: no cold start)
 *                                          └──── --freeze-for, stop, crash ──▶ stopping ──▶ cold
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
        APP_FROZEN,   /* --idle-action=freeze: the idle backend's processes are frozen, its memory kept; a launcher
                       * wakes it through wake.sock as from cold, and the supervisor thaws it and answers at once */
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
/* After closing that fd (which drops the lock): ask through a fresh fd from now on. */
void supervisor_lock_forget(void);
/* 1 if a supervisor of any generation is alive, with its pid in our pid namespace (0 where not visible); 0 if
 * none is. One open and one fcntl: cheap enough for the warm path. */
int supervisor_find(int dirfd, pid_t *ret_pid);

/* The generation new connections go to (STATE_SERVING), and its backend's address: AF_UNSPEC ("G -" in the file)
 * until that generation's backend is ready on a listener of its own. -ENOENT before the first run of a supervisor
 * that writes it. */
typedef struct serving {
        uint64_t generation;
        ember_addr address;
} serving;

int serving_read(int dirfd, serving *ret);
/* Only the serving generation's supervisor writes it, under the state lock; ADDRESS NULL while it starts. */
int serving_write(int dirfd, uint64_t generation, const ember_addr *address);

/* 1 if the supervisor of GENERATION is alive (its pid into ret_pid), 0 if not. */
int supervisor_find_generation(int dirfd, uint64_t generation, pid_t *ret_pid);
/* Sends SIG to the supervisor of GENERATION, named by the kernel as its lock's holder, through a pidfd: the lock is
 * asked again once the pidfd pins the process, so a pid reused in between cannot be hit. 0 if sent, -ESRCH if it is
 * gone. */
int supervisor_signal_generation(int dirfd, uint64_t generation, int sig);
/* The live supervisors other than the caller: up to N generations and pids; returns how many were found. */
int supervisors_list(int dirfd, uint64_t *generations, pid_t *pids, size_t n);

/* A connection to generation G's backend holds a lease in G's region of STATE_GEN_LEASES for as long as it lives:
 * the supervisor of a generation that no longer serves stops its backend once none is left. */
int generation_lease_take(int dirfd, uint64_t generation, int *ret_fd);
int generation_lease_count(int dirfd, uint64_t generation, uint64_t *ret);
/* Warm path, without the state lock: which generation serves and where. Takes a lease on it and checks it still
 * serves after that (a supervisor that stopped serving counts leases only after the switch, so one of the two
 * sees the other). -ENOENT if no serving file exists (a supervisor of an older ember). */
int serving_enter(int dirfd, serving *ret, int *ret_lease);

/* The supervisor the app's state belongs to: the serving generation's if one is named, else any. 1 if alive (its
 * pid into ret_pid), 0 if not. */
int app_supervisor_find(int dirfd, pid_t *ret_pid);

/* An upgrade lets the generation it replaces drain its connections for --drain-timeout, by default: */
#define UPGRADE_DRAIN_DEFAULT_USEC (5 * 60 * USEC_PER_SEC)
/* A fixed-address backend (not HOST:auto) cannot run twice: the new one starts once the old generation is gone, and
 * new connections wait for it as on a cold start, bounded by their start timeout. So the old one drains for at most
 * half of that, which leaves the new backend the other half to start. */
static inline uint64_t upgrade_drain_bound(bool fixed_address, uint64_t drain_usec, uint64_t start_timeout_usec) {
        return fixed_address && drain_usec > start_timeout_usec / 2 ? start_timeout_usec / 2 : drain_usec;
}

/* A generation's part while an upgrade runs two or more at once. */
typedef enum generation_role {
        ROLE_SERVING,  /* new connections come to it: starting, warm, stopping are its to write */
        ROLE_PENDING,  /* an upgrade's new generation, not ready yet: takes no connection, writes no state */
        ROLE_DRAINING, /* replaced by an upgrade: keeps its connections until they close or the drain timeout */
        _ROLE_MAX,
} generation_role;

/* As emberctl status shows it: "serving", "starting" (pending), "draining". */
const char *generation_role_to_string(generation_role r);

/* A live generation, as emberctl status shows it. */
typedef struct generation_info {
        uint64_t generation;
        pid_t supervisor_pid;
        uint64_t backend_pid;
        uint16_t port;
        uint64_t connections; /* to its backend, now; UINT64_MAX if we may not read the leases */
        generation_role role; /* newer than the serving one: pending; older: draining */
} generation_info;

/* The live generations, newest first, up to N; returns how many. */
int generations_read(int dirfd, generation_info *out, size_t n);

/* Warm path, without the state lock: the state says warm and the supervisor it belongs to is alive. */
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

/* What the supervisor does with a backend that has been idle for --idle (ember-sandbox and emberctl new spell it
 * --idle-action=stop|freeze|checkpoint). */
typedef enum idle_action {
        IDLE_ACTION_STOP,       /* stop it: nothing runs, the next connection cold-starts a new one */
        IDLE_ACTION_FREEZE,     /* freeze it (cgroup v2 cgroup.freeze, else SIGSTOP): memory kept, no CPU */
        IDLE_ACTION_CHECKPOINT, /* dump it with criu, then stop it; the next connection restores it */
        _IDLE_ACTION_MAX,
        _IDLE_ACTION_INVALID = -EINVAL,
} idle_action;

const char *idle_action_to_string(idle_action a);
idle_action idle_action_from_string(const char *s);

/* --idle-action=checkpoint: where the idle backend's checkpoint lies, /var/lib/ember/NAME/checkpoint (root's, 0700;
 * $EMBER_CHECKPOINT_ROOT for /var/lib/ember in tests), written by its supervisor only, under the state lock.
 * common/checkpoint.c, built only with ./configure --enable-checkpoint (experimental). */
#if ENABLE_CHECKPOINT
const char *checkpoint_root(void);
int checkpoint_dir_path(const char *app, const char *suffix, char *buf, size_t size);
/* The bytes of the app's checkpoint: 1 and *RET if there is one (readable by us), 0 if not. */
int checkpoint_size(const char *app, uint64_t *ret);
#else
/* Without it no supervisor ever writes one. */
static inline int checkpoint_size(const char *app, uint64_t *ret) { return 0; }
#endif

/* The one-byte wire messages between the programs: both ends spell them by these names. */

/* relay.sock (--relay=kernel): a launcher's request, one byte with its sockets attached (SCM_RIGHTS), and the
 * supervisor's one-byte answer. */
enum {
        RELAY_REQUEST_PAIR = 'r',   /* two sockets, the client's and the backend's: relay them in the kernel */
        RELAY_REQUEST_DETACH = 'd', /* one socket: out of the kernel's relay, the launcher relays it by hand */
        RELAY_ANSWER_DONE = '1',    /* relayed in the kernel from now on, or detached */
        RELAY_ANSWER_NOT = '0',     /* not: the launcher splices, or relays on by hand */
};

/* handoff-G.sock: the serving generation hands an upgrade's supervisor its wake socket, with one byte saying who
 * owns the file. */
enum {
        HANDOFF_WAKE_OWNED = 'O', /* inetd mode: the supervisor made wake.sock and unlinks it when it goes */
        HANDOFF_WAKE_UNIT = 'S',  /* under systemd: NAME-backend.socket owns it */
};

/* ember-sandbox --upgrade: the first byte of the one line the new generation's supervisor tells the foreground
 * process that waits for it. */
typedef enum upgrade_result {
        UPGRADE_READY = 'R',  /* the new generation serves */
        UPGRADE_COLD = 'C',   /* nothing to do: the app is cold */
        UPGRADE_BUSY = 'T',   /* try again later: the app starting or stopping, or another upgrade under way */
        UPGRADE_FAILED = 'F',
} upgrade_result;

/* The launcher's transitions, under the state lock (protocol.c). A connection counted: refcount +1 (rebuilt from the
 * leases if garbled) and connections +1; 0 or -errno. */
int connection_counted(int dirfd);
/* A connection gone: refcount -1, and idle-since now if it was the last; 0 or -errno. */
int connection_uncounted(int dirfd);
/* idle-since := now: the idle clock starts (the last connection left, or a run begins to serve). */
int idle_since_now(int dirfd);

/* The supervisor's and emberctl's transitions (run-state.c), each under the state lock, each the whole set of files
 * one step writes (ember-state(7)); failures to write are the files' own problem (a full /run), never the run's. */
/* A run from cold begins: cold-starts +1, our pid, its start time, its bill from zero (the memory peak too where a
 * cgroup will say the new one). */
void run_begins(int dirfd, bool reset_memory_peak);
/* An upgrade's generation takes over serving: our pid, its backend's (if it runs yet), its start time. */
void run_taken_over(int dirfd, pid_t backend);
/* The serving backend was forked (or restored). */
void run_backend_started(int dirfd, pid_t backend);
/* It became ready after MS: ready-ms, the cold-start histogram (or, RESTORED from a checkpoint, the restores and
 * their histogram); the crash loop and the last failure are over. */
void run_ready(int dirfd, uint64_t ms, bool restored);
/* The run is over: no backend or supervisor pid, and wake.sock gone if we made it (inetd mode). */
void run_ended(int dirfd, bool owns_wake);
/* The live run's bill so far (every second, for emberctl metrics). */
void run_billed(int dirfd, uint64_t cpu_usec, uint64_t memory_peak_bytes);
/* The run's end, counted by EVENT, and its time and bill added to the totals. */
void run_counted(int dirfd, const char *event, uint64_t run_usec, uint64_t cpu_usec, uint64_t memory_peak_bytes);
/* A run died or never started: crashes +1 and when, for the next start's backoff. */
void run_crashed(int dirfd);
/* The last failed run (ember-state(7), last-failure), as the supervisor records it and emberctl reads it. */
typedef struct last_failure {
        uint64_t at_usec;      /* when the run failed, epoch microseconds */
        uint64_t started_usec; /* when it began: the backend's output is what its unit wrote in between */
        char event[48];        /* crash, seccomp-kill, start-timeout, start-failed, ... */
        char reason[512];      /* "exited with status 1", "killed by signal SEGV", ... */
} last_failure;
void last_failure_write(int dirfd, const last_failure *f);
/* 0, -ENOENT where no run failed since the last one that became ready, other -errno. */
int last_failure_read(int dirfd, last_failure *ret);
/* The generation counter (allocate_generation, under the lock); 0 or -errno. */
int generation_number_write(int dirfd, uint64_t generation);
/* emberctl upgrade asks (a drain timeout to hand on, if HAVE_DRAIN) and clears the last result; 0 or -errno. */
int upgrade_request_write(int dirfd, bool have_drain, uint64_t drain_usec);
/* The new generation's supervisor takes the request: 1 and *RET if it asked for a drain timeout, else 0 or -errno;
 * it is gone after. */
int upgrade_request_take(int dirfd, uint64_t *ret_drain_usec);
/* The upgrade's outcome, one line for people ("ready: …"), for emberctl upgrade. */
void upgrade_result_write(int dirfd, const char *result);
/* gen-G, what generations_read() reads: the generation's backend port and pid, and us, its supervisor. */
void generation_file_write(int dirfd, uint64_t generation, uint16_t port, pid_t backend);
void generation_file_remove(int dirfd, uint64_t generation);
/* "upgrade": generation G is starting beside the serving one, which drains for DRAIN_USEC once replaced. */
void upgrade_under_way_write(int dirfd, uint64_t generation, uint64_t drain_usec);
/* The drain a replaced generation is given: 1 and *RET if the upgrade under way is the one now serving
 * (SERVING_GENERATION), else 0 or -errno. */
int upgrade_under_way_drain(int dirfd, uint64_t serving_generation, uint64_t *ret_drain_usec);
