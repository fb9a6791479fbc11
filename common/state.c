#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"
#include "state.h"
#include "timeutil.h"

#define STATE_VALUE_MAX 64

const char *runtime_dir(void) {
        const char *e = getenv("EMBER_RUNTIME_DIR");
        return e && e[0] == '/' ? e : RUNTIME_DIR_DEFAULT;
}

int state_dir_path(const char *app, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s", runtime_dir(), app);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* Trusted owners of a state file or directory: us, root, or OTHER (the user root handed the directory to; -1: none).
 * Nothing group- or world-writable, and a regular file has one name only: a hard link planted in a directory that
 * is not root's would have root write wherever it points. */
static int check_stat(const struct stat *st, mode_t type, uid_t other) {
        if ((st->st_mode & S_IFMT) != type)
                return type == S_IFDIR ? -ENOTDIR : -EBADFD;
        /* ours, or root's: emberctl reads root's state unprivileged, and root's files are trusted anyway */
        if (st->st_uid != geteuid() && st->st_uid != 0 && st->st_uid != other)
                return -EPERM;
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return -EACCES;
        if (type == S_IFREG && st->st_nlink != 1)
                return -EPERM;
        return 0;
}

/* A directory nobody but its owner (us or root) may write: whoever owns an entry in it was given it by that owner. */
static bool hands_out(const struct stat *dir) {
        return (dir->st_uid == geteuid() || dir->st_uid == 0) && !(dir->st_mode & (S_IWGRP | S_IWOTH));
}

static bool dir_hands_out(int fd) {
        struct stat st;
        return fstat(fd, &st) == 0 && hands_out(&st);
}

static int open_dir_at(int parent, const char *name, bool create) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        /* EACCES: not ours to create (a launcher's user under /run/ember); whether it exists is openat()'s to say */
        if (create && mkdirat(parent, name, 0755) < 0 && errno != EEXIST && errno != EACCES)
                return -errno;
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ELOOP ? -ELOOP : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        bool foreign = st.st_uid != geteuid() && st.st_uid != 0;
        r = check_stat(&st, S_IFDIR, foreign && dir_hands_out(parent) ? st.st_uid : (uid_t) -1);
        if (r < 0)
                return r;
        return take_fd(&fd);
}

bool state_refused(int r) {
        return r == -EPERM || r == -EACCES || r == -ELOOP || r == -ENOTDIR;
}

int state_open(const char *app, bool create, int *ret_dirfd) {
        _cleanup_close_ int root = -1;
        const char *base = runtime_dir();
        int fd;

        if (create && mkdir(base, 0755) < 0 && errno != EEXIST)
                return -errno;
        /* The runtime dir itself may be a root-owned /run/ember or a test's tmp dir; only its app dirs must be ours. */
        root = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        fd = open_dir_at(root, app, create);
        if (fd < 0)
                return fd;
        *ret_dirfd = fd;
        return 0;
}

/* FD (stat ST, in DIRFD) must be trusted: ours or root's; or another user's in a directory nobody but us or root may
 * write, where only we or root can have made it that user's (the launchers' files, state_prepare_launchers()); or
 * its directory's owner's (a directory open_dir_at() accepted from another owner was handed to it by root). Only
 * those rarer cases pay for the directory's stat. */
static int check_file(int dirfd, const struct stat *st) {
        struct stat dir;

        if (st->st_uid == geteuid() || st->st_uid == 0)
                return check_stat(st, S_IFREG, (uid_t) -1);
        if (fstat(dirfd, &dir) < 0)
                return -errno;
        return check_stat(st, S_IFREG, hands_out(&dir) || st->st_uid == dir.st_uid ? st->st_uid : (uid_t) -1);
}

int state_open_file(int dirfd, const char *name, int flags, mode_t mode) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        /* O_NONBLOCK: a FIFO planted here must be refused, not block us; it changes nothing for regular files. */
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = check_file(dirfd, &st);
        if (r < 0)
                return r;
        return take_fd(&fd);
}

static void on_lock_alarm(int sig) {
        /* nothing: its only job is to interrupt flock() */
}

/* Blocks in flock() until DEADLINE: a timer signal interrupts the wait, so that a lock holder that never lets go
 * (frozen, traced) costs a bounded wait, not a hang. Uncontended, it is one flock() as before. */
static int flock_until(int fd, uint64_t deadline) {
        static bool handler_set;

        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return -errno;
        if (!handler_set) {
                struct sigaction sa = { .sa_handler = on_lock_alarm }; /* no SA_RESTART */
                if (sigaction(SIGALRM, &sa, NULL) < 0)
                        return -errno;
                handler_set = true;
        }
        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC), wait;
                struct itimerval it = {};
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                wait = deadline - now > USEC_PER_SEC ? USEC_PER_SEC : deadline - now; /* a lost tick costs 1 s at most */
                it.it_value = (struct timeval){ .tv_sec = (time_t) (wait / USEC_PER_SEC),
                                                .tv_usec = (suseconds_t) (wait % USEC_PER_SEC) };
                if (setitimer(ITIMER_REAL, &it, NULL) < 0)
                        return -errno;
                r = flock(fd, LOCK_EX);
                int e = errno;
                (void) setitimer(ITIMER_REAL, &(struct itimerval){}, NULL);
                if (r == 0)
                        return 0;
                if (e != EINTR)
                        return -e;
        }
}

int state_lock_until(int dirfd, uint64_t deadline, int *ret_lockfd) {
        _cleanup_close_ int fd = -1;
        int r;

        fd = state_open_file(dirfd, STATE_LOCK, O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        if (deadline == USEC_INFINITY) {
                while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
                        ;
                r = r < 0 ? -errno : 0;
        } else
                r = flock_until(fd, deadline);
        if (r < 0)
                return r;
        *ret_lockfd = take_fd(&fd);
        return 0;
}

int state_lock(int dirfd, int *ret_lockfd) {
        return state_lock_until(dirfd, USEC_INFINITY, ret_lockfd);
}

/* One line and its newline, at most MAX bytes. A writer rewrites in place (pwrite, then ftruncate), so a reader in
 * between can see the new value followed by the old one's tail: such a torn value is read again. */
static int read_line(int dirfd, const char *name, char *buf, size_t size, size_t max) {
        for (unsigned attempt = 0;; attempt++) {
                _cleanup_close_ int fd = -1;
                char tmp[STATE_KV_MAX + 1];
                ssize_t n;
                char *nl;

                fd = state_open_file(dirfd, name, O_RDONLY, 0);
                if (fd < 0)
                        return fd;
                n = pread(fd, tmp, max + 1, 0);
                if (n < 0)
                        return -errno;
                if ((size_t) n > max)
                        return -EFBIG;
                tmp[n] = '\0';
                nl = strchr(tmp, '\n');
                if (!nl || nl == tmp || nl[1] != '\0' || strlen(tmp) != (size_t) n) {
                        if (attempt < 5) {
                                (void) nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
                                continue;
                        }
                        return -EBADMSG; /* truncated, empty or garbled */
                }
                *nl = '\0';
                if ((size_t) (nl - tmp) >= size)
                        return -ENOBUFS;
                memcpy(buf, tmp, (size_t) (nl - tmp) + 1);
                return 0;
        }
}

int state_read(int dirfd, const char *name, char *buf, size_t size) {
        return read_line(dirfd, name, buf, size, STATE_VALUE_MAX);
}

int state_read_u64(int dirfd, const char *name, uint64_t *ret) {
        char buf[STATE_VALUE_MAX];
        int r = state_read(dirfd, name, buf, sizeof(buf));
        if (r < 0)
                return r;
        return parse_uint64(buf, ret) < 0 ? -EBADMSG : 0;
}

/* VALUE and its newline, in place of what FD held. */
static int write_line_fd(int fd, const char *value, size_t max) {
        char buf[STATE_KV_MAX + 2];
        int n;

        n = snprintf(buf, sizeof(buf), "%s\n", value);
        if (n < 0 || (size_t) n > max)
                return -ENOBUFS;
        if (pwrite(fd, buf, (size_t) n, 0) != n || ftruncate(fd, n) < 0)
                return errno ? -errno : -EIO;
        return 0;
}

static int write_line(int dirfd, const char *name, const char *value, size_t max) {
        _cleanup_close_ int fd = -1;

        fd = state_open_file(dirfd, name, O_WRONLY | O_CREAT, 0644);
        if (fd < 0)
                return fd;
        return write_line_fd(fd, value, max);
}

int state_write(int dirfd, const char *name, const char *value) {
        return write_line(dirfd, name, value, STATE_VALUE_MAX);
}

int state_write_u64(int dirfd, const char *name, uint64_t v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return state_write(dirfd, name, buf);
}

int state_add_u64(int dirfd, const char *name, int64_t delta, uint64_t *ret) {
        uint64_t v = 0;
        int r;

        r = state_read_u64(dirfd, name, &v);
        if (r < 0 && r != -ENOENT && r != -EBADMSG && r != -EFBIG)
                return r;
        if (delta < 0 && v < (uint64_t) -delta)
                v = 0;
        else
                v += (uint64_t) delta;
        r = state_write_u64(dirfd, name, v);
        if (r < 0)
                return r;
        if (ret)
                *ret = v;
        return 0;
}

int state_kv_read(int dirfd, const char *name, char *buf, size_t size) {
        int r = read_line(dirfd, name, buf, size, STATE_KV_MAX);
        if (r == -ENOENT) {
                buf[0] = '\0';
                return 0;
        }
        return r;
}

int kv_get_u64(const char *kv, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);

        for (const char *p = kv; *p;) {
                size_t n = strcspn(p, " ");
                if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        char v[24];
                        size_t vlen = n - klen - 1;
                        if (vlen == 0 || vlen >= sizeof(v))
                                return -EBADMSG;
                        memcpy(v, p + klen + 1, vlen);
                        v[vlen] = '\0';
                        return parse_uint64(v, ret) < 0 ? -EBADMSG : 0;
                }
                p += n;
                p += strspn(p, " ");
        }
        *ret = 0;
        return -ENOENT;
}

static int kv_put(char *out, size_t size, const char *kv, const char *key, uint64_t v) {
        size_t klen = strlen(key), len = 0;
        bool done = false;
        int n;

        out[0] = '\0';
        for (const char *p = kv; *p;) {
                size_t w = strcspn(p, " ");
                bool match = w > klen && strncmp(p, key, klen) == 0 && p[klen] == '=';
                n = match ? snprintf(out + len, size - len, "%s%s=%" PRIu64, len ? " " : "", key, v)
                          : snprintf(out + len, size - len, "%s%.*s", len ? " " : "", (int) w, p);
                if (n < 0 || (size_t) n >= size - len)
                        return -ENOBUFS;
                len += (size_t) n;
                done = done || match;
                p += w;
                p += strspn(p, " ");
        }
        if (done)
                return 0;
        n = snprintf(out + len, size - len, "%s%s=%" PRIu64, len ? " " : "", key, v);
        return n < 0 || (size_t) n >= size - len ? -ENOBUFS : 0;
}

int state_kv_write(int dirfd, const char *name, const char *line) {
        return write_line(dirfd, name, line, STATE_KV_MAX);
}

int state_kv_add(int dirfd, const char *name, const char *key, uint64_t delta) {
        char kv[STATE_KV_MAX + 1], out[STATE_KV_MAX + 1];
        uint64_t v = 0;
        int r;

        r = state_kv_read(dirfd, name, kv, sizeof(kv));
        if (r == -EBADMSG || r == -EFBIG)
                kv[0] = '\0'; /* garbled: start again rather than stop counting */
        else if (r < 0)
                return r;
        (void) kv_get_u64(kv, key, &v);
        r = kv_put(out, sizeof(out), kv, key, v > UINT64_MAX - delta ? UINT64_MAX : v + delta);
        return r < 0 ? r : write_line(dirfd, name, out, STATE_KV_MAX);
}

/* Offsets are pids, spread by 2^22 (the largest pid_max) on the rare clash with another namespace's pid. */
#define LEASE_STRIDE (1LL << 22)

int lease_take_in(int dirfd, const char *name, off_t base, int *ret_fd) {
        _cleanup_close_ int fd = -1;

        /* 0600: whoever may read a lock file may also take a lock on it, and hold up the count or a drain */
        fd = state_open_file(dirfd, name, O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        for (off_t off = getpid(); off < LEASE_REGION; off += LEASE_STRIDE) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = base + off, .l_len = 1 };
                if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
                        *ret_fd = take_fd(&fd);
                        return 0;
                }
                if (errno != EAGAIN && errno != EACCES)
                        return -errno;
        }
        return -EBUSY;
}

int lease_take(int dirfd, int *ret_fd) {
        return lease_take_in(dirfd, STATE_LEASES, 0, ret_fd);
}

/* F_OFD_GETLK reports one conflicting lock in a range, not the lowest; split around it until all are found. */
static int count_locks(int fd, off_t lo, off_t hi, uint64_t *n) {
        while (lo <= hi) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lo, .l_len = hi - lo + 1 };
                off_t s, e;
                int r;

                if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                        return -errno;
                if (fl.l_type == F_UNLCK)
                        return 0;
                (*n)++;
                s = fl.l_start;
                e = fl.l_len == 0 ? hi : fl.l_start + fl.l_len - 1;
                r = count_locks(fd, lo, s - 1, n);
                if (r < 0)
                        return r;
                lo = e + 1;
        }
        return 0;
}

int lease_count_in(int dirfd, const char *name, off_t base, uint64_t *ret) {
        _cleanup_close_ int fd = -1;
        uint64_t n = 0;
        int r;

        fd = state_open_file(dirfd, name, O_RDONLY, 0);
        if (fd == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (fd < 0)
                return fd;
        r = count_locks(fd, base, base + LEASE_REGION - 1, &n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

int lease_count(int dirfd, uint64_t *ret) {
        return lease_count_in(dirfd, STATE_LEASES, 0, ret);
}

int refcount_heal(int dirfd, uint64_t *ret_count) {
        uint64_t live, recorded = UINT64_MAX;
        int r;

        r = lease_count(dirfd, &live);
        if (r < 0)
                return r;
        bool existed = state_read_u64(dirfd, STATE_REFCOUNT, &recorded) != -ENOENT;
        if (ret_count)
                *ret_count = live;
        if (recorded == live)
                return 0;
        r = state_write_u64(dirfd, STATE_REFCOUNT, live);
        /* a count that was not there at all (a new state directory) is written, not corrected */
        return r < 0 ? r : existed ? 1 : 0;
}

bool state_dir_is_current(int dirfd, const char *path) {
        struct stat now, ours;

        /* lstat: a symlink put in its place, even one to this very directory, is a replacement */
        if (fstat(dirfd, &ours) < 0 || lstat(path, &now) < 0)
                return false;
        return ours.st_nlink > 0 && now.st_dev == ours.st_dev && now.st_ino == ours.st_ino;
}

bool state_file_is_current(int dirfd, const char *name, int fd) {
        struct stat now, ours;

        if (fstat(fd, &ours) < 0 || fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return ours.st_nlink > 0 && now.st_dev == ours.st_dev && now.st_ino == ours.st_ino;
}

/* What each launcher writes, with the value a new one starts with (NULL: empty). */
static const struct {
        const char *name;
        mode_t mode;
        const char *initial;
} launcher_files[] = {
        { STATE_LOCK, 0600, NULL },
        { STATE_LEASES, 0600, NULL },
        { STATE_GEN_LEASES, 0600, NULL },
        { STATE_REFCOUNT, 0644, "0" },
        { STATE_CONNECTIONS, 0644, "0" },
        { STATE_STATE, 0644, "cold" },
        { STATE_IDLE_SINCE, 0644, "" }, /* the time it was made: idle since the app's socket came up */
};

/* NAME, made if missing. One that exists must be a regular file of one link; in a directory only root may write, its
 * owner is root's doing (the launchers' user of now or of before), and its mode is not checked: a launcher may have
 * chmod'ed its own file, and this is what sets it right. */
static int open_or_make(int dirfd, const char *name, mode_t mode, bool *ret_made) {
        const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        _cleanup_close_ int fd = openat(dirfd, name, flags | O_CREAT | O_EXCL, mode);
        struct stat st;

        *ret_made = fd >= 0;
        if (fd >= 0)
                return take_fd(&fd);
        if (errno != EEXIST)
                return -errno;
        fd = openat(dirfd, name, flags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
                return -EPERM;
        return take_fd(&fd);
}

/* Made root's with its first value, then given: a launcher never sees it empty, and a file that exists already keeps
 * what it says. A first value that does not fit (a full /run) is an error, but the file is given all the same, so
 * that launchers find all their files and meet that error themselves, with its own name. */
/* FD becomes UID:GID's, mode MODE, where it is not already. */
static int give_fd(int fd, uid_t uid, gid_t gid, mode_t mode) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

static int prepare_file(int dirfd, size_t i, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -1;
        const char *initial = launcher_files[i].initial;
        bool made;
        int r = 0, k;

        fd = open_or_make(dirfd, launcher_files[i].name, launcher_files[i].mode, &made);
        if (fd < 0)
                return fd;
        if (made && initial) {
                char now[24];
                snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
                r = write_line_fd(fd, *initial ? initial : now, STATE_VALUE_MAX);
        }
        k = give_fd(fd, uid, gid, launcher_files[i].mode);
        return k < 0 ? k : r;
}

/* supervisor.lock: root's, and read-only for the launchers' group, who look for a live supervisor there. */
static int supervisor_lock_share(int dirfd, gid_t gid) {
        _cleanup_close_ int fd = -1;

        fd = state_open_file(dirfd, STATE_SUPERVISOR_LOCK, O_RDONLY | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        return give_fd(fd, 0, gid, gid == 0 ? 0600 : 0640);
}

/* A socket launchers connect to, root's: GID's too, 0660 (root's alone for GID 0). By name, which is safe only in a
 * directory nobody but root may write (our caller's); one that is not there yet is made so by whoever binds it. */
static int socket_share(int dirfd, const char *name, gid_t gid) {
        mode_t mode = gid == 0 ? 0600 : 0660;
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode) || st.st_uid != 0)
                return 0; /* not one of ours */
        if (st.st_gid != gid && fchownat(dirfd, name, 0, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && fchmodat(dirfd, name, mode, 0) < 0)
                return -errno;
        return 0;
}

int state_prepare_launchers(int dirfd, uid_t uid, gid_t gid, const char **ret_failed) {
        const char *failed = STATE_SUPERVISOR_LOCK;
        int r = dir_hands_out(dirfd) ? supervisor_lock_share(dirfd, gid) : -EPERM;

        /* a live app's, bound before its launchers had this user (emberctl new on it) */
        if (r >= 0 && (r = socket_share(dirfd, STATE_WAKE_SOCK, gid)) < 0)
                failed = STATE_WAKE_SOCK;
        if (r >= 0 && (r = socket_share(dirfd, STATE_RELAY_SOCK, gid)) < 0)
                failed = STATE_RELAY_SOCK;
        /* all of them, whatever fails: the last one made tells launchers they may go on (state_launchers_prepared) */
        for (size_t i = 0; i < ELEMENTSOF(launcher_files); i++) {
                int k = prepare_file(dirfd, i, uid, gid);
                if (k < 0 && r >= 0) {
                        r = k;
                        failed = launcher_files[i].name;
                }
        }
        if (r < 0 && ret_failed)
                *ret_failed = failed;
        return r;
}

bool state_launchers_prepared(int dirfd) {
        struct stat st;
        /* the last one state_prepare_launchers() makes */
        return fstatat(dirfd, launcher_files[ELEMENTSOF(launcher_files) - 1].name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}
