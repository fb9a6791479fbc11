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
#define LOCK_WAIT_USEC USEC_PER_SEC
#define PROBE_MAX_USEC (25 * USEC_PER_MSEC)

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

static int start_after_previous(supervisor *s);

/* Its backend runs and is not ready yet: probed, timed, its READY=1 awaited. */
static bool backend_starting(const supervisor *s) {
        return s->state == SUP_STARTING || s->state == SUP_UPGRADING;
}

static void became_ready(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t ms = (now() - s->started) / USEC_PER_MSEC;
        char f[48];

        s->probe_at = s->start_deadline = USEC_INFINITY;
        if (s->state == SUP_UPGRADING) {
                /* the switch must not go ahead unlocked: a launcher could lease the old generation after it counted */
                if (state_lock_until(s->dirfd, deadline_in(s->opt->start_timeout), &lock) >= 0) {
                        take_over(s, SUP_WARM);
                        announce_upgrade(s, ms);
                } else {
                        log_error("The state lock could not be had within the start timeout; generation %" PRIu64
                                  " keeps serving", s->previous);
                        enter_state(s, SUP_UPGRADE_STALLED);
                }
                return;
        }
        enter_state(s, SUP_WARM);
        if (supervisor_lock(s, &lock) >= 0) {
                /* the address only now that its listener is known to be the backend's: launchers connect only
                 * after this (the readiness byte, or "warm"), so publishing it here costs them nothing */
                if (serving_write(s->dirfd, s->generation, &s->address) < 0)
                        log_warning("Failed to write %s: launchers of a HOST:auto backend cannot find it",
                                    STATE_SERVING);
                set_state(s, APP_WARM);
                run_ready(s->dirfd, ms);
        }
        snprintf(f, sizeof(f), "EMBER_READY_MS=%" PRIu64, ms);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=ready", f), "Backend ready after %" PRIu64 " ms", ms);
        if (s->restored) {
                snprintf(f, sizeof(f), "EMBER_RESTORE_MS=%" PRIu64, ms);
                log_event(LOG_INFO, FIELDS("EMBER_EVENT=restore", f), "Backend restored from its checkpoint, "
                          "ready after %" PRIu64 " ms", ms);
        }
        (void) notify_send("READY=1\nSTATUS=backend warm");
        tell_waiters(s, true);
        if (s->report_fd >= 0)
                announce_upgrade(s, ms);
}

static int port_taken(supervisor *s, const port_holder *h);

/* READY=1 from a TCP backend is believed only if no listener on its address is a stranger's (listener.c): one
 * that nobody holds in our network namespace is a port forwarded elsewhere, as the backend says. */
static int ready_said(supervisor *s) {
        port_holder h = {};

        if (s->address.sa.sa_family != AF_UNIX && backend_listener_check(s, &h) == -EADDRINUSE)
                return port_taken(s, &h);
        became_ready(s);
        return 0;
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

        if (s->role != ROLE_SERVING || replaced(s)) {
                (void) end_unserving(s, event, LOG_INFO, why);
                return;
        }
        set_state(s, APP_STOPPING);
        test_hold_stopping();
        (void) notify_send("STOPPING=1");
        kill_backend(s, &status);
        log_run_end(s, event, strncmp(event, "start-", 6) == 0 ? LOG_ERR : LOG_INFO, why);
        mark_cold(s);
}

/* A start that cannot have its port: the journal says who holds it, once, and the start ends as failed (counted as
 * a crash, so that launchers that keep coming back wait out the back-off instead of starting us in a loop). No
 * launcher was told to connect: they get EOF on the wake socket. Under the lock. */
static int port_lost(supervisor *s, const char *why) {
        if (s->role != ROLE_SERVING || replaced(s))
                return end_unserving(s, "start-failed", LOG_ERR, why);
        run_crashed(s->dirfd);
        stop_locked(s, "start-failed", why);
        return -ERR_BACKEND_FAILED;
}

static int port_taken(supervisor *s, const port_holder *h) {
        _cleanup_close_ int lock = -1;
        char why[192];

        describe_port_holder(h, why, sizeof(why));
        if (s->role == ROLE_SERVING)
                (void) supervisor_lock(s, &lock);
        return port_lost(s, why);
}

/* A TCP backend that died before it was ready, whose address a stranger listens on (it could not bind it): its exit
 * and who holds the port into WHY. */
static bool port_holder_why(supervisor *s, int status, char *why, size_t size) {
        port_holder h = {};
        char exit[64], holder[192];

        if (s->address.sa.sa_family == AF_UNIX || address_holder(s, &h) <= 0)
                return false;
        describe_exit(status, exit, sizeof(exit));
        describe_port_holder(&h, holder, sizeof(holder));
        snprintf(why, size, "%s before it was ready: %s", exit, holder);
        return true;
}

/* The backend ended on its own: a crash, a seccomp kill, or an exit with status 0 (a server with an idle timeout of
 * its own), which is no failure and slows no later start. */
static int backend_died(supervisor *s, int status) {
        _cleanup_close_ int lock = -1;
        char why[320], sys[64];
        pid_t pid = s->backend;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

        s->backend = 0; /* reaped, and what it left behind in its process group killed (reap_backend) */
        s->frozen = NOT_FROZEN; /* killed while frozen (SIGKILL reaches a frozen process) */
        (void) supervisor_lock(s, &lock);
        if (!supervisor_ready(s) && port_holder_why(s, status, why, sizeof(why)))
                return port_lost(s, why);
        if (s->role != ROLE_SERVING || replaced(s)) {
                describe_exit(status, why, sizeof(why));
                if (s->role == ROLE_PENDING)
                        snprintf(why + strlen(why), sizeof(why) - strlen(why), " before it was ready");
                return end_unserving(s, clean ? "exit" : "crash", clean ? LOG_NOTICE : LOG_ERR, why);
        }
        if (!clean)
                run_crashed(s->dirfd);
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
        return clean ? RUN_OVER : -ERR_BACKEND_FAILED;
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

/* Under the lock: replaced by an upgrade's generation since we last looked? Then drain. */
static void check_replaced(supervisor *s) {
        if (s->role == ROLE_SERVING && replaced(s))
                begin_drain(s);
}

/* An upgrade's generation gives up when the one it would replace is gone: that one stopped the app (and asks us
 * to stop too), or was killed, which under systemd takes the unit down with it. */
static bool upgrade_orphaned(supervisor *s) {
        return s->role == ROLE_PENDING && supervisor_find_generation(s->dirfd, s->previous, NULL) == 0;
}

/* Under the lock, at the idle deadline with --idle-action=checkpoint: the backend dumped with criu (which ends it),
 * then the run ends as an idle stop; the next start restores it. A dump that fails stops it as without the option,
 * said once with the reason. */
static void checkpoint_locked(supervisor *s) {
        char why[512] = "", path[PATH_MAX] = "", dir[PATH_MAX + 32], bytes[48], ms_f[48];
        uint64_t t0 = now(), ms;
        int status = 0;

        set_state(s, APP_STOPPING);
        (void) notify_send("STOPPING=1");
        if (checkpoint_dump(s, why, sizeof(why)) < 0) {
                log_event(LOG_WARNING, FIELDS("EMBER_EVENT=checkpoint-failed"),
                          "Checkpoint of the idle backend failed, stopping it instead: %s", why);
                kill_backend(s, &status);
                log_run_end(s, "idle-stop", LOG_INFO, "no connections for the idle period (the checkpoint failed)");
                mark_cold(s);
                return;
        }
        ms = (now() - t0) / USEC_PER_MSEC;
        kill_backend(s, &status); /* reaps it: criu killed it once dumped */
        (void) checkpoint_dir(s, path, sizeof(path));
        snprintf(dir, sizeof(dir), "EMBER_CHECKPOINT_DIR=%s", path);
        snprintf(bytes, sizeof(bytes), "EMBER_CHECKPOINT_BYTES=%" PRIu64, s->checkpoint_bytes);
        snprintf(ms_f, sizeof(ms_f), "EMBER_CHECKPOINT_MS=%" PRIu64, ms);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=checkpoint", dir, bytes, ms_f),
                  "Idle backend checkpointed in %" PRIu64 " ms (%" PRIu64 " bytes); the next connection restores it",
                  ms, s->checkpoint_bytes);
        log_run_end(s, "idle-stop", LOG_INFO, "no connections for the idle period (checkpointed)");
        mark_cold(s);
}

/* Under the lock, at the idle deadline with --idle-action=freeze: the backend's processes frozen, the state
 * "frozen" (launchers then wake us through wake.sock, and we thaw). A backend that cannot be frozen is stopped, as
 * without the option. RUN_OVER if the run is over, else 0. */
static int freeze_locked(supervisor *s) {
        char how[32], f[48];
        int r = freeze_backend(s);

        if (r < 0) {
                log_warning_errno(r, "Failed to freeze the idle backend; stopping it instead");
                stop_locked(s, "idle-stop", "no connections for the idle period (it could not be frozen)");
                return RUN_OVER;
        }
        enter_state(s, SUP_FROZEN);
        set_state(s, APP_FROZEN);
        s->frozen_at = now();
        s->freeze_deadline = usec_add(s->frozen_at, s->opt->freeze_for);
        s->idle_deadline = s->freeze_deadline;
        snprintf(how, sizeof(how), "EMBER_FREEZE=%s", freeze_how(s));
        snprintf(f, sizeof(f), "EMBER_RUN_SEC=%" PRIu64, (s->frozen_at - s->started) / USEC_PER_SEC);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=freeze", how, f),
                  "Backend frozen (%s) after the idle period; the next connection thaws it", freeze_how(s));
        (void) notify_send("STATUS=backend frozen");
        return 0;
}

/* Under the lock, while frozen: --freeze-for ran out? Then the backend is stopped (thawed first, to get its
 * SIGTERM). Connections counted meanwhile are launchers about to wake us through wake.sock. */
static int check_frozen(supervisor *s) {
        if (now() < s->freeze_deadline) {
                s->idle_deadline = s->freeze_deadline;
                return 0;
        }
        stop_locked(s, "idle-stop", "frozen for --freeze-for");
        return RUN_OVER;
}

/* A launcher on wake.sock while frozen: the backend thawed and "warm" again, under the lock, before its byte. */
static void thaw_for_waiter(supervisor *s) {
        _cleanup_close_ int lock = -1;
        char f[48];
        uint64_t ms;
        int r;

        (void) supervisor_lock(s, &lock);
        ms = (now() - s->frozen_at) / USEC_PER_MSEC;
        r = thaw_backend(s);
        if (r < 0)
                log_warning_errno(r, "Failed to thaw the backend");
        enter_state(s, SUP_WARM);
        set_state(s, APP_WARM);
        s->idle_deadline = USEC_INFINITY;
        s->heal_at = now(); /* the idle clock re-armed at the next tick if the waiter is gone already */
        snprintf(f, sizeof(f), "EMBER_FROZEN_MS=%" PRIu64, ms);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=thaw", f), "Backend thawed for a connection after %" PRIu64
                  " ms frozen", ms);
        (void) notify_send("STATUS=backend warm");
}

/* Arms the idle clock when nobody is connected, disarms it when someone is, and stops the backend once it runs
 * out. RUN_OVER if the run is over, else 0. */
static int check_idle(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t count;
        int r;

        s->heal_at = now() + HEAL_INTERVAL_USEC;
        if (check_state_dir(s))
                return RUN_OVER;
        if (upgrade_orphaned(s)) {
                (void) end_unserving(s, "stop", LOG_INFO, "the generation it was to replace ended");
                return RUN_OVER;
        }
        r = supervisor_lock(s, &lock);
        if (r >= 0)
                check_replaced(s);
        if (s->role != ROLE_SERVING)
                return 0;
        if (s->cgroup_fd >= 0)
                record_bill(s);
        if (r >= 0)
                r = live_count(s, &count);
        if (r == -ETIMEDOUT)
                return 0; /* said once by supervisor_lock(); the next tick tries again */
        if (r < 0) {
                log_warning_errno(r, "Failed to check the connection count");
                return 0;
        }
        if (s->state == SUP_FROZEN)
                return check_frozen(s);
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
        if (s->opt->idle_action == IDLE_ACTION_FREEZE && s->state == SUP_WARM)
                return freeze_locked(s);
        if (s->opt->idle_action == IDLE_ACTION_CHECKPOINT && s->state == SUP_WARM && !replaced(s))
                checkpoint_locked(s);
        else
                stop_locked(s, "idle-stop", "no connections for the idle period");
        return RUN_OVER;
}

/* 0 to go on; -errno once the run is over (a stranger on the backend's port). */
static int probe_step(supervisor *s) {
        port_holder h = {};
        int r = probe_backend(s, &h);

        if (r == -EADDRINUSE)
                return port_taken(s, &h);
        if (r >= 0) {
                became_ready(s);
                return 0;
        }
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
        if (s->role == ROLE_DRAINING && s->drain_check_at < t)
                t = s->drain_check_at;
        if (s->state == SUP_AWAITING_PREVIOUS)
                t = now() + 25 * USEC_PER_MSEC;
        return t;
}

/* 0 to go on; RUN_OVER or -errno once the run is over. */
static int handle_signals(supervisor *s) {
        struct signalfd_siginfo si;
        _cleanup_close_ int lock = -1;
        int status;

        while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                        if (s->backend > 0 && reap_backend(s, &status) == 1)
                                return backend_died(s, status);
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        continue;
                }
                if (si.ssi_signo == SIGUSR1) { /* an upgrade's generation took over */
                        _cleanup_close_ int l = -1;
                        if (supervisor_lock(s, &l) >= 0)
                                check_replaced(s);
                        continue;
                }
                if (s->role == ROLE_SERVING) /* the others write no state, and the serving one may hold the lock */
                        (void) supervisor_lock(s, &lock);
                s->stop_asked = true;
                stop_locked(s, "stop", "stopped on request");
                return RUN_OVER;
        }
        return 0;
}

static void drain(int fd) {
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* Until the run is over: RUN_OVER if it ended in order, else -errno. */
static int run(supervisor *s) {
        for (;;) {
                _cleanup_close_ int lock = -1;
                uint64_t t = now(), next;
                int r;

                if (backend_starting(s) && t >= s->start_deadline) {
                        (void) supervisor_lock(s, &lock);
                        stop_locked(s, "start-timeout", "not ready within the start timeout");
                        return -ERR_BACKEND_FAILED;
                }
                if (backend_starting(s) && t >= s->probe_at && (r = probe_step(s)) != 0)
                        return r;
                if (s->state == SUP_AWAITING_PREVIOUS && (r = start_after_previous(s)) != 0)
                        return r;
                if (s->role == ROLE_DRAINING && t >= s->drain_check_at && drain_step(s))
                        return RUN_OVER;
                if ((t >= s->heal_at || t >= s->idle_deadline) && (r = check_idle(s)) != 0)
                        return r;

                next = next_deadline(s);
                t = now();
                struct pollfd p[7] = {
                        { .fd = s->signal_fd, .events = POLLIN },
                        { .fd = s->role == ROLE_SERVING ? s->listen_fd : -1, .events = POLLIN },
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
                if (p[1].revents && s->state == SUP_FROZEN)
                        thaw_for_waiter(s);
                if (p[1].revents)
                        accept_waiters(s);
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
                        if ((r = check_idle(s)) != 0)
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

/* Fixed-port upgrade: our backend starts once the generation before us is gone, and its port with it. 0 to go on,
 * -errno if it could not start (the run is over). */
static int start_after_previous(supervisor *s) {
        _cleanup_close_ int lock = -1;

        if (supervisor_find_generation(s->dirfd, s->previous, NULL) > 0)
                return 0;
        enter_state(s, SUP_STARTING);
        (void) supervisor_lock(s, &lock);
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
        /* under systemd, the supervisor the unit started is its main process for as long as it runs */
        s.anchor = !opt->upgrade && s.wake_unit[0];
        s.heal_at = s.started + HEAL_INTERVAL_USEC;
        r = run(&s);
        upgrade_report(&s, UPGRADE_FAILED, "generation %" PRIu64 " ended before it was ready; see the journal",
                       s.generation);
        if (s.anchor && s.stop_asked)
                stop_other_generations(&s);
        else if (s.anchor && r >= 0)
                (void) anchor_wait(&s);
        return r;
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
