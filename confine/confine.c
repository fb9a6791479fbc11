/* Confining the backend: everything that can fail slowly happens before fork, the child only makes syscalls. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine.h"
#include "files.h"
#include "user.h"
#include "macro.h"

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return 0;
}

/* A user systemd allocated for this unit (DynamicUser=, the supervisor kept root by "!") that NSS cannot name: no
 * libnss-systemd. Its group has the same number and it has no supplementary groups. */
static int lookup_dynamic_user(confine *c, const char *user) {
        uid_t uid;
        int r = dynamic_user_lookup(DYNAMIC_UID_DIR, user, &uid);

        if (r < 0)
                return r;
        c->uid = uid;
        c->gid = (gid_t) uid;
        c->n_groups = 0;
        c->drop_user = true;
        return 0;
}

static int lookup_user(confine *c, const char *user, char **ret_error) {
        struct passwd *pw;

        pw = user_lookup(user);
        if (!pw) {
                int r = -errno;
                if (r == -ESRCH && lookup_dynamic_user(c, user) == 0)
                        return 0;
                if (r == -ESRCH)
                        set_error(ret_error, "unknown user '%s'", user);
                else
                        set_error(ret_error, "cannot look up user '%s': %s", user, strerror(-r));
                return r;
        }
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;

        int n = 16;
        for (;;) {
                gid_t *g = realloc(c->groups, (size_t) n * sizeof(gid_t));
                if (!g) {
                        set_error(ret_error, "out of memory");
                        return -ENOMEM;
                }
                c->groups = g;
                int k = n;
                if (getgrouplist(pw->pw_name, pw->pw_gid, c->groups, &k) >= 0) {
                        c->n_groups = k;
                        break;
                }
                if (k <= n) /* should not happen; don't loop forever */
                        k = n * 2;
                if (k > 65536) {
                        set_error(ret_error, "user '%s' is in too many groups", user);
                        return -E2BIG;
                }
                n = k;
        }
        c->drop_user = true;
        return 0;
}

int confine_prepare(confine *c, const char *policy_spec, const char *user, char **ret_error) {
        int r;

        if (ret_error)
                *ret_error = NULL;
        *c = (confine) {};
        if (user && user[0]) {
                r = lookup_user(c, user, ret_error);
                if (r < 0) {
                        confine_done(c);
                        return r;
                }
        }
        r = policy_load(policy_spec ?: "default", &c->policy, ret_error);
        if (r < 0) {
                confine_done(c);
                return r;
        }
        return 0;
}

int confine_files(confine *c, char *const *rw_paths, size_t n_rw, char **ret_error) {
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = files_ruleset(rw_paths, n_rw, &c->files_fd, ret_error);
        c->files = r >= 0;
        return r;
}

/* NAME in the directory DIRFD, made with MODE if missing: an O_PATH descriptor of it, *RET_MADE whether it was made. A
 * symbolic link there is refused (O_NOFOLLOW): the tree may belong to another app's user. */
static int dir_step(int dirfd, const char *name, mode_t mode, bool *ret_made) {
        int fd;

        *ret_made = mkdirat(dirfd, name, mode) >= 0;
        if (!*ret_made && errno != EEXIST)
                return -errno;
        fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int confine_state_dir(const confine *c, const char *path, char **ret_error) {
        char copy[PATH_MAX], *save = NULL, *next;
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        bool made = false;
        int r = fd < 0 ? -errno : 0;

        if (ret_error)
                *ret_error = NULL;
        if (snprintf(copy, sizeof(copy), "%s", path) >= (int) sizeof(copy))
                r = -ENAMETOOLONG;
        for (char *name = strtok_r(copy, "/", &save); r >= 0 && name; name = next) {
                next = strtok_r(NULL, "/", &save);
                r = dir_step(fd, name, next ? 0755 : 0750, &made);
                if (r >= 0) {
                        close(fd);
                        fd = r;
                }
        }
        if (r >= 0 && made && c->drop_user && fchownat(fd, "", c->uid, c->gid, AT_EMPTY_PATH) < 0)
                r = -errno;
        if (r >= 0 && setenv("STATE_DIRECTORY", path, 1) < 0)
                r = -errno;
        if (r < 0) {
                set_error(ret_error, "cannot make the state directory %s: %s%s", path, strerror(-r),
                          r == -ENOTDIR || r == -ELOOP ? " (it, or a directory on the way, is not a directory)" : "");
                return r == -ELOOP ? -ENOTDIR : r;
        }
        return 0;
}

void confine_done(confine *c) {
        if (!c)
                return;
        if (c->files)
                close(c->files_fd);
        policy_free(c->policy);
        free(c->groups);
        *c = (confine) {};
}

static int close_from(int lo, int hi) {
        if (lo > hi)
                return 0;
        if (syscall(SYS_close_range, (unsigned) lo, (unsigned) hi, 0) >= 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
        /* Kernels before 5.9: walk up to the fd limit. */
        struct rlimit rl;
        int max = getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < INT_MAX
                          ? (int) rl.rlim_cur - 1
                          : 65535;
        for (int fd = lo; fd <= hi && fd <= max; fd++)
                (void) close(fd);
        return 0;
}

/* Closes every fd >= 3 that is not in keep, without allocating: repeatedly the next kept fd above lo. */
static int close_all_but(const int *keep, size_t n_keep) {
        int lo = 3, r;

        for (;;) {
                int next = INT_MAX;
                for (size_t i = 0; i < n_keep; i++)
                        if (keep[i] >= lo && keep[i] < next)
                                next = keep[i];
                if (next == INT_MAX)
                        return close_from(lo, INT_MAX);
                r = close_from(lo, next - 1);
                if (r < 0)
                        return r;
                lo = next + 1;
        }
}

static int reset_signals(void) {
        /* The raw system call, so that the C library's reserved real-time signals are reset too: an all-zero
         * kernel struct sigaction is SIG_DFL, no flags, empty mask, whatever the architecture's layout. */
        static const unsigned long dfl[16] = {};
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t) (_NSIG - 1) / 8);
        sigemptyset(&none);
        return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? -errno : 0;
}

static int drop_user(const confine *c) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;

        /* Unprivileged and already that user (e.g. --user=$USER in a test): nothing to change, only verify. */
        bool already = geteuid() != 0 && getuid() == c->uid && getgid() == c->gid;

        if (!already) {
                if (setgroups((size_t) c->n_groups, c->groups) < 0)
                        return -errno;
                if (setresgid(c->gid, c->gid, c->gid) < 0)
                        return -errno;
                if (setresuid(c->uid, c->uid, c->uid) < 0)
                        return -errno;
        }
        /* Verify, don't trust. */
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        if (ru != c->uid || eu != c->uid || su != c->uid || rg != c->gid || eg != c->gid || sg != c->gid)
                return -EPERM;
        if (!already && getgroups(0, NULL) != c->n_groups)
                return -EPERM;
        if (c->uid != 0 && (setuid(0) >= 0 || seteuid(0) >= 0))
                return -EPERM;
        return 0;
}

int confine_exec(const confine *c, const int *keep_fds, size_t n_keep, char *const argv[]) {
        int r;

        if (!c || !argv || !argv[0])
                return -EINVAL;
        r = reset_signals();
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        /* while its descriptor is still open: close_all_but() closes it */
        if (c->files) {
                r = files_restrict(c->files_fd);
                if (r < 0)
                        return r;
        }
        r = close_all_but(keep_fds, n_keep);
        if (r < 0)
                return r;
        if (c->drop_user) {
                r = drop_user(c);
                if (r < 0)
                        return r;
        }
        if (c->parent_death_signal) {
                if (prctl(PR_SET_PDEATHSIG, c->parent_death_signal, 0, 0, 0) < 0)
                        return -errno;
                if (getppid() != c->parent)
                        return -ESRCH; /* it died before the signal was armed */
        }
        r = policy_apply(c->policy);
        if (r < 0)
                return r;
        execvp(argv[0], argv);
        return -errno;
}
