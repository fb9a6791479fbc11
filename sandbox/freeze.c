/* --idle-action=freeze: at the idle deadline the backend's processes are stopped where they stand (memory kept,
 * no CPU), and the next connection thaws them instead of starting a new backend.
 *
 * Two ways, the better where it can be had:
 * - cgroup v2: the backend runs in a cgroup of its own, "backend" under the unit's (the supervisor stays in the
 *   unit's, so it is never frozen with it), and cgroup.freeze stops every process in it, whatever process group or
 *   session it moved to; the kernel freezes them at a point where they hold no lock, and SIGKILL still ends them.
 *   Made only with --idle-action=freeze, so the default run has one cgroup, as before.
 * - elsewhere (cgroup v1, a read-only cgroup tree, inetd mode): SIGSTOP to the backend's process group, which the
 *   supervisor started (setsid in the child: the group's id is the backend's pid, held while it is our child). A
 *   process that left the group (a daemonizing server's setsid) keeps running; ember-sandbox(8) says so.
 * Nothing here runs unless the idle action is freeze. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "options.h"
#include "supervisor.h"

#define BACKEND_CGROUP "backend"

/* Before a run's fork: the backend's own cgroup under the unit's, and its cgroup.procs for the child to join.
 * Without a unit cgroup v2 (or where it cannot be made) the freeze falls back to SIGSTOP: said once. */
void freeze_prepare(supervisor *s) {
        static bool said;
        int r = 0;

        s->freeze_procs_fd = -1;
        if (s->opt->idle_action != IDLE_ACTION_FREEZE || supervisor_role(s) != ROLE_SERVING)
                return;
        if (s->freeze_cgroup_fd < 0) {
                if (s->cgroup_fd < 0)
                        r = -ENOENT;
                else if (mkdirat(s->cgroup_fd, BACKEND_CGROUP, 0755) < 0 && errno != EEXIST)
                        r = -errno;
                else if ((s->freeze_cgroup_fd = openat(s->cgroup_fd, BACKEND_CGROUP,
                                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        r = -errno;
        }
        if (r >= 0) {
                /* a backend that died frozen left its cgroup frozen: the next one must not start so */
                (void) freeze_write(s->freeze_cgroup_fd, "0");
                s->freeze_procs_fd = openat(s->freeze_cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (s->freeze_procs_fd < 0)
                        r = -errno;
        }
        if (r < 0 && !said) {
                said = true;
                log_info("No cgroup v2 freezer for the backend (%s): --idle-action=freeze stops its process group "
                         "with SIGSTOP instead", r == -ENOENT ? "no cgroup v2 of the unit's own" : strerror(-r));
        }
}

int freeze_write(int cgroup_fd, const char *value) {
        _cleanup_close_ int fd = openat(cgroup_fd, "cgroup.freeze", O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return write(fd, value, strlen(value)) < 0 ? -errno : 0;
}

/* In the child, first thing after fork: into the backend's cgroup, before it can start anything. A failure leaves
 * it in the unit's cgroup, where freeze_backend() does not find it and uses SIGSTOP. */
void freeze_child_join(const supervisor *s) {
        if (s->freeze_procs_fd >= 0)
                (void) !write(s->freeze_procs_fd, "0", 1);
}

/* After the fork, in the supervisor: the child has its own descriptor. */
void freeze_forked(supervisor *s) {
        closep(&s->freeze_procs_fd);
}

/* The backend is in its own cgroup (the child joined it): that cgroup's cgroup.procs names its pid. */
static bool backend_in_cgroup(const supervisor *s) {
        char buf[4096], *p;
        ssize_t n;
        _cleanup_close_ int fd = -1;

        if (s->freeze_cgroup_fd < 0)
                return false;
        fd = openat(s->freeze_cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
                return false;
        buf[n] = '\0';
        for (p = buf; *p; p = strchrnul(p, '\n'), p += *p == '\n')
                if (strtol(p, NULL, 10) == s->backend)
                        return true;
        return false;
}

int freeze_backend(supervisor *s) {
        if (s->backend <= 0)
                return -ESRCH;
        if (backend_in_cgroup(s)) {
                int r = freeze_write(s->freeze_cgroup_fd, "1");
                if (r >= 0) {
                        s->frozen = FROZEN_CGROUP;
                        return 0;
                }
                log_warning_errno(r, "Failed to freeze the backend's cgroup; stopping its process group instead");
        }
        if (kill(-s->backend, SIGSTOP) < 0)
                return -errno;
        s->frozen = FROZEN_SIGSTOP;
        return 0;
}

int thaw_backend(supervisor *s) {
        int r = 0;

        if (s->frozen == FROZEN_CGROUP)
                r = freeze_write(s->freeze_cgroup_fd, "0");
        else if (s->frozen == FROZEN_SIGSTOP && s->backend > 0 && kill(-s->backend, SIGCONT) < 0)
                r = -errno;
        s->frozen = NOT_FROZEN;
        return r;
}

const char *freeze_how(const supervisor *s) {
        return s->frozen == FROZEN_CGROUP ? "cgroup" : "sigstop";
}

/* The run is over and its backend reaped: its cgroup, now empty, goes (the next run makes it again). */
void freeze_release(supervisor *s) {
        if (s->freeze_cgroup_fd < 0)
                return;
        closep(&s->freeze_cgroup_fd);
        if (s->cgroup_fd >= 0)
                (void) unlinkat(s->cgroup_fd, BACKEND_CGROUP, AT_REMOVEDIR);
}
