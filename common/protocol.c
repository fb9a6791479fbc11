#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "protocol.h"
#include "state.h"

static const char *const app_state_names[_APP_STATE_MAX] = {
        [APP_COLD] = "cold",
        [APP_STARTING] = "starting",
        [APP_WARM] = "warm",
        [APP_STOPPING] = "stopping",
        [APP_FROZEN] = "frozen",
};

const char *app_state_to_string(app_state s) {
        return s >= 0 && s < _APP_STATE_MAX ? app_state_names[s] : NULL;
}

static const char *const idle_action_names[_IDLE_ACTION_MAX] = {
        [IDLE_ACTION_STOP] = "stop",
        [IDLE_ACTION_FREEZE] = "freeze",
        [IDLE_ACTION_CHECKPOINT] = "checkpoint",
};

const char *idle_action_to_string(idle_action a) {
        return a >= 0 && a < _IDLE_ACTION_MAX ? idle_action_names[a] : NULL;
}

idle_action idle_action_from_string(const char *s) {
        for (idle_action i = 0; i < _IDLE_ACTION_MAX; i++)
                if (strcmp(s, idle_action_names[i]) == 0)
                        return i;
        return _IDLE_ACTION_INVALID;
}

static const char *const generation_role_names[_ROLE_MAX] = {
        [ROLE_SERVING] = "serving",
        [ROLE_PENDING] = "starting",
        [ROLE_DRAINING] = "draining",
};

const char *generation_role_to_string(generation_role r) {
        return r >= 0 && r < _ROLE_MAX ? generation_role_names[r] : NULL;
}

app_state app_state_from_string(const char *s) {
        for (app_state i = 0; i < _APP_STATE_MAX; i++)
                if (strcmp(s, app_state_names[i]) == 0)
                        return i;
        return _APP_STATE_INVALID;
}

int app_state_get(int dirfd, app_state *ret) {
        char buf[16];
        int r = state_read(dirfd, STATE_STATE, buf, sizeof(buf));

        if (r == -ENOENT) {
                *ret = APP_COLD;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = app_state_from_string(buf);
        return *ret < 0 ? -EBADMSG : 0;
}

int app_state_set(int dirfd, app_state s) {
        const char *name = app_state_to_string(s);
        return name ? state_write(dirfd, STATE_STATE, name) : -EINVAL;
}

/* A process holding its lifetime lock must ask through that very fd: closing any other fd of the file would drop
 * the lock. */
static int own_lock_fd = -1;

#define SUPERVISOR_LOCK_NEW STATE_SUPERVISOR_LOCK ".new"

/* A read lock (which the launchers' group may take) stands where ours must go, and no supervisor is alive: a fresh
 * file, locked before it takes the name, leaves that lock behind on the old one. */
static int supervisor_lock_renew(int dirfd, const struct stat *old, const struct flock *fl) {
        _cleanup_close_ int fd = -1;
        int r = 0;

        (void) unlinkat(dirfd, SUPERVISOR_LOCK_NEW, 0);
        fd = openat(dirfd, SUPERVISOR_LOCK_NEW, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (fchown(fd, old->st_uid, old->st_gid) < 0 || fchmod(fd, old->st_mode & 0640) < 0 ||
            fcntl(fd, F_SETLK, fl) < 0 || renameat(dirfd, SUPERVISOR_LOCK_NEW, dirfd, STATE_SUPERVISOR_LOCK) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dirfd, SUPERVISOR_LOCK_NEW, 0);
                return r;
        }
        log_warning("A read lock on %s kept the supervisor's lock from its place (someone of the launchers' group): "
                    "made a new one", STATE_SUPERVISOR_LOCK);
        return take_fd(&fd);
}

int supervisor_lock_take(int dirfd, uint64_t generation, int *ret_fd) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t) generation, .l_len = 1 };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (generation > INT64_MAX)
                return -EOVERFLOW;
        /* 0600, or 0640 for the launchers' group (state_prepare_launchers()): whoever may open it may lock it, and
         * a read lock would pass for a live supervisor and keep the next one from starting (a file left by an
         * older ember was 0644) */
        fd = state_open_file(dirfd, STATE_SUPERVISOR_LOCK, O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_mode & 07777 & ~(mode_t) 0640) && fchmod(fd, st.st_mode & 0640) < 0)
                return -errno;
        if (fcntl(fd, F_SETLK, &fl) < 0) {
                if (errno != EAGAIN && errno != EACCES)
                        return -errno;
                own_lock_fd = fd; /* our own fd for the probe: no lock of ours to lose yet */
                int alive = supervisor_find(dirfd, NULL);
                own_lock_fd = -1;
                if (alive != 0)
                        return alive < 0 ? alive : -EBUSY;
                closep(&fd);
                fd = supervisor_lock_renew(dirfd, &st, &fl);
                if (fd < 0)
                        return fd == -EAGAIN || fd == -EACCES ? -EBUSY : fd;
        }
        own_lock_fd = *ret_fd = take_fd(&fd);
        return 0;
}

void supervisor_lock_forget(void) {
        own_lock_fd = -1;
}

static int supervisor_lock_probe(int dirfd, off_t start, off_t len, struct flock *ret) {
        _cleanup_close_ int opened = -1;
        int fd = own_lock_fd;

        /* F_GETLK needs no write access, but the file is root's alone: an unprivileged emberctl gets -EACCES. It
         * never reports our own locks. */
        if (fd < 0) {
                fd = opened = state_open_file(dirfd, STATE_SUPERVISOR_LOCK, O_RDONLY, 0);
                if (fd < 0)
                        return fd;
        }
        *ret = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
        return fcntl(fd, F_GETLK, ret) < 0 ? -errno : 0;
}

/* F_GETLK names one conflicting lock of a range, not the lowest: split around it until all are found. Only write
 * locks are supervisors' (only root may open the file for writing): anyone who may read it, the launchers' group,
 * can take a read lock, which must neither pass for a live supervisor nor name a pid for root to signal. */
static int list_locks(int dirfd, off_t lo, off_t hi, uint64_t *gens, pid_t *pids, size_t n, size_t *found) {
        while (lo <= hi && *found < n) {
                struct flock fl;
                int r = supervisor_lock_probe(dirfd, lo, hi - lo + 1, &fl);

                if (r < 0)
                        return r;
                if (fl.l_type == F_UNLCK)
                        return 0;
                if (fl.l_type == F_WRLCK) {
                        gens[*found] = (uint64_t) fl.l_start;
                        pids[(*found)++] = fl.l_pid;
                }
                r = list_locks(dirfd, lo, fl.l_start - 1, gens, pids, n, found);
                if (r < 0)
                        return r;
                lo = fl.l_len == 0 ? hi + 1 : fl.l_start + fl.l_len;
        }
        return 0;
}

/* 1 if a supervisor holds a lock in [start, start + len) (len 0: to the end), with its pid. */
static int supervisor_holds(int dirfd, off_t start, off_t len, pid_t *ret_pid) {
        uint64_t generation;
        pid_t pid = 0;
        size_t found = 0;
        int r = list_locks(dirfd, start, len == 0 ? INT64_MAX - 1 : start + len - 1, &generation, &pid, 1, &found);

        if (r < 0 && r != -ENOENT)
                return r;
        if (ret_pid)
                *ret_pid = found ? pid : 0;
        return found > 0;
}

int supervisor_find(int dirfd, pid_t *ret_pid) {
        return supervisor_holds(dirfd, 0, 0, ret_pid);
}

int supervisor_find_generation(int dirfd, uint64_t generation, pid_t *ret_pid) {
        if (generation > INT64_MAX)
                return -EOVERFLOW;
        return supervisor_holds(dirfd, (off_t) generation, 1, ret_pid);
}

int supervisor_signal_generation(int dirfd, uint64_t generation, int sig) {
        pid_t pid = 0, again = 0;
        int pidfd, r;

        r = supervisor_find_generation(dirfd, generation, &pid);
        if (r <= 0 || pid <= 0)
                return r < 0 ? r : -ESRCH; /* gone, or alive in a pid namespace we cannot see into */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return -errno;
        r = supervisor_find_generation(dirfd, generation, &again);
        if (r > 0 && again == pid)
                r = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
        else
                r = r < 0 ? r : -ESRCH;
        close(pidfd);
        return r;
}

int supervisors_list(int dirfd, uint64_t *generations, pid_t *pids, size_t n) {
        size_t found = 0;
        int r = list_locks(dirfd, 0, INT64_MAX - 1, generations, pids, n, &found);

        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : (int) found;
}

int serving_read(int dirfd, serving *ret) {
        char buf[160], *space;
        int r = state_kv_read(dirfd, STATE_SERVING, buf, sizeof(buf));

        if (r < 0)
                return r;
        if (!buf[0])
                return -ENOENT;
        space = strchr(buf, ' ');
        if (!space)
                return -EBADMSG;
        *space = '\0';
        if (parse_uint64(buf, &ret->generation) < 0)
                return -EBADMSG;
        if (strcmp(space + 1, "-") == 0) { /* starting: its address is not said yet */
                ret->address = (ember_addr){ .sa.sa_family = AF_UNSPEC };
                return 0;
        }
        return parse_addr(space + 1, &ret->address) < 0 ? -EBADMSG : 0;
}

int serving_write(int dirfd, uint64_t generation, const ember_addr *address) {
        char addr[128] = "-", line[160];
        int r = address ? format_addr(address, addr, sizeof(addr)) : 0;

        if (r < 0)
                return r;
        snprintf(line, sizeof(line), "%" PRIu64 " %s", generation, addr);
        return state_kv_write(dirfd, STATE_SERVING, line);
}

/* Generations far apart never live at once; 1024 regions of LEASE_REGION bytes each are enough. */
static off_t generation_region(uint64_t generation) {
        return (off_t) (generation % 1024) * LEASE_REGION;
}

int generation_lease_take(int dirfd, uint64_t generation, int *ret_fd) {
        return lease_take_in(dirfd, STATE_GEN_LEASES, generation_region(generation), ret_fd);
}

int generation_lease_count(int dirfd, uint64_t generation, uint64_t *ret) {
        return lease_count_in(dirfd, STATE_GEN_LEASES, generation_region(generation), ret);
}

int serving_enter(int dirfd, serving *ret, int *ret_lease) {
        for (unsigned tries = 0; tries < 16; tries++) {
                _cleanup_close_ int lease = -1;
                serving before, after;
                int r;

                r = serving_read(dirfd, &before);
                if (r < 0)
                        return r;
                r = generation_lease_take(dirfd, before.generation, &lease);
                if (r < 0)
                        return r;
                r = serving_read(dirfd, &after);
                if (r < 0)
                        return r;
                if (after.generation == before.generation) {
                        *ret = after;
                        *ret_lease = take_fd(&lease);
                        return 0;
                }
        }
        return -EAGAIN; /* the serving generation changed 16 times while we looked: not a thing that happens */
}

int generations_read(int dirfd, generation_info *out, size_t n) {
        uint64_t gens[64], v;
        pid_t pids[64];
        serving sv = {};
        int found;

        found = supervisors_list(dirfd, gens, pids, n < ELEMENTSOF(gens) ? n : ELEMENTSOF(gens));
        if (found < 0)
                return found;
        (void) serving_read(dirfd, &sv);
        for (int i = 0; i < found; i++) {
                char name[48], kv[STATE_KV_MAX + 1];
                generation_info *g = &out[i];

                *g = (generation_info){ .generation = gens[i], .supervisor_pid = pids[i] };
                g->role = gens[i] == sv.generation ? ROLE_SERVING :
                          gens[i] > sv.generation ? ROLE_PENDING : ROLE_DRAINING;
                snprintf(name, sizeof(name), STATE_GEN_PREFIX "%" PRIu64, gens[i]);
                if (state_kv_read(dirfd, name, kv, sizeof(kv)) >= 0) {
                        (void) kv_get_u64(kv, "backend_pid", &g->backend_pid);
                        if (kv_get_u64(kv, "port", &v) >= 0 && v <= UINT16_MAX)
                                g->port = (uint16_t) v;
                }
                if (generation_lease_count(dirfd, gens[i], &g->connections) < 0)
                        g->connections = UINT64_MAX; /* not ours to read (0600): unknown */
        }
        for (int i = 1; i < found; i++) /* newest first; a handful at most */
                for (int j = i; j > 0 && out[j].generation > out[j - 1].generation; j--) {
                        generation_info t = out[j];
                        out[j] = out[j - 1];
                        out[j - 1] = t;
                }
        return found;
}

int app_supervisor_find(int dirfd, pid_t *ret_pid) {
        serving sv;

        if (serving_read(dirfd, &sv) >= 0)
                return supervisor_find_generation(dirfd, sv.generation, ret_pid);
        return supervisor_find(dirfd, ret_pid);
}

bool app_is_warm(int dirfd) {
        app_state s;
        return app_state_get(dirfd, &s) >= 0 && s == APP_WARM && app_supervisor_find(dirfd, NULL) > 0;
}

int app_state_settle(int dirfd, app_state *ret) {
        app_state s;
        int r;

        r = app_state_get(dirfd, &s);
        if (r == -EBADMSG || r == -EFBIG)
                s = _APP_STATE_INVALID; /* garbled: whoever wrote it is judged like any other owner */
        else if (r < 0)
                return r;
        if (s == APP_COLD) {
                *ret = s;
                return 0;
        }
        r = app_supervisor_find(dirfd, NULL);
        if (r < 0)
                return r;
        if (r > 0) {
                /* alive: a garbled state is a supervisor mid-write; its wake socket answers either way */
                *ret = s >= 0 ? s : APP_STARTING;
                return 0;
        }
        r = app_state_set(dirfd, APP_COLD);
        if (r < 0)
                return r;
        log_event(LOG_WARNING, FIELDS("EMBER_EVENT=stale-state"),
                  "State '%s' had no live supervisor (killed, or its unit stopped without cleaning up); reset to cold",
                  s >= 0 ? app_state_to_string(s) : "garbled");
        *ret = APP_COLD;
        return 1;
}

int app_status_read(int dirfd, app_status *ret) {
        app_status s = {};
        int r;

        int q = app_state_get(dirfd, &s.state);
        if (q < 0 && q != -EBADMSG && q != -EFBIG)
                return q;
        r = app_supervisor_find(dirfd, &s.supervisor_pid);
        if (r == -EACCES) /* supervisor.lock is root's (0600): unprivileged, the state is taken as written */
                r = q >= 0 && s.state != APP_COLD;
        if (r < 0)
                return r;
        s.supervisor_alive = r > 0;
        if (q < 0) /* garbled: judged by its owner, as a launcher would (see app_state_settle) */
                s.state = s.supervisor_alive ? APP_STARTING : APP_COLD;
        s.stale = s.state != APP_COLD && r == 0;
        s.have_refcount = state_read_u64(dirfd, STATE_REFCOUNT, &s.refcount) >= 0;
        (void) state_read_u64(dirfd, STATE_BACKEND_PID, &s.backend_pid);
        (void) state_read_u64(dirfd, STATE_GENERATION, &s.generation);
        s.have_started_at = state_read_u64(dirfd, STATE_STARTED_AT, &s.started_at) >= 0;
        s.have_idle_since = state_read_u64(dirfd, STATE_IDLE_SINCE, &s.idle_since) >= 0;
        (void) state_read_u64(dirfd, STATE_COLD_STARTS, &s.cold_starts);
        (void) state_read_u64(dirfd, STATE_CONNECTIONS, &s.connections);
        s.have_ready_ms = state_read_u64(dirfd, STATE_READY_MS, &s.ready_ms) >= 0;
        *ret = s;
        return 0;
}

/* A garbled or missing refcount is rebuilt from the leases instead of being trusted. The count it leaves in
 * *RET_COUNT, so that a leave need not read the file again to see whether it was the last. */
static int refcount_add(int dirfd, int delta, uint64_t *ret_count) {
        uint64_t v;
        int r = state_read_u64(dirfd, STATE_REFCOUNT, &v);

        if (r == -ENOENT && delta > 0) {
                *ret_count = (uint64_t) delta;
                return state_write_u64(dirfd, STATE_REFCOUNT, (uint64_t) delta);
        }
        if (r < 0) {
                log_warning_errno(r, "Refcount unreadable, recounting live connections");
                r = refcount_heal(dirfd, ret_count);
                return r < 0 ? r : 0;
        }
        if (delta < 0 && v == 0) {
                *ret_count = 0;
                return 0;
        }
        *ret_count = v + (uint64_t) (int64_t) delta;
        return state_write_u64(dirfd, STATE_REFCOUNT, *ret_count);
}

int connection_counted(int dirfd) {
        uint64_t count;
        int r = refcount_add(dirfd, +1, &count);

        if (r < 0)
                return r;
        (void) state_add_u64(dirfd, STATE_CONNECTIONS, 1, NULL);
        return 0;
}

int connection_uncounted(int dirfd) {
        uint64_t left = 1;
        int r = refcount_add(dirfd, -1, &left);

        if (r < 0)
                return r;
        return left == 0 ? idle_since_now(dirfd) : 0;
}

int idle_since_now(int dirfd) {
        char now[24];

        snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
        return state_write(dirfd, STATE_IDLE_SINCE, now);
}
