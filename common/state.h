#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The per-app state directory, $EMBER_RUNTIME_DIR/NAME (default /run/ember/NAME). Every file in it is plain text
 * a person can cat: one value and a newline. Files are opened relative to the directory fd with O_NOFOLLOW and
 * must be regular files owned by us; anything else is refused, never followed. */

#define STATE_LOCK "lock"           /* flock(LOCK_EX) serialises join, leave, start and stop */
#define STATE_LEASES "leases"       /* one OFD byte lock per live connection, released by the kernel on death */
#define STATE_REFCOUNT "refcount"   /* live connections */
#define STATE_STATE "state"         /* cold | starting | warm | stopping */
#define STATE_IDLE_SINCE "idle-since" /* epoch seconds when the last connection left */
#define STATE_SUPERVISOR_PID "supervisor.pid" /* for people; liveness is STATE_SUPERVISOR_LOCK's holder */
#define STATE_SUPERVISOR_LOCK "supervisor.lock" /* see protocol.h */
#define STATE_GENERATION "generation" /* number of the latest backend run (generation) begun */
#define STATE_SERVING "serving"       /* "G ADDRESS": the generation new connections go to, and its backend's address */
#define STATE_GEN_LEASES "gen-leases" /* one OFD byte lock per connection to a backend, in its generation's region */
#define STATE_GEN_PREFIX "gen-"       /* gen-G: "port=P backend_pid=PID supervisor_pid=PID" of each live generation */
#define STATE_UPGRADE "upgrade"       /* the latest upgrade: "generation=G drain_usec=N" */
#define STATE_UPGRADE_REQUEST "upgrade-request" /* from emberctl upgrade: "drain_usec=N" */
#define STATE_UPGRADE_RESULT "upgrade-result"   /* the latest upgrade's outcome, one line for people */
#define STATE_BACKEND_PID "backend.pid"
#define STATE_STARTED_AT "started-at" /* epoch seconds the backend was started */
#define STATE_COLD_STARTS "cold-starts"
#define STATE_CONNECTIONS "connections" /* connections served, ever */
#define STATE_READY_MS "ready-ms"      /* how long the last cold start took to be ready */
#define STATE_CRASHES "crashes"       /* backend runs in a row that died before or without an orderly stop */
#define STATE_LAST_CRASH "last-crash"  /* epoch seconds */
#define STATE_LAST_FAILURE "last-failure" /* "FAILED STARTED EVENT REASON" (epoch usec) of the last failed run, until one is ready */
/* Counters of ended backend runs, for emberctl metrics: */
#define STATE_ENDS "ends"                   /* how runs ended: "idle-stop=N stop=N crash=N ..." */
#define STATE_COLD_START_HIST "cold-start-ms" /* time to ready: "1=N 2.5=N ... 60000=N +Inf=N sum=MS" */
/* --idle-action=checkpoint: backend runs restored from a checkpoint (counted in cold-starts too), and their time to
 * ready in buckets as cold-start-ms's (a restored run's is counted here, not there) */
#define STATE_RESTORES "restores"
#define STATE_RESTORE_HIST "restore-ms"
#define STATE_RUN_USEC_TOTAL "run-usec-total"
#define STATE_CPU_USEC_TOTAL "cpu-usec-total"
/* The current (or last) run's bill, updated every second while it runs: */
#define STATE_RUN_CPU_USEC "run-cpu-usec"
#define STATE_MEMORY_PEAK "memory-peak-bytes"
#define STATE_WAKE_SOCK "wake.sock"
#define STATE_NOTIFY_SOCK "notify.sock"
#define STATE_RELAY_SOCK "relay.sock"   /* --relay=kernel: launchers hand the supervisor their sockets here */


const char *runtime_dir(void);
int state_dir_path(const char *app, char *buf, size_t size);
/* Opens (creating if asked and allowed) the state directory after checking it is not a symlink and is ours, root's,
 * or was handed to its owner by the owner of the runtime directory (not writable by anyone else). */
int state_open(const char *app, bool create, int *ret_dirfd);
/* Whether state_open()'s error is a refusal (symlink, wrong owner, writable by others: EXIT_NOPERM, 77). */
bool state_refused(int r);
int state_lock(int dirfd, int *ret_lockfd);
/* The same, giving up with -ETIMEDOUT at DEADLINE (CLOCK_MONOTONIC; USEC_INFINITY: never). Uses SIGALRM. */
int state_lock_until(int dirfd, uint64_t deadline, int *ret_lockfd);
/* A file in the state directory: O_NOFOLLOW, and it must be a regular file of one link, not writable by group or
 * others, owned by us or root, or by anyone in a directory that only we or root may write. */
int state_open_file(int dirfd, const char *name, int flags, mode_t mode);
/* Root, for a launchers' user that may create nothing in root's state directory: makes each file a launcher
 * writes (the lock, the leases, the counts, the state) UID:GID's, creating it where missing, and supervisor.lock
 * readable by GID. On failure, the name of the file that failed in *RET_FAILED. */
int state_prepare_launchers(int dirfd, uid_t uid, gid_t gid, const char **ret_failed);
/* Whether state_prepare_launchers() has made them all (as far as a launcher can tell: the last one exists). */
bool state_launchers_prepared(int dirfd);
int state_read(int dirfd, const char *name, char *buf, size_t size);
int state_read_u64(int dirfd, const char *name, uint64_t *ret);
int state_write(int dirfd, const char *name, const char *value);
int state_write_u64(int dirfd, const char *name, uint64_t v);
/* Adds delta to a counter; a missing or garbled counter counts as 0. Call under the lock. */
int state_add_u64(int dirfd, const char *name, int64_t delta, uint64_t *ret);

/* Files of several KEY=VALUE words on one line (at most STATE_KV_MAX bytes), such as STATE_ENDS. A missing file
 * reads as empty. kv_get_u64: -ENOENT (and 0) if KEY is absent. state_kv_add: under the lock, saturating. */
#define STATE_KV_MAX 1024
int state_kv_read(int dirfd, const char *name, char *buf, size_t size);
int kv_get_u64(const char *kv, const char *key, uint64_t *ret);
int state_kv_add(int dirfd, const char *name, const char *key, uint64_t delta);
/* A whole line of up to STATE_KV_MAX bytes (state_kv_read reads it back). */
int state_kv_write(int dirfd, const char *name, const char *line);

/* A lease is a 1-byte OFD write lock on STATE_LEASES at an offset unique to this process. */
int lease_take(int dirfd, int *ret_fd);
int lease_count(int dirfd, uint64_t *ret);
/* The same in region BASE of file NAME (regions are LEASE_REGION bytes apart): one per backend generation. */
#define LEASE_REGION ((off_t) 1 << 28)
int lease_take_in(int dirfd, const char *name, off_t base, int *ret_fd);
int lease_count_in(int dirfd, const char *name, off_t base, uint64_t *ret);
/* Under the lock: makes refcount equal the number of live leases. Returns 1 if it had to change it. */
int refcount_heal(int dirfd, uint64_t *ret_count);

/* The state directory at PATH is still the one open as DIRFD (not removed, not replaced). */
bool state_dir_is_current(int dirfd, const char *path);
/* NAME in DIRFD is still the file open as FD (not unlinked, not replaced). */
bool state_file_is_current(int dirfd, const char *name, int fd);
