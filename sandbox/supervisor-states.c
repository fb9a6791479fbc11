/* The supervisor's state machine: its states (supervisor.h's supervisor_state), entered in enter_state() only, and
 * what moves it from one to the next, in one table: the events the main loop (ember-sandbox.c) sees, each with the
 * transition it runs in the states it applies to. doc/ARCHITECTURE.md draws the table. Each transition returns 0 to
 * go on, RUN_OVER if the run ended in order, or -errno (exit-status.h) if it ended failed; an event that applies to
 * no transition in the current state changes nothing. What follows a run's end is end_of_run()'s: the unit's main
 * process stays in SUP_ANCHORING while later generations run, else the supervisor exits. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "daemon.h"
#include "exit-status.h"
#include "log.h"
#include "macro.h"
#include "protocol.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

#define LOCK_WAIT_USEC USEC_PER_SEC

void enter_state(supervisor *s, supervisor_state state) {
        s->state = state;
}

static uint64_t now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* The state lock, waited for at most a second: a holder that never lets go (frozen, traced) must not stop us from
 * telling waiters, stopping or healing. Without it a transition goes ahead unlocked; a tick is skipped. Said once
 * per stretch of trouble. */
int supervisor_lock(supervisor *s, int *ret) {
        int r = state_lock_until(s->dirfd, deadline_in(LOCK_WAIT_USEC), ret);

        if (r == -ETIMEDOUT && !s->lock_stuck)
                log_warning("The state lock of %s has been held by someone for over a second (a frozen launcher?); "
                            "going on without it", s->dir_path);
        s->lock_stuck = r == -ETIMEDOUT;
        return r;
}

/* Part of became_ready() and of a fixed-port upgrade's start (upgrade.c): the transition to serving. */
void take_over(supervisor *s, supervisor_state state) {
        /* a fixed-port generation takes over before its backend runs: its address is said once that is ready */
        (void) serving_write(s->dirfd, s->generation, state == SUP_WARM ? &s->address : NULL);
        set_state(s, state == SUP_WARM ? APP_WARM : APP_STARTING);
        enter_state(s, state);
        run_taken_over(s->dirfd, s->backend);
        (void) state_read_u64(s->dirfd, STATE_CONNECTIONS, &s->connections_at_start);
        if (watch_idle_since(s) < 0)
                log_warning("Failed to watch %s; the idle clock starts at the next heartbeat", STATE_IDLE_SINCE);
        generation_record(s);
        if (open_handoff_socket(s) < 0)
                log_warning("Failed to create the upgrade hand-off socket: the next upgrade will fail");
        (void) supervisor_signal_generation(s->dirfd, s->previous, SIGUSR1);
}

static void announce_upgrade(supervisor *s, uint64_t ms) {
        char f[48], addr[128];

        (void) format_addr(&s->address, addr, sizeof(addr));
        snprintf(f, sizeof(f), "EMBER_READY_MS=%" PRIu64, ms);
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=upgrade-ready", f),
                  "Upgrade: generation %" PRIu64 " ready after %" PRIu64 " ms on %s; new connections go to it", s->generation,
                  ms, addr);
        upgrade_report(s, UPGRADE_READY, "generation %" PRIu64 " serves on %s (ready after %" PRIu64 " ms); generation "
                       "%" PRIu64 " drains", s->generation, addr, ms, s->previous);
}

/* Its backend answered or said READY=1: serving, it is warm; an upgrade's takes over (or, without the state lock,
 * stalls). */
static int became_ready(supervisor *s, const event_arg *arg) {
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
                return 0;
        }
        enter_state(s, SUP_WARM);
        if (supervisor_lock(s, &lock) >= 0) {
                /* the address only now that its listener is known to be the backend's: launchers connect only
                 * after this (the readiness byte, or "warm"), so publishing it here costs them nothing */
                if (serving_write(s->dirfd, s->generation, &s->address) < 0)
                        log_warning("Failed to write %s: launchers of a HOST:auto backend cannot find it",
                                    STATE_SERVING);
                set_state(s, APP_WARM);
                run_ready(s->dirfd, ms, s->restored);
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

        if (supervisor_role(s) != ROLE_SERVING || replaced(s)) {
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
        if (supervisor_role(s) != ROLE_SERVING || replaced(s))
                return end_unserving(s, "start-failed", LOG_ERR, why);
        run_crashed(s->dirfd);
        stop_locked(s, "start-failed", why);
        return -ERR_BACKEND_FAILED;
}

/* A stranger listens on the backend's address (ARG's holder): the start fails. */
static int port_taken(supervisor *s, const event_arg *arg) {
        _cleanup_close_ int lock = -1;
        char why[192];

        describe_port_holder(&arg->holder, why, sizeof(why));
        if (supervisor_role(s) == ROLE_SERVING)
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
static int backend_died(supervisor *s, const event_arg *arg) {
        _cleanup_close_ int lock = -1;
        char why[320], sys[64];
        int status = arg->status;
        pid_t pid = s->backend;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

        s->backend = 0; /* reaped, and what it left behind in its process group killed (reap_backend) */
        s->frozen = NOT_FROZEN; /* killed while frozen (SIGKILL reaches a frozen process) */
        (void) supervisor_lock(s, &lock);
        if (!supervisor_ready(s) && port_holder_why(s, status, why, sizeof(why)))
                return port_lost(s, why);
        if (supervisor_role(s) != ROLE_SERVING || replaced(s)) {
                describe_exit(status, why, sizeof(why));
                if (supervisor_role(s) == ROLE_PENDING)
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

/* Not ready within --start-timeout: the start fails. */
static int start_timed_out(supervisor *s, const event_arg *arg) {
        _cleanup_close_ int lock = -1;

        (void) supervisor_lock(s, &lock);
        stop_locked(s, "start-timeout", "not ready within the start timeout");
        return -ERR_BACKEND_FAILED;
}

/* Fixed-port upgrade: our backend starts now that the generation before us is gone, and its port with it. 0, or
 * -errno if it could not start (the run is over). */
static int previous_gone(supervisor *s, const event_arg *arg) {
        _cleanup_close_ int lock = -1;

        enter_state(s, SUP_STARTING);
        (void) supervisor_lock(s, &lock);
        return launch_backend(s, s->opt->ready_notify ? s->notify_path : NULL);
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

/* Under the lock: no connection for --idle. A warm backend is frozen or checkpointed if the app says so, else (and
 * one still starting) stopped. */
static int idle_over(supervisor *s, const event_arg *arg) {
        if (s->opt->idle_action == IDLE_ACTION_FREEZE && s->state == SUP_WARM)
                return freeze_locked(s);
        if (s->opt->idle_action == IDLE_ACTION_CHECKPOINT && s->state == SUP_WARM && !replaced(s))
                checkpoint_locked(s);
        else
                stop_locked(s, "idle-stop", "no connections for the idle period");
        return RUN_OVER;
}

/* Under the lock: frozen for --freeze-for; the backend is stopped (thawed first, to get its SIGTERM). */
static int freeze_over(supervisor *s, const event_arg *arg) {
        stop_locked(s, "idle-stop", "frozen for --freeze-for");
        return RUN_OVER;
}

/* A launcher on wake.sock while frozen: the backend thawed and "warm" again, under the lock, before its byte. */
static int thaw_for_waiter(supervisor *s, const event_arg *arg) {
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
        return 0;
}

/* Under the lock: an upgrade's generation serves now; we keep our connections and take no new ones. */
static int replaced_by_upgrade(supervisor *s, const event_arg *arg) {
        enter_state(s, SUP_DRAINING);
        begin_drain(s);
        return 0;
}

/* Every DRAIN_CHECK_USEC while draining: over once its last connection closed or the drain timeout came. */
static int drain_check(supervisor *s, const event_arg *arg) {
        return drain_step(s) ? RUN_OVER : 0;
}

/* An upgrade's generation gives up when the one it would replace is gone: that one stopped the app (and asks us to
 * stop too), or was killed, which under systemd takes the unit down with it. */
static int upgrade_orphaned(supervisor *s, const event_arg *arg) {
        (void) end_unserving(s, "stop", LOG_INFO, "the generation it was to replace ended");
        return RUN_OVER;
}

/* SIGTERM, SIGINT or SIGHUP: our backend stopped. */
static void stop_own_backend(supervisor *s) {
        _cleanup_close_ int lock = -1;

        if (supervisor_role(s) == ROLE_SERVING) /* the others write no state, and the serving one may hold the lock */
                (void) supervisor_lock(s, &lock);
        stop_locked(s, "stop", "stopped on request");
}

/* SIGTERM, SIGINT or SIGHUP: the backend stopped, and by the unit's main process every generation, once the lock is
 * let go (a serving one takes it to stop). */
static int stop_requested(supervisor *s, const event_arg *arg) {
        stop_own_backend(s);
        if (unit_main_process(s))
                stop_other_generations(s);
        return RUN_OVER;
}

/* The state directory was removed or replaced: the backend stopped (heartbeat.c). */
static int state_dir_gone(supervisor *s, const event_arg *arg) {
        state_dir_lost(s);
        return RUN_OVER;
}

/* Staying as the unit's main process: a stop passed on to the generations left (or the serving one was killed, and
 * nothing could wake the app while we keep its unit active): they are stopped, and we end. */
static int stop_later_generations(supervisor *s, const event_arg *arg) {
        stop_other_generations(s);
        kernel_relay_stop(s);
        return RUN_OVER;
}

/* Staying as the unit's main process: the last generation an upgrade started beside us ended; so do we. */
static int later_generations_gone(supervisor *s, const event_arg *arg) {
        kernel_relay_stop(s);
        return RUN_OVER;
}

#define IN(state) (1u << (state))
#define SERVING (IN(SUP_STARTING) | IN(SUP_AWAITING_PREVIOUS) | IN(SUP_WARM) | IN(SUP_FROZEN))
#define PENDING (IN(SUP_UPGRADING) | IN(SUP_UPGRADE_STALLED))
#define STARTING (IN(SUP_STARTING) | IN(SUP_UPGRADING))
#define LIVE (~IN(SUP_ANCHORING)) /* any state with a run of its own */

/* state x event -> transition (which enters the next state, or ends the run), as doc/ARCHITECTURE.md draws it */
static const struct transition {
        unsigned from; /* the states it applies in, IN() each */
        supervisor_event event;
        int (*run)(supervisor *s, const event_arg *arg);
} transitions[] = {
        /* from                                              event              transition            to */
        { STARTING,                                          EV_READY,          became_ready },       /* WARM, or UPGRADE_STALLED */
        { STARTING,                                          EV_PORT_TAKEN,     port_taken },         /* end, failed */
        { STARTING,                                          EV_START_TIMEOUT,  start_timed_out },    /* end, failed */
        { IN(SUP_AWAITING_PREVIOUS),                         EV_PREVIOUS_GONE,  previous_gone },      /* STARTING */
        { IN(SUP_STARTING) | IN(SUP_AWAITING_PREVIOUS) | IN(SUP_WARM),
                                                             EV_IDLE,           idle_over },          /* FROZEN, or end */
        { IN(SUP_FROZEN),                                    EV_WAITER,         thaw_for_waiter },    /* WARM */
        { IN(SUP_FROZEN),                                    EV_FREEZE_OVER,    freeze_over },        /* end */
        { SERVING,                                           EV_REPLACED,       replaced_by_upgrade },/* DRAINING */
        { IN(SUP_DRAINING),                                  EV_DRAIN_CHECK,    drain_check },        /* DRAINING, or end */
        { PENDING,                                           EV_ORPHANED,       upgrade_orphaned },   /* end */
        { LIVE,                                              EV_BACKEND_EXITED, backend_died },       /* end: failed unless exit 0 */
        { LIVE,                                              EV_STOP,           stop_requested },     /* end */
        { LIVE,                                              EV_STATE_LOST,     state_dir_gone },     /* end */
        { IN(SUP_ANCHORING),                                 EV_STOP,           stop_later_generations }, /* exit */
        { IN(SUP_ANCHORING),                                 EV_SERVING_LOST,   stop_later_generations }, /* exit */
        { IN(SUP_ANCHORING),                                 EV_LATER_GONE,     later_generations_gone }, /* exit */
};

/* The end of a run, R (RUN_OVER or -errno) after EVENT: an upgrade's foreground process told how it went if it was not
 * yet; the unit's main process, its run ended in order and not stopped (a stop went to every generation), stays in
 * SUP_ANCHORING while generations upgrades started beside it run (0: the main loop goes on); else R, and we exit. */
static int end_of_run(supervisor *s, supervisor_event event, int r) {
        upgrade_report(s, UPGRADE_FAILED, "generation %" PRIu64 " ended before it was ready; see the journal",
                       s->generation);
        if (r < 0 || event == EV_STOP || s->state == SUP_ANCHORING || !unit_main_process(s))
                return r;
        generation_release(s);
        enter_state(s, SUP_ANCHORING);
        if (!other_generations_left(s))
                return later_generations_gone(s, NULL);
        log_info("Staying as the unit's main process while later generations run");
        return 0;
}

int supervisor_on(supervisor *s, supervisor_event event, const event_arg *arg) {
        for (size_t i = 0; i < ELEMENTSOF(transitions); i++)
                if (transitions[i].event == event && (transitions[i].from & IN(s->state))) {
                        int r = transitions[i].run(s, arg);
                        return r == 0 ? 0 : end_of_run(s, event, r);
                }
        return 0;
}
