/* ember-sandbox --upgrade: a generation begun beside the serving one, which takes over once ready (see
 * ember-sandbox(8), ember-state(7)). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exit-status.h"
#include "log.h"
#include "macro.h"
#include "options.h"
#include "protocol.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

/* Under the lock, for --upgrade: 0 and the generation we replace; RUN_OVER if there is nothing to do (a cold app),
 * -errno if not now (reported). At most one generation may be starting at a time. */
static int find_upgrade_target(supervisor *s, serving *sv, pid_t *pid) {
        uint64_t gens[64];
        pid_t pids[64];
        app_state state;
        int n, r;

        r = app_state_settle(s->dirfd, &state);
        if (r < 0)
                return upgrade_report(s, UPGRADE_FAILED, "the state of %s is unreadable: %s", s->opt->app, strerror(-r)),
                       -ERR_STATE_DATA;
        if (state == APP_COLD)
                return upgrade_report(s, UPGRADE_COLD, "%s is cold: nothing to upgrade; the next connection starts "
                                      "the new version", s->opt->app), RUN_OVER;
        if (state != APP_WARM)
                return upgrade_report(s, UPGRADE_BUSY, "%s is %s: upgrade it once it is warm", s->opt->app,
                                      app_state_to_string(state)), -ERR_NOT_NOW;
        if (serving_read(s->dirfd, sv) < 0 || supervisor_find_generation(s->dirfd, sv->generation, pid) <= 0 || *pid <= 0)
                return upgrade_report(s, UPGRADE_BUSY, "%s has no serving generation to replace (a supervisor of an "
                                      "older ember?): restart it instead", s->opt->app), -ERR_NOT_NOW;
        n = supervisors_list(s->dirfd, gens, pids, ELEMENTSOF(gens));
        for (int i = 0; i < n; i++)
                if (gens[i] > sv->generation)
                        return upgrade_report(s, UPGRADE_BUSY, "an upgrade of %s to generation %" PRIu64 " is in "
                                              "progress: wait for it", s->opt->app, gens[i]), -ERR_NOT_NOW;
        return 0;
}

/* The drain timeout asked for by emberctl upgrade, else ours; a fixed-port upgrade holds new connections while the
 * old generation drains, so bounded by upgrade_drain_bound() (which emberctl upgrade tells the user up front). */
static uint64_t upgrade_drain_usec(supervisor *s) {
        uint64_t d = s->opt->drain_timeout, asked;

        if (upgrade_request_take(s->dirfd, &asked) > 0)
                d = asked;
        return upgrade_drain_bound(!s->opt->backend.port_auto, d, s->opt->start_timeout);
}

/* Under the lock: a new generation beside the serving one. HOST:auto: it starts on its own port and takes over
 * once ready. A fixed port: it takes over at once, holds new connections on the wake socket, and starts its
 * backend when the old generation has drained. 0 to run; RUN_OVER or -errno (reported) if not. */
int begin_upgrade(supervisor *s) {
        serving sv;
        pid_t pid = 0;
        int r;

        /* a checkpoint of the old version must not come back, even to an app that is cold now */
        if (s->opt->idle_action == IDLE_ACTION_CHECKPOINT)
                checkpoint_discard(s, "emberctl upgrade");
        r = find_upgrade_target(s, &sv, &pid);
        if (r != 0)
                return r;
        r = allocate_generation(s);
        if (r < 0)
                return upgrade_report(s, UPGRADE_FAILED, "could not take a generation lock in %s", s->dir_path), r;
        s->previous = sv.generation;
        upgrade_under_way_write(s->dirfd, s->generation, upgrade_drain_usec(s));
        log_event(LOG_INFO, FIELDS("EMBER_EVENT=upgrade-start"), "Upgrade: generation %" PRIu64 " starting beside %" PRIu64,
                  s->generation, s->previous);
        r = take_wake_socket(s, sv.generation);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why), "could not share generation %" PRIu64 "'s wake socket: %s", sv.generation,
                         strerror(-r));
                return end_unserving(s, "start-failed", LOG_ERR, why);
        }
        r = prepare_run(s, s->notify_path, sizeof(s->notify_path));
        if (r < 0)
                return end_unserving(s, "start-failed", LOG_ERR, "could not prepare the run"), r;
        s->started = now_usec(CLOCK_MONOTONIC);
        if (s->opt->backend.port_auto)
                return launch_backend(s, s->opt->ready_notify ? s->notify_path : NULL);
        /* fixed port: ours from now on; launchers wait on the wake socket as on a cold start, and our backend
         * starts once the old generation is gone */
        take_over(s, SUP_AWAITING_PREVIOUS);
        return 0;
}
