/* ember-sandbox: the backend's supervisor. Starts the backend under the seccomp sandbox, tells waiting launchers
 * when it is ready, stops it after the idle period, and records each run. See ember-sandbox(8). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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
#include "log.h"
#include "macro.h"
#include "usage.h"
#include "parse.h"
#include "protocol.h"
#include "supervisor.h"
#include "state.h"
#include "timeutil.h"

static const char *arg_app;
static ember_addr arg_backend;
static bool arg_have_backend;
static uint64_t arg_idle = 60 * USEC_PER_SEC;
static uint64_t arg_start_timeout = 30 * USEC_PER_SEC;
static uint64_t arg_stop_timeout = 10 * USEC_PER_SEC;
static bool arg_ready_notify;
static const char *arg_policy = "default";
static const char *arg_user;
static char **arg_command;

#define HEAL_INTERVAL_USEC USEC_PER_SEC
#define LOCK_WAIT_USEC USEC_PER_SEC
#define PROBE_MAX_USEC (25 * USEC_PER_MSEC)
#define BACKOFF_FORGET_SEC 300 /* a crash longer ago than this does not slow the next start */

static void help(FILE *f) {
        fprintf(f,
                "Usage: ember-sandbox --app=NAME --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "       ember-sandbox [--policy=SPEC] [--user=USER] -- COMMAND [ARG...]\n"
                "Supervise an ember backend: start COMMAND under the seccomp sandbox, report readiness to waiting\n"
                "launchers, stop it after the idle period. Without --app, only confine and exec COMMAND.\n\n"
                "  --app=NAME              application name, [A-Za-z0-9_.-]+\n"
                "  --backend=ADDR          address the backend listens on (readiness probe)\n"
                "  --idle=DUR              stop after DUR without connections (default 60s, or infinity)\n"
                "  --ready=connect|notify  ready on first successful connect (default) or on READY=1\n"
                "  --policy=SPEC           default, strict, none or a .policy file (default: default)\n"
                "  --user=USER             run the backend as USER\n"
                "  --start-timeout=DUR     give up on a backend not ready within DUR (default 30s)\n"
                "  --stop-timeout=DUR      SIGKILL a backend still running DUR after SIGTERM (default 10s)\n"
                "  -h, --help              show this help\n");
}

/* What the options say together, and COMMAND after "--". */
static int check_argv(int argc, char *argv[]) {
        if (optind >= argc)
                return usage_error("%s", "missing COMMAND (put it after --)");
        if (strcmp(argv[optind - 1], "--") != 0)
                return usage_error("unexpected argument '%s' (put the backend command after --)", argv[optind]);
        if (arg_app && !arg_have_backend)
                return usage_error("%s", "--backend=ADDR is required with --app");
        if (!arg_app && arg_have_backend)
                return usage_error("%s", "--backend needs --app (without --app ember-sandbox only confines and execs)");
        arg_command = argv + optind;
        return 1;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_APP = 0x100, ARG_BACKEND, ARG_IDLE, ARG_READY, ARG_POLICY, ARG_USER, ARG_START_TIMEOUT,
               ARG_STOP_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "app", required_argument, NULL, ARG_APP },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "idle", required_argument, NULL, ARG_IDLE },
                { "ready", required_argument, NULL, ARG_READY },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "user", required_argument, NULL, ARG_USER },
                { "start-timeout", required_argument, NULL, ARG_START_TIMEOUT },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                {}
        };
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case ARG_APP:
                        r = usage_parse_app(optarg, &arg_app);
                        break;
                case ARG_BACKEND:
                        r = usage_parse_addr("backend", optarg, &arg_backend);
                        arg_have_backend = true;
                        break;
                case ARG_IDLE:
                        r = usage_parse_duration("idle", optarg, true, &arg_idle);
                        break;
                case ARG_START_TIMEOUT:
                        r = usage_parse_duration("start-timeout", optarg, false, &arg_start_timeout);
                        break;
                case ARG_STOP_TIMEOUT:
                        r = usage_parse_duration("stop-timeout", optarg, false, &arg_stop_timeout);
                        break;
                case ARG_READY:
                        if (strcmp(optarg, "connect") != 0 && strcmp(optarg, "notify") != 0)
                                return usage_error("invalid --ready '%s': use connect or notify", optarg);
                        arg_ready_notify = strcmp(optarg, "notify") == 0;
                        break;
                case ARG_POLICY:
                        if (!*optarg)
                                return usage_error("%s", "--policy needs default, strict, none or a file");
                        arg_policy = optarg;
                        break;
                case ARG_USER:
                        if (!*optarg)
                                return usage_error("%s", "--user needs a user name or uid");
                        arg_user = optarg;
                        break;
                default:
                        return usage_bad_option(c, argv);
                }
                if (r < 0)
                        return r;
        }
        return check_argv(argc, argv);
}

static int confine_or_report(confine *c) {
        _cleanup_free_ char *error = NULL;
        int r = confine_prepare(c, arg_policy, arg_user, &error);

        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                return r == -ESRCH ? EXIT_USAGE : r == -ENOMEM ? EXIT_OSERR : EXIT_CONFIG;
        }
        return 0;
}

/* Without --app: a standalone tool like bwrap. */
static int run_standalone(void) {
        confine c = {};
        int r = confine_or_report(&c);

        if (r != 0)
                return r;
        r = confine_exec(&c, NULL, 0, arg_command);
        log_error_errno(r, "Failed to execute %s", arg_command[0]);
        return r == -ENOENT || r == -EACCES ? 127 : EXIT_OSERR;
}

static uint64_t now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* The state lock, waited for at most a second: a holder that never lets go (frozen, traced) must not stop us from
 * telling waiters, stopping or healing. Without it a transition goes ahead unlocked; a tick is skipped. Said once
 * per stretch of trouble. */
static int supervisor_lock(supervisor *s, int *ret) {
        int r = state_lock_until(s->dirfd, deadline_in(LOCK_WAIT_USEC), ret);

        if (r == -ETIMEDOUT && !s->lock_stuck)
                log_warning("The state lock of %s has been held by someone for over a second (a frozen launcher?); "
                            "going on without it", s->dir_path);
        s->lock_stuck = r == -ETIMEDOUT;
        return r;
}

static void set_state(supervisor *s, app_state state) {
        int r = app_state_set(s->dirfd, state);
        if (r < 0)
                log_warning_errno(r, "Failed to record state %s", app_state_to_string(state));
}

static void became_ready(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t ms = (now() - s->started) / USEC_PER_MSEC;
        char f[48];

        s->ready = true;
        s->probe_at = s->start_deadline = USEC_INFINITY;
        if (supervisor_lock(s, &lock) >= 0) {
                set_state(s, APP_WARM);
                (void) state_write_u64(s->dirfd, STATE_READY_MS, ms);
                count_cold_start(s, ms);
                (void) state_write_u64(s->dirfd, STATE_CRASHES, 0);
        }
        snprintf(f, sizeof(f), "EMBER_READY_MS=%" PRIu64, ms);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=ready", f), "Backend ready after %" PRIu64 " ms", ms);
        (void) notify_send("READY=1\nSTATUS=backend warm");
        tell_waiters(s, true);
}

static void read_notify(supervisor *s) {
        char buf[4096];
        ssize_t n;

        while ((n = recv(s->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
                buf[n] = '\0';
                for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                        if (strcmp(line, "READY=1") == 0 && !s->ready)
                                became_ready(s);
        }
}

/* The end of a backend run, under the lock: the next connection finds "cold" and starts a new one. */
static void mark_cold(supervisor *s) {
        set_state(s, APP_COLD);
        (void) unlinkat(s->dirfd, STATE_BACKEND_PID, 0);
        (void) unlinkat(s->dirfd, STATE_SUPERVISOR_PID, 0);
        if (s->notify_fd >= 0)
                (void) unlinkat(s->dirfd, STATE_NOTIFY_SOCK, 0);
        if (s->owns_wake)
                (void) unlinkat(s->dirfd, STATE_WAKE_SOCK, 0);
        closep(&s->listen_fd);
        s->listen_fd = -1;
        tell_waiters(s, false);
}

#ifdef EMBER_TEST_HOOKS
/* Test builds only (sandbox/ember-sandbox-test): with EMBER_TEST_HOLD_STOPPING=DIR the supervisor, in "stopping"
 * and holding the state lock, creates DIR/held and waits until DIR/release exists. A test then connects inside the
 * window on purpose instead of hoping a sleep lands there. */
static void test_hold_stopping(void) {
        const char *dir = getenv("EMBER_TEST_HOLD_STOPPING");
        char held[PATH_MAX], release[PATH_MAX];

        if (!dir)
                return;
        snprintf(held, sizeof(held), "%s/held", dir);
        snprintf(release, sizeof(release), "%s/release", dir);
        int fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                close(fd);
        while (access(release, F_OK) < 0)
                (void) poll(NULL, 0, 10);
        (void) unlink(release);
        (void) unlink(held);
}
#else
static void test_hold_stopping(void) {
}
#endif

/* Stops the backend on purpose (idle, SIGTERM, start timeout), holding the lock so no connection slips in. */
static void stop_locked(supervisor *s, const char *event, const char *why) {
        int status = 0;

        set_state(s, APP_STOPPING);
        test_hold_stopping();
        (void) notify_send("STOPPING=1");
        kill_backend(s, &status);
        log_run_end(s, event, strcmp(event, "start-timeout") == 0 ? LOG_ERR : LOG_INFO, why);
        mark_cold(s);
}

/* The backend ended on its own: a crash, a seccomp kill, or an exit with status 0 (a server with an idle timeout of
 * its own), which is no failure and slows no later start. */
static int backend_died(supervisor *s, int status) {
        _cleanup_close_ int lock = -1;
        char why[128], sys[64];
        pid_t pid = s->backend;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

        s->backend = 0;
        (void) kill(-pid, SIGKILL); /* what it left behind in its process group (a daemonizing server's child) */
        (void) supervisor_lock(s, &lock);
        if (!clean) {
                (void) state_add_u64(s->dirfd, STATE_CRASHES, 1, NULL);
                (void) state_write_u64(s->dirfd, STATE_LAST_CRASH, (uint64_t) time(NULL));
        }
        describe_exit(status, why, sizeof(why));
        if (clean)
                log_run_end(s, "exit", LOG_NOTICE, why);
        else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
                if (audit_seccomp_killed_syscall(pid, sys, sizeof(sys)) >= 0)
                        snprintf(why, sizeof(why), "killed by seccomp (syscall %s)", sys);
                else
                        snprintf(why, sizeof(why), "killed by seccomp (syscall unknown)");
                log_run_end(s, "seccomp-kill", LOG_ERR, why);
        } else
                log_run_end(s, "crash", LOG_ERR, why);
        mark_cold(s);
        return clean ? 0 : EXIT_UNAVAILABLE;
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

/* Under systemd wake.sock belongs to its socket unit, and it went with the removed directory: ask PID 1 to restart
 * that unit, which binds a new one in a new directory. The restart reaches this service too (Requires=): the app
 * comes back warm, rebuilt, and a launcher already waiting for wake.sock is served by it. Without this no launcher
 * could ever wake the app again. */
static void restart_wake_unit(supervisor *s) {
        char *argv[] = { (char *) "systemctl", (char *) "--no-block", (char *) "restart", s->wake_unit, NULL };
        int status = 0;
        pid_t pid;

        pid = fork();
        if (pid < 0) {
                log_error_errno(-errno, "Failed to fork systemctl to restart %s", s->wake_unit);
                return;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                log_error("Failed to restart %s (systemctl: status 0x%x); restart it by hand", s->wake_unit, status);
}

/* The directory, our lifetime lock file and the wake socket are all still where launchers look for them. */
static bool state_dir_intact(supervisor *s) {
        struct stat st;

        return state_dir_is_current(s->dirfd, s->dir_path) &&
               state_file_is_current(s->dirfd, STATE_SUPERVISOR_LOCK, s->lifetime_fd) &&
               fstatat(s->dirfd, STATE_WAKE_SOCK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode);
}

/* The state directory is the app's heartbeat: removed or replaced under us (even half way, as by an `rm -rf` racing
 * our own writes), it can no longer show us alive, count connections or be woken through, so the run ends now
 * instead of leaving an orphan backend nobody can reach or stop. */
static int check_state_dir(supervisor *s) {
        int status = 0;

        if (state_dir_intact(s))
                return 0;
        kill_backend(s, &status);
        log_run_end(s, "state-lost", LOG_ERR, "the state directory was removed or replaced; the backend was stopped");
        if (s->wake_unit[0])
                restart_wake_unit(s);
        tell_waiters(s, false);
        return 1;
}

/* Arms the idle clock when nobody is connected, disarms it when someone is, and stops the backend once it runs
 * out. Returns 1 if the backend was stopped. */
static int check_idle(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t count;
        int r;

        s->heal_at = now() + HEAL_INTERVAL_USEC;
        if (check_state_dir(s))
                return 1;
        if (s->cgroup_fd >= 0)
                record_bill(s);
        r = supervisor_lock(s, &lock);
        if (r >= 0)
                r = live_count(s, &count);
        if (r == -ETIMEDOUT)
                return 0; /* said once by supervisor_lock(); the next tick tries again */
        if (r < 0) {
                log_warning_errno(r, "Failed to check the connection count");
                return 0;
        }
        if (count > 0 || arg_idle == USEC_INFINITY) {
                s->idle_deadline = USEC_INFINITY;
                return 0;
        }
        if (s->idle_deadline == USEC_INFINITY) {
                s->idle_deadline = usec_add(now(), arg_idle);
                return 0;
        }
        if (now() < s->idle_deadline)
                return 0;
        stop_locked(s, "idle-stop", "no connections for the idle period");
        return 1;
}

static void probe_step(supervisor *s) {
        if (probe_backend(s) >= 0) {
                became_ready(s);
                return;
        }
        s->probe_step = s->probe_step * 2 > PROBE_MAX_USEC ? PROBE_MAX_USEC : s->probe_step * 2;
        s->probe_at = now() + s->probe_step;
}

static uint64_t next_deadline(const supervisor *s) {
        uint64_t t = s->heal_at;
        if (s->probe_at < t)
                t = s->probe_at;
        if (s->start_deadline < t)
                t = s->start_deadline;
        if (s->idle_deadline < t)
                t = s->idle_deadline;
        return t;
}

/* Returns the exit code once the run is over, or -1 to keep going. */
static int handle_signals(supervisor *s) {
        struct signalfd_siginfo si;
        _cleanup_close_ int lock = -1;
        int status;

        while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                        if (s->backend > 0 && wait4(s->backend, &status, WNOHANG, &s->rusage) == s->backend) {
                                s->have_rusage = true;
                                return backend_died(s, status);
                        }
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        continue;
                }
                (void) supervisor_lock(s, &lock);
                stop_locked(s, "stop", "stopped on request");
                return 0;
        }
        return -1;
}

static void drain(int fd) {
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

static int run(supervisor *s) {
        for (;;) {
                _cleanup_close_ int lock = -1;
                uint64_t t = now(), next;
                int r;

                if (!s->ready && t >= s->start_deadline) {
                        (void) supervisor_lock(s, &lock);
                        stop_locked(s, "start-timeout", "not ready within the start timeout");
                        return EXIT_UNAVAILABLE;
                }
                if (!s->ready && t >= s->probe_at)
                        probe_step(s);
                if ((t >= s->heal_at || t >= s->idle_deadline) && check_idle(s))
                        return 0;

                next = next_deadline(s);
                t = now();
                struct pollfd p[4] = {
                        { .fd = s->signal_fd, .events = POLLIN },
                        { .fd = s->listen_fd, .events = POLLIN },
                        { .fd = s->notify_fd, .events = POLLIN },
                        { .fd = s->inotify_fd, .events = POLLIN },
                };
                r = poll(p, 4, poll_ms_until(next));
                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "poll failed"), EXIT_OSERR;
                if (p[0].revents) {
                        r = handle_signals(s);
                        if (r >= 0)
                                return r;
                }
                if (p[1].revents)
                        accept_waiters(s);
                if (p[2].revents)
                        read_notify(s);
                if (p[3].revents) {
                        drain(s->inotify_fd);
                        s->idle_deadline = USEC_INFINITY; /* the last one just left: a fresh idle period */
                        if (check_idle(s))
                                return 0;
                }
        }
}

static int watch_idle_since(supervisor *s) {
        char path[PATH_MAX], dir[PATH_MAX - 32], now_s[24];
        int r;

        snprintf(now_s, sizeof(now_s), "%lld", (long long) time(NULL));
        r = state_write(s->dirfd, STATE_IDLE_SINCE, now_s);
        if (r < 0)
                return r;
        r = state_dir_path(arg_app, dir, sizeof(dir));
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/" STATE_IDLE_SINCE, dir);
        s->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (s->inotify_fd < 0 || inotify_add_watch(s->inotify_fd, path, IN_CLOSE_WRITE | IN_DONT_FOLLOW) < 0)
                return -errno;
        return 0;
}

/* Under the lock: take the next generation's lifetime lock, unless a live supervisor already runs this app. */
static int take_lifetime_lock(supervisor *s) {
        uint64_t generation = 0;
        pid_t other = 0;
        int r;

        r = supervisor_find(s->dirfd, &other);
        if (r < 0)
                return log_error_errno(r, "Failed to check for another supervisor"), EXIT_CANTCREAT;
        if (r > 0) {
                log_error("Another ember-sandbox (pid %d) already supervises %s", (int) other, arg_app);
                return EXIT_UNAVAILABLE;
        }
        (void) state_read_u64(s->dirfd, STATE_GENERATION, &generation);
        generation = generation >= INT64_MAX ? 1 : generation + 1;
        r = supervisor_lock_take(s->dirfd, generation, &s->lifetime_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to take the supervisor lock in %s", s->dir_path), EXIT_CANTCREAT;
        r = state_write_u64(s->dirfd, STATE_GENERATION, generation);
        if (r < 0)
                log_warning_errno(r, "Failed to record generation %" PRIu64, generation);
        return -1;
}

/* Nothing may answer at the backend's address before we start it: an orphan of an earlier run or another server
 * would pass the readiness probe and serve in our backend's place, unsupervised. */
static int address_is_free(supervisor *s) {
        char addr[128];

        if (probe_backend(s) < 0)
                return 0;
        (void) format_addr(s->address, addr, sizeof(addr));
        log_error("Something already accepts connections on %s before the backend was started (another server, or a "
                  "process left over from an earlier run): not starting a second one", addr);
        return -EADDRINUSE;
}

/* Under the lock: record the new run and fork the backend. Returns an exit code, or -1 on success. */
static int begin_run(supervisor *s) {
        char notify_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        uint64_t count;
        int r;

        if (live_count(s, &count) < 0)
                count = 0;
        r = watch_idle_since(s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch %s", STATE_IDLE_SINCE), EXIT_CANTCREAT;
        if (arg_ready_notify) {
                r = open_notify_socket(s, notify_path, sizeof(notify_path));
                if (r < 0)
                        return log_error_errno(r, "Failed to create the backend's notify socket"), EXIT_OSERR;
        }
        /* This run serves the connections already waiting for it, and every one counted from now on. */
        (void) state_read_u64(s->dirfd, STATE_CONNECTIONS, &s->connections_at_start);
        s->connections_at_start = s->connections_at_start > count ? s->connections_at_start - count : 0;
        (void) state_add_u64(s->dirfd, STATE_COLD_STARTS, 1, NULL);
        (void) state_write_u64(s->dirfd, STATE_SUPERVISOR_PID, (uint64_t) getpid());
        (void) state_write_u64(s->dirfd, STATE_STARTED_AT, (uint64_t) time(NULL));
        (void) state_write_u64(s->dirfd, STATE_RUN_CPU_USEC, 0);
        if (s->cgroup_fd >= 0) /* else the last run's peak stays until this one ends and says its own */
                (void) state_write_u64(s->dirfd, STATE_MEMORY_PEAK, 0);
        set_state(s, APP_STARTING);
        s->started = now();
        r = address_is_free(s);
        if (r >= 0)
                r = start_backend(s, arg_ready_notify ? notify_path : NULL);
        if (r < 0) {
                log_event(LOG_ERR, FIELDS("EMBER_EVENT=start-failed"), "Failed to start backend %s: %s",
                          arg_command[0], strerror(-r));
                if (s->backend > 0)
                        (void) waitpid(s->backend, NULL, 0);
                s->backend = 0;
                mark_cold(s);
                return EXIT_UNAVAILABLE;
        }
        (void) state_write_u64(s->dirfd, STATE_BACKEND_PID, (uint64_t) s->backend);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=cold-start"), "Cold start: backend %s started as pid %d",
                  arg_command[0], (int) s->backend);
        return -1;
}

static int open_signals(supervisor *s) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return s->signal_fd < 0 ? -errno : 0;
}

/* A backend that keeps crashing is restarted ever more slowly (250 ms, 500 ms, … 10 s) instead of in a tight
 * loop; the socket stays up and the first start after a fix is served. Waiting clients keep their timeout. */
static void crash_backoff(int dirfd) {
        uint64_t crashes = 0, last = 0, delay;

        uint64_t now_sec = (uint64_t) time(NULL);

        /* A last crash "in the future" is a wall clock stepped back since: no reason to wait. */
        if (state_read_u64(dirfd, STATE_CRASHES, &crashes) < 0 || crashes == 0 ||
            state_read_u64(dirfd, STATE_LAST_CRASH, &last) < 0 || last > now_sec || now_sec - last > BACKOFF_FORGET_SEC)
                return;
        delay = crashes > 8 ? BACKOFF_MAX_USEC : BACKOFF_FIRST_USEC << (crashes - 1);
        if (delay > BACKOFF_MAX_USEC)
                delay = BACKOFF_MAX_USEC;
        log_info("Backend crashed %" PRIu64 " times in a row, waiting %" PRIu64 " ms before starting it again", crashes,
                 delay / USEC_PER_MSEC);
        (void) poll(NULL, 0, (int) (delay / USEC_PER_MSEC));
}

static int supervise(void) {
        static supervisor s = {
                .dirfd = -1, .listen_fd = -1, .notify_fd = -1, .signal_fd = -1, .inotify_fd = -1, .lifetime_fd = -1,
                .cgroup_fd = -1,
                .probe_at = USEC_INFINITY, .start_deadline = USEC_INFINITY, .idle_deadline = USEC_INFINITY,
        };
        int r;

        s.app = arg_app;
        s.address = &arg_backend;
        s.command = arg_command;
        s.stop_timeout = arg_stop_timeout;
        log_setup("ember-sandbox", arg_app);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would hide how the backend ended */
        r = confine_or_report(&s.confine);
        if (r != 0)
                return r;
        r = state_open(arg_app, true, &s.dirfd);
        if (r < 0) {
                log_error_errno(r, "Refusing state directory %s/%s", runtime_dir(), arg_app);
                return state_refused(r) ? EXIT_NOPERM : EXIT_CANTCREAT;
        }
        (void) state_dir_path(arg_app, s.dir_path, sizeof(s.dir_path));
        (void) bill_cgroup_open(&s.cgroup_fd);
        crash_backoff(s.dirfd);
        r = open_signals(&s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signal handling"), EXIT_OSERR;
        {
                _cleanup_close_ int lock = -1;
                r = state_lock(s.dirfd, &lock);
                if (r < 0)
                        return log_error_errno(r, "Failed to take the state lock"), EXIT_CANTCREAT;
                /* Refuse before touching anything, wake.sock included, if another supervisor is alive. */
                r = take_lifetime_lock(&s);
                if (r >= 0)
                        return r;
                r = open_wake_socket(&s);
                if (r == -EEXIST)
                        return log_error("%s/%s exists (NAME-backend.socket's, or a stale one): start the app "
                                         "through its socket unit, or remove it", s.dir_path, STATE_WAKE_SOCK), EXIT_UNAVAILABLE;
                if (r < 0)
                        return log_error_errno(r, "Failed to set up %s", STATE_WAKE_SOCK), EXIT_OSERR;
                r = begin_run(&s);
                if (r >= 0)
                        return r;
        }
        s.start_deadline = usec_add(s.started, arg_start_timeout);
        if (!arg_ready_notify) {
                s.probe_at = s.started;
                s.probe_step = USEC_PER_MSEC / 2;
        }
        s.heal_at = s.started + HEAL_INTERVAL_USEC;
        return run(&s);
}

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);

        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        if (!arg_app) {
                log_setup("ember-sandbox", NULL);
                return run_standalone();
        }
        return supervise();
}
