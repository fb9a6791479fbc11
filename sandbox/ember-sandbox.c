/* ember-sandbox: the backend's supervisor. Starts the backend under the seccomp sandbox, tells waiting launchers
 * when it is ready, stops it after the idle period, and records each run. See ember-sandbox(8). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bill.h"
#include "audit.h"
#include "confine.h"
#include "daemon.h"
#include "exit-status.h"
#include "launchers.h"
#include "log.h"
#include "macro.h"
#include "options.h"
#include "parse.h"
#include "protocol.h"
#include "supervisor.h"
#include "state.h"
#include "timeutil.h"

#define HEAL_INTERVAL_USEC USEC_PER_SEC
#define PROBE_MAX_USEC (25 * USEC_PER_MSEC)
#define ANCHOR_CHECK_USEC (50 * USEC_PER_MSEC)

static int confine_or_report(confine *c, const sandbox_options *opt) {
        _cleanup_free_ char *error = NULL;
        int r = confine_prepare(c, opt->policy, opt->user, &error);

        if (r >= 0 && opt->state_dir)
                r = confine_state_dir(c, opt->state_dir, &error);
        if (r >= 0 && opt->landlock)
                r = confine_files(c, opt->rw_paths, opt->n_rw_paths, &error);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                return r == -ESRCH ? -ERR_USAGE : r == -ENOMEM ? r : -ERR_POLICY;
        }
        return 0;
}

/* The backend's user or policy could not be had (a user removed, a policy file broken): a start that fails at once,
 * counted as a crash so that the next start waits out the backoff. Otherwise the launchers left in the wake socket's
 * backlog would start us again at once, until systemd's start or trigger limit ended the app for good. */
static int confine_failed(supervisor *s, int error) {
        if (s->report_fd >= 0)
                upgrade_report(s, UPGRADE_FAILED,
                               "the backend's user or policy could not be set up; see the journal");
        else {
                run_crashed(s->dirfd);
                record_failure(s, "start-failed", "the backend's user or policy could not be set up");
        }
        return error;
}

/* Without --app: a standalone tool like bwrap. */
static int run_standalone(const sandbox_options *opt) {
        confine c = {};
        int r = confine_or_report(&c, opt);

        if (r < 0)
                return r;
        r = confine_exec(&c, NULL, 0, opt->command);
        log_error_errno(r, "Failed to execute %s", opt->command[0]);
        return r == -ENOENT || r == -EACCES ? -ERR_NOT_EXECUTED : r;
}

static uint64_t now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* READY=1 from a TCP backend is believed only if no listener on its address is a stranger's (listener.c): one
 * that nobody holds in our network namespace is a port forwarded elsewhere, as the backend says. */
static int ready_said(supervisor *s) {
        event_arg a = {};

        if (s->address.sa.sa_family != AF_UNIX && backend_listener_check(s, &a.holder) == -EADDRINUSE)
                return supervisor_on(s, EV_PORT_TAKEN, &a);
        return supervisor_on(s, EV_READY, NULL);
}

/* 0 to go on; -errno once the run is over (a stranger on the backend's port). */
static int read_notify(supervisor *s) {
        char buf[4096];
        ssize_t n;

        while ((n = recv(s->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
                buf[n] = '\0';
                for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                        if (strcmp(line, "READY=1") == 0 && backend_starting(s))
                                return ready_said(s);
        }
        return 0;
}

/* Under the lock: the true number of live connections, healed from the leases if launchers were killed. */
static int live_count(supervisor *s, uint64_t *count) {
        char f[48];
        int r = refcount_heal(s->dirfd, count);

        if (r > 0) {
                snprintf(f, sizeof(f), "EMBER_CONNECTIONS=%" PRIu64, *count);
                log_event(LOG_WARNING, FIELDS("EMBER_EVENT=heal", f),
                          "Refcount corrected to %" PRIu64 " live connections (a launcher died without leaving)", *count);
        }
        return r;
}

/* Under the lock: replaced by an upgrade's generation since we last looked? */
static void check_replaced(supervisor *s) {
        if (replaced(s))
                (void) supervisor_on(s, EV_REPLACED, NULL);
}

/* The generation an upgrade's would replace is gone. */
static bool upgrade_orphaned(supervisor *s) {
        return supervisor_role(s) == ROLE_PENDING && supervisor_find_generation(s->dirfd, s->previous, NULL) == 0;
}

/* The serving generation's connections under the lock, for the idle clock: 0 and *COUNT, or -errno (said). */
static int count_connections(supervisor *s, int locked, uint64_t *count) {
        int r = locked;

        if (s->cgroup_fd >= 0)
                record_bill(s);
        if (r >= 0)
                r = live_count(s, count);
        if (r < 0 && r != -ETIMEDOUT) /* -ETIMEDOUT: said once by supervisor_lock(); the next tick tries again */
                log_warning_errno(r, "Failed to check the connection count");
        return r;
}

/* Every second, and when the last connection left or the idle deadline came: the state directory, the upgrade's
 * generations and the idle clock (armed when nobody is connected, disarmed when someone is), each an event once
 * seen. RUN_OVER or -errno if the run is over, else 0. */
static int heartbeat(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t count;
        int r;

        s->heal_at = now() + HEAL_INTERVAL_USEC;
        if (s->state == SUP_ANCHORING) /* no generation of its own: nothing of the app's state is its to keep */
                return 0;
        if (!state_dir_intact(s))
                return supervisor_on(s, EV_STATE_LOST, NULL);
        if (upgrade_orphaned(s))
                return supervisor_on(s, EV_ORPHANED, NULL);
        r = supervisor_lock(s, &lock);
        if (r >= 0)
                check_replaced(s);
        if (supervisor_role(s) != ROLE_SERVING) /* only the serving generation keeps the idle clock */
                return 0;
        if (count_connections(s, r, &count) < 0)
                return 0;
        if (s->state == SUP_FROZEN) {
                /* connections counted meanwhile are launchers about to wake us through wake.sock */
                if (now() >= s->freeze_deadline)
                        return supervisor_on(s, EV_FREEZE_OVER, NULL);
                s->idle_deadline = s->freeze_deadline;
                return 0;
        }
        if (count > 0 || s->opt->idle == USEC_INFINITY) {
                s->idle_deadline = USEC_INFINITY;
                return 0;
        }
        if (s->idle_deadline == USEC_INFINITY) {
                s->idle_deadline = usec_add(now(), s->opt->idle);
                return 0;
        }
        if (now() < s->idle_deadline)
                return 0;
        return supervisor_on(s, EV_IDLE, NULL);
}

/* Fixed-port upgrade: the generation before us, whose backend holds our port, is gone. */
static bool previous_gone(supervisor *s) {
        return supervisor_find_generation(s->dirfd, s->previous, NULL) <= 0;
}

/* 0 to go on; -errno once the run is over (a stranger on the backend's port). */
static int probe_step(supervisor *s) {
        event_arg a = {};
        int r = probe_backend(s, &a.holder);

        if (r == -EADDRINUSE)
                return supervisor_on(s, EV_PORT_TAKEN, &a);
        if (r >= 0)
                return supervisor_on(s, EV_READY, NULL);
        s->probe_step = s->probe_step * 2 > PROBE_MAX_USEC ? PROBE_MAX_USEC : s->probe_step * 2;
        s->probe_at = now() + s->probe_step;
        return 0;
}

static uint64_t next_deadline(const supervisor *s) {
        uint64_t t = s->heal_at;
        if (s->probe_at < t)
                t = s->probe_at;
        if (s->start_deadline < t)
                t = s->start_deadline;
        if (s->idle_deadline < t)
                t = s->idle_deadline;
        if (s->state == SUP_DRAINING && s->drain_check_at < t)
                t = s->drain_check_at;
        if (s->state == SUP_AWAITING_PREVIOUS)
                t = now() + 25 * USEC_PER_MSEC;
        if (s->state == SUP_ANCHORING)
                t = now() + ANCHOR_CHECK_USEC;
        return t;
}

/* 0 to go on; RUN_OVER or -errno once the run is over. */
static int handle_signals(supervisor *s) {
        struct signalfd_siginfo si;
        event_arg a = {};

        while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                        if (s->backend > 0 && reap_backend(s, &a.status) == 1)
                                return supervisor_on(s, EV_BACKEND_EXITED, &a);
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        continue;
                }
                if (si.ssi_signo == SIGUSR1) { /* an upgrade's generation took over */
                        _cleanup_close_ int lock = -1;
                        if (supervisor_lock(s, &lock) >= 0)
                                check_replaced(s);
                        continue;
                }
                return supervisor_on(s, EV_STOP, NULL);
        }
        return 0;
}

static void drain(int fd) {
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* The unit's main process, staying: the later generations all gone, or the serving one killed. */
static int check_later_generations(supervisor *s) {
        if (!other_generations_left(s))
                return supervisor_on(s, EV_LATER_GONE, NULL);
        if (serving_lost(s))
                return supervisor_on(s, EV_SERVING_LOST, NULL);
        return 0;
}

/* Until the run is over (and, for the unit's main process, the generations upgrades started beside it): RUN_OVER if
 * it ended in order, else -errno. */
static int run(supervisor *s) {
        for (;;) {
                uint64_t t = now(), next;
                int r;

                if (backend_starting(s) && t >= s->start_deadline)
                        return supervisor_on(s, EV_START_TIMEOUT, NULL);
                if (backend_starting(s) && t >= s->probe_at && (r = probe_step(s)) != 0)
                        return r;
                if (s->state == SUP_AWAITING_PREVIOUS && previous_gone(s) &&
                    (r = supervisor_on(s, EV_PREVIOUS_GONE, NULL)) != 0)
                        return r;
                if (s->state == SUP_DRAINING && t >= s->drain_check_at &&
                    (r = supervisor_on(s, EV_DRAIN_CHECK, NULL)) != 0)
                        return r;
                if (s->state == SUP_ANCHORING && (r = check_later_generations(s)) != 0)
                        return r;
                if ((t >= s->heal_at || t >= s->idle_deadline) && (r = heartbeat(s)) != 0)
                        return r;

                next = next_deadline(s);
                t = now();
                struct pollfd p[7] = {
                        { .fd = s->signal_fd, .events = POLLIN },
                        { .fd = supervisor_role(s) == ROLE_SERVING ? s->listen_fd : -1, .events = POLLIN },
                        { .fd = s->notify_fd, .events = POLLIN },
                        { .fd = s->inotify_fd, .events = POLLIN },
                        { .fd = s->handoff_fd, .events = POLLIN },
                        { .fd = s->relay_fd, .events = POLLIN },
                        { .fd = s->output_fd, .events = POLLIN }, /* -1 but with --idle-action=checkpoint */
                };
                r = poll(p, ELEMENTSOF(p), poll_ms_until(next));
                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "poll failed");
                if (p[0].revents && (r = handle_signals(s)) != 0)
                        return r;
                if (p[1].revents) {
                        (void) supervisor_on(s, EV_WAITER, NULL); /* frozen: thawed before it is answered */
                        accept_waiters(s);
                }
                if (p[2].revents && (r = read_notify(s)) != 0)
                        return r;
                if (p[4].revents)
                        hand_off_wake_socket(s);
                if (p[5].revents)
                        accept_relays(s);
                if (p[6].revents)
                        checkpoint_relay_output(s);
                if (p[3].revents) {
                        drain(s->inotify_fd);
                        s->idle_deadline = USEC_INFINITY; /* the last one just left: a fresh idle period */
                        if ((r = heartbeat(s)) != 0)
                                return r;
                }
        }
}

/* Under the lock: the first generation of a run from cold, unless the app's supervisor is alive (generations
 * still draining after theirs was killed keep their connections, and do not count). */
static int take_lifetime_lock(supervisor *s) {
        pid_t other = 0;
        int r;

        r = app_supervisor_find(s->dirfd, &other);
        if (r < 0)
                return log_error_errno(r, "Failed to check for another supervisor"), -ERR_STATE_DIR;
        if (r > 0) {
                log_error("Another ember-sandbox (pid %d) already supervises %s", (int) other, s->opt->app);
                return -ERR_BACKEND_FAILED;
        }
        /* A state a killed supervisor left (warm, starting, stopping) is reset and reported here as a launcher would
         * (EMBER_EVENT=stale-state): a cold start's instance begins us in its own transaction, often before its
         * launcher looks. */
        app_state settled;
        (void) app_state_settle(s->dirfd, &settled);
        generations_sweep(s->dirfd);
        return allocate_generation(s);
}

/* Under the lock: record the new run and fork the backend. 0, or -errno (logged; the run is over). */
static int begin_run(supervisor *s) {
        uint64_t count;
        int r;

        if (live_count(s, &count) < 0)
                count = 0;
        r = prepare_run(s, s->notify_path, sizeof(s->notify_path));
        if (r < 0)
                return r;
        /* This run serves the connections already waiting for it, and every one counted from now on. */
        (void) state_read_u64(s->dirfd, STATE_CONNECTIONS, &s->connections_at_start);
        s->connections_at_start = s->connections_at_start > count ? s->connections_at_start - count : 0;
        /* without a cgroup the last run's peak stays until this one ends and says its own */
        run_begins(s->dirfd, s->cgroup_fd >= 0);
        set_state(s, APP_STARTING);
        return launch_backend(s, s->opt->ready_notify ? s->notify_path : NULL);
}

static int open_signals(supervisor *s) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return s->signal_fd < 0 ? -errno : 0;
}

/* The first generation after cold: wake.sock from the socket unit (or the launcher), and the backend. */
static int begin_cold(supervisor *s) {
        int r = take_lifetime_lock(s);

        /* refuse before touching anything, wake.sock included, if another supervisor is alive */
        if (r < 0)
                return r;
        r = open_wake_socket(s);
        if (r == -EEXIST)
                return log_error("%s/%s exists (NAME-backend.socket's, or a stale one): start the app through its "
                                 "socket unit, or remove it", s->dir_path, STATE_WAKE_SOCK), -ERR_BACKEND_FAILED;
        if (r < 0)
                return log_error_errno(r, "Failed to set up %s", STATE_WAKE_SOCK);
        r = open_handoff_socket(s);
        if (r < 0) /* not fatal: only an upgrade needs it, and says so */
                log_warning_errno(r, "Failed to create the upgrade hand-off socket");
        kernel_relay_open(s); /* ours for the unit's life: later generations' connections come here too */
        return begin_run(s);
}

/* One generation's supervisor, from its start to its end: RUN_OVER (or 0) if it ended in order, else -errno. */
static int supervise(const sandbox_options *opt) {
        static supervisor s = {
                .dirfd = -1, .listen_fd = -1, .notify_fd = -1, .signal_fd = -1, .inotify_fd = -1, .lifetime_fd = -1,
                .cgroup_fd = -1, .freeze_cgroup_fd = -1, .freeze_procs_fd = -1, .output_fd = -1, .output_wr = -1, .report_fd = -1, .handoff_fd = -1, .notify_name = STATE_NOTIFY_SOCK,
                .relay_fd = -1, .relay_peers = -1, .relay_sources = -1, .relay_flows = -1,
                .probe_at = USEC_INFINITY, .start_deadline = USEC_INFINITY, .idle_deadline = USEC_INFINITY,
                .drain_check_at = USEC_INFINITY,
        };
        int r;

        s.opt = opt;
        s.address = opt->backend;
        enter_state(&s, opt->upgrade ? SUP_UPGRADING : SUP_STARTING);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would hide how the backend ended */
        r = opt->upgrade ? upgrade_foreground(&s.report_fd) : 0;
        if (r < 0)
                return log_error_errno(r, "Failed to fork the upgrade's supervisor");
        r = state_open(opt->app, true, &s.dirfd);
        if (r < 0) {
                log_error_errno(r, "Refusing state directory %s/%s", runtime_dir(), opt->app);
                upgrade_report(&s, UPGRADE_FAILED, "refusing state directory %s/%s: %s", runtime_dir(), opt->app,
                               strerror(-r));
                return state_refused(r) ? -ERR_STATE_REFUSED : -ERR_STATE_DIR;
        }
        (void) state_dir_path(opt->app, s.dir_path, sizeof(s.dir_path));
        if (launchers_prepare(s.dirfd, opt) < 0)
                return -ERR_STATE_DIR;
        (void) bill_cgroup_open(&s.cgroup_fd);
        if (!opt->upgrade)
                crash_backoff(s.dirfd);
        r = confine_or_report(&s.confine, s.opt);
        if (r < 0)
                return confine_failed(&s, r);
        r = open_signals(&s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signal handling");
        {
                _cleanup_close_ int lock = -1;
                r = state_lock_until(s.dirfd, deadline_in(opt->start_timeout), &lock);
                if (r < 0) /* -ETIMEDOUT: held for the whole start timeout, by a frozen launcher */
                        return log_error_errno(r, "Failed to take the state lock"),
                               r == -ETIMEDOUT ? -ERR_NOT_NOW : -ERR_STATE_DIR;
                r = opt->upgrade ? begin_upgrade(&s) : begin_cold(&s);
                if (r != 0)
                        return r;
        }
        s.heal_at = s.started + HEAL_INTERVAL_USEC;
        return run(&s);
}

/* What ember-sandbox was asked to do, done: 0 or positive if it went as it should, else -errno (logged). */
static int run_ember_sandbox(int argc, char *argv[]) {
        sandbox_options opt;
        int r = parse_argv(argc, argv, &opt);

        if (r <= 0) /* --help, or a usage error said on stderr */
                return r < 0 ? -ERR_USAGE : 0;
        if (!opt.app) {
                log_setup("ember-sandbox", NULL);
                return run_standalone(&opt);
        }
        log_setup("ember-sandbox", opt.app);
        checkpoint_save_argv(argv);
        if (launch_user_resolve(&opt) < 0)
                return -ERR_USAGE;
        return opt.prepare ? prepare_only(&opt) : supervise(&opt);
}

/* The exit status, decided here only (as systemd's DEFINE_MAIN_FUNCTION does). */
int main(int argc, char *argv[]) {
        return exit_status(run_ember_sandbox(argc, argv));
}
