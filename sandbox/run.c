/* One backend run's lifecycle, under the state lock: the state it is in, its start (a HOST:auto port picked, the
 * address checked free, the backend forked or restored), and its end. Both the supervisor's main loop
 * (ember-sandbox.c) and an upgrade (upgrade.c) call down into it; it calls neither. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exit-status.h"
#include "log.h"
#include "macro.h"
#include "protocol.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

void set_state(supervisor *s, app_state state) {
        int r = app_state_set(s->dirfd, state);
        if (r < 0)
                log_warning_errno(r, "Failed to record state %s", app_state_to_string(state));
}

/* The end of a backend run, under the lock: the next connection finds "cold" and starts a new one. */
void mark_cold(supervisor *s) {
        set_state(s, APP_COLD);
        freeze_release(s);
        stop_other_generations(s);
        generation_forget(s);
        run_ended(s->dirfd, s->owns_wake);
        if (s->notify_fd >= 0)
                (void) unlinkat(s->dirfd, s->notify_name, 0);
        kernel_relay_stop(s);
        closep(&s->listen_fd);
        tell_waiters(s, false);
}

/* A generation that does not serve ends without touching the app's state: RUN_OVER, or -ERR_BACKEND_FAILED for an
 * end at PRIO LOG_ERR or worse. */
int end_unserving(supervisor *s, const char *event, int prio, const char *why) {
        int status = 0;

        kill_backend(s, &status);
        if (supervisor_role(s) == ROLE_PENDING) {
                log_event(LOG_ERR, FIELDS("EMBER_EVENT=upgrade-failed"), "Upgrade to generation %" PRIu64 " failed: %s; "
                          "generation %" PRIu64 " keeps serving", s->generation, why, s->previous);
                upgrade_report(s, UPGRADE_FAILED, "generation %" PRIu64 " failed: %s; generation %" PRIu64
                               " keeps serving", s->generation, why, s->previous);
        } else
                log_run_end(s, event, prio, why);
        if (s->notify_fd >= 0)
                (void) unlinkat(s->dirfd, s->notify_name, 0);
        generation_forget(s);
        freeze_release(s);
        return prio <= LOG_ERR ? -ERR_BACKEND_FAILED : RUN_OVER;
}

int watch_idle_since(supervisor *s) {
        char path[PATH_MAX], dir[PATH_MAX - 32];
        int r;

        r = idle_since_now(s->dirfd);
        if (r < 0)
                return r;
        r = state_dir_path(s->opt->app, dir, sizeof(dir));
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/" STATE_IDLE_SINCE, dir);
        s->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (s->inotify_fd < 0 || inotify_add_watch(s->inotify_fd, path, IN_CLOSE_WRITE | IN_DONT_FOLLOW) < 0)
                return -errno;
        return 0;
}

/* Nothing may answer at the backend's address before we start it: an orphan of an earlier run or another server
 * would pass the readiness probe and serve in our backend's place, unsupervised. A TCP one is named (WHY, for the
 * one log line of the failed start). */
static int address_is_free(supervisor *s, char *why, size_t size) {
        port_holder h = {};
        char addr[160];

        if (s->address.sa.sa_family != AF_UNIX && address_holder(s, &h) > 0) {
                describe_port_holder(&h, why, size);
                return -EADDRINUSE;
        }
        if (probe_backend(s, &h) < 0)
                return 0;
        (void) format_addr(&s->address, addr, sizeof(addr));
        snprintf(why, size, "something already accepts connections on %s before the backend was started (another "
                 "server, or a process left over from an earlier run): not starting a second one", addr);
        return -EADDRINUSE;
}

/* --idle-action=checkpoint: the serving generation restores the checkpoint if there is one this run may use;
 * otherwise (or if that fails: said once, with criu's reason) the backend starts cold, its output on a pipe. */
static int restore_or_start(supervisor *s, const char *notify_path) {
        char why[512] = "";
        int r = supervisor_role(s) == ROLE_SERVING ? checkpoint_restore(s, why, sizeof(why)) : 0;

        if (r > 0) {
                s->restored = true;
                return 0;
        }
        if (r < 0)
                log_event(LOG_WARNING, FIELDS("EMBER_EVENT=restore-failed"),
                          "Restoring the backend from its checkpoint failed, starting it cold instead: %s", why);
        r = checkpoint_output_pipe(s, &s->output_wr);
        if (r < 0)
                return r;
        r = start_backend(s, notify_path);
        closep(&s->output_wr);
        return r;
}

/* Under the lock: a HOST:auto backend's port, checked free, then the backend forked. 0, or -errno (logged; the run is
 * over). */
int launch_backend(supervisor *s, const char *notify_path) {
        char addr[128], why[384] = "";
        int r = 0;

        if (s->opt->backend.port_auto) {
                s->address = s->opt->backend;
                r = pick_port(&s->address);
        }
        s->started = now_usec(CLOCK_MONOTONIC);
        if (r >= 0)
                r = address_is_free(s, why, sizeof(why));
        /* before the fork, the generation only (a full /run fails the start here, not at readiness); the address
         * once the backend's own listener is on it (became_ready): a HOST:auto port is not published to be taken */
        if (r >= 0 && supervisor_role(s) == ROLE_SERVING)
                r = serving_write(s->dirfd, s->generation, NULL);
        if (r >= 0) {
                freeze_prepare(s);
                r = s->opt->idle_action == IDLE_ACTION_CHECKPOINT ? restore_or_start(s, notify_path)
                                                               : start_backend(s, notify_path);
                freeze_forked(s);
        }
        if (r < 0) {
                if (s->backend > 0)
                        (void) waitpid(s->backend, NULL, 0);
                s->backend = 0;
                if (!why[0])
                        snprintf(why, sizeof(why), "%s", strerror(-r));
                if (supervisor_role(s) == ROLE_PENDING)
                        return end_unserving(s, "start-failed", LOG_ERR, why);
                log_event(LOG_ERR, FIELDS("EMBER_EVENT=start-failed"), "Failed to start backend %s (state in %s): %s",
                          s->opt->command[0], s->dir_path, why);
                run_crashed(s->dirfd);
                record_failure(s, "start-failed", why);
                accept_waiters(s); /* told at once: left in the backlog, they would start us again and again */
                mark_cold(s);
                return -ERR_BACKEND_FAILED;
        }
        (void) format_addr(&s->address, addr, sizeof(addr));
        if (supervisor_role(s) == ROLE_SERVING)
                run_backend_started(s->dirfd, s->backend);
        generation_record(s);
        if (s->restored)
                log_info("Restored backend %s as pid %d on %s", s->opt->command[0], (int) s->backend, addr);
        else if (supervisor_role(s) == ROLE_SERVING && s->report_fd < 0)
                log_event(LOG_INFO, FIELDS("EMBER_EVENT=cold-start"), "Cold start: backend %s started as pid %d on %s",
                          s->opt->command[0], (int) s->backend, addr);
        else
                log_info("Upgrade: backend %s of generation %" PRIu64 " started as pid %d on %s", s->opt->command[0],
                         s->generation, (int) s->backend, addr);
        s->start_deadline = usec_add(s->started, s->opt->start_timeout);
        if (!s->opt->ready_notify || s->restored) { /* a restored backend said READY=1 in its first life */
                s->probe_at = s->started;
                s->probe_step = USEC_PER_MSEC / 2;
        }
        return 0;
}

/* Under the lock: the notify socket and the idle-since watch for a run. 0, or -errno (logged). */
int prepare_run(supervisor *s, char *notify_path, size_t size) {
        int r;

        if (supervisor_role(s) == ROLE_SERVING) {
                r = watch_idle_since(s);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch %s", STATE_IDLE_SINCE), -ERR_STATE_DIR;
        }
        if (s->opt->ready_notify) {
                r = open_notify_socket(s, notify_path, size);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the backend's notify socket");
        }
        return 0;
}

