/* emberctl stop: under systemd StopUnit on NAME-backend.service; in inetd mode SIGTERM to the app's supervisor,
 * named by the kernel as the holder of its lifetime lock. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "state.h"
#include "timeutil.h"

#define STOP_TIMEOUT_DEFAULT (15 * USEC_PER_SEC)

static void help_stop(FILE *f) {
        fprintf(f,
                "Usage: emberctl stop NAME [--timeout=DUR]\n"
                "Stop NAME's backend now: SIGTERM to its supervisor, which stops the backend and closes live\n"
                "connections; wait until the app is cold. The next connection wakes it again.\n\n"
                "  --timeout=DUR           how long to wait for the stop (default 15s)\n");
}

/* The supervisor, named by the kernel as the holder of its lifetime lock, as a pidfd: a pid reused between the
 * question and the signal cannot be hit, since the lock is asked again once the pidfd pins the process. */
static int supervisor_pidfd(int dirfd, pid_t *ret_pid) {
        _cleanup_close_ int pidfd = -1;
        pid_t pid = 0, again = 0;
        int r;

        r = app_supervisor_find(dirfd, &pid);
        if (r <= 0)
                return r;
        if (pid <= 0)
                return -ESRCH; /* alive, but in a pid namespace we cannot see into */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        r = app_supervisor_find(dirfd, &again);
        if (r <= 0 || again != pid)
                return r < 0 ? r : 0;
        *ret_pid = pid;
        return take_fd(&pidfd);
}

static int wait_pidfd(int pidfd, uint64_t deadline) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        do {
                r = poll(&p, 1, poll_ms_until(deadline));
                if (r > 0)
                        return 0;
        } while ((r == 0 && now_usec(CLOCK_MONOTONIC) < deadline) || (r < 0 && errno == EINTR));
        return r < 0 ? -errno : -ETIMEDOUT;
}

static int say_not_running(int dirfd, const char *app) {
        app_status st;

        if (app_status_read(dirfd, &st) >= 0 && st.stale)
                printf("%s is not running (its recorded state '%s' is stale: the supervisor is gone; the next "
                       "connection starts afresh).\n", app, state_label(&st));
        else
                printf("%s is not running.\n", app);
        return 0;
}

static int signal_and_wait(int dirfd, const char *app, int pidfd, pid_t pid, uint64_t timeout) {
        app_status st;
        char t[32];

        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
                int e = errno;
                if (e == ESRCH) {
                        printf("%s is not running (its supervisor just exited).\n", app);
                        return 0;
                }
                log_error_errno(-e, "cannot signal the supervisor of %s (pid %d)%s", app, (int) pid,
                                e == EPERM ? "; run as root" : "");
                return e == EPERM ? -ECTL_REFUSED : -e;
        }
        if (wait_pidfd(pidfd, deadline_in(timeout)) < 0) {
                format_duration(timeout, t, sizeof(t));
                log_error("%s did not stop within %s (supervisor pid %d)", app, t, (int) pid);
                return -ECTL_UNAVAILABLE;
        }
        if (app_status_read(dirfd, &st) >= 0 && app_status_is_up(&st))
                printf("Stopped %s; a new connection has already woken it again (state %s).\n", app, state_label(&st));
        else
                printf("Stopped %s.\n", app);
        return 0;
}

/* Under systemd: StopUnit on the backend unit, waiting for the job, as systemctl stop does. 1 if it was one and
 * is stopped, 0 if this is no app of systemd's (inetd mode), or the error after saying why. */
static int stop_by_bus(const char *app) {
        char unit[APP_NAME_MAX + 32], active[32] = "";
        const char *result = NULL;
        sd_bus *bus = NULL;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return 0; /* no systemd here: an inetd-mode app */
        snprintf(unit, sizeof(unit), "%s-backend.service", app);
        if (!bus_unit_loaded(bus, unit)) {
                sd_bus_flush_close_unref(bus);
                return 0;
        }
        if (bus_unit_state(bus, unit, "ActiveState", active, sizeof(active)) >= 0 &&
            (strcmp(active, "inactive") == 0 || strcmp(active, "failed") == 0)) {
                printf("%s is not running (%s is %s).\n", app, unit, active);
                sd_bus_flush_close_unref(bus);
                return 1;
        }
        r = bus_unit_job(bus, "StopUnit", unit, &result);
        if (r == -EIO && result)
                log_error("stopping %s: job %s", unit, result);
        if (r >= 0)
                printf("Stopped %s.\n", app);
        sd_bus_flush_close_unref(bus);
        return r >= 0 ? 1 : job_error(r);
}

static int stop_app(const char *app, uint64_t timeout) {
        _cleanup_close_ int dirfd = -1, pidfd = -1;
        pid_t pid = 0;
        int r;

        r = stop_by_bus(app);
        if (r != 0)
                return r < 0 ? r : 0;
        /* inetd mode: the supervisor, named by the kernel as its lock's holder */

        r = state_open(app, false, &dirfd);
        if (r < 0)
                return status_error(app, r);
        pidfd = supervisor_pidfd(dirfd, &pid);
        if (pidfd == -ESRCH) {
                log_error("the supervisor of %s runs in a pid namespace this emberctl cannot see into", app);
                return -ECTL_REFUSED;
        }
        if (pidfd < 0)
                return status_error(app, pidfd);
        if (pidfd == 0)
                return say_not_running(dirfd, app);
        return signal_and_wait(dirfd, app, pidfd, pid, timeout);
}

static int stop_option(_unused_ int c, const char *arg, void *timeout) { /* -t, --timeout, the only one */
        return parse_duration_opt("timeout", arg, false, timeout);
}

int verb_stop(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "timeout", required_argument, NULL, 't' },
                {}
        };
        uint64_t timeout = STOP_TIMEOUT_DEFAULT;
        static const verb_spec spec = {
                .name = "stop", .short_options = "ht:", .options = options, .help = help_stop,
                .on_option = stop_option, .name_arg = VERB_NAME_REQUIRED,
        };
        const char *app;
        int r;

        r = verb_parse(&spec, argc, argv, &timeout, &app);
        if (r <= 0)
                return r;
        return stop_app(app, timeout);
}
