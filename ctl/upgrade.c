/* emberctl upgrade: replace a warm app's backend with one started from its current units, under load, with no
 * connection refused or reset (see emberctl(1), ember-sandbox(8) --upgrade). Under systemd this is
 * `systemctl reload NAME-backend.service`: its ExecReload= runs ember-sandbox --upgrade, and the job is done once
 * the new generation serves or failed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
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

/* A launcher holds the state lock for microseconds; one frozen with it (stopped, traced) must not hang upgrade. */
#define UPGRADE_LOCK_WAIT_USEC (10 * USEC_PER_SEC)

static void help_upgrade(FILE *f) {
        fprintf(f,
                "Usage: emberctl upgrade NAME [--drain-timeout=DUR] [--wait]\n"
                "Start a new backend generation of the warm app NAME from its current units (after emberctl new\n"
                "--force and daemon-reload, or a new binary on disk), switch new connections to it once it is ready,\n"
                "and let the old generation finish its open connections. A cold app has nothing to upgrade: its\n"
                "next connection starts the new version.\n\n"
                "  --drain-timeout=DUR   close the old generation's connections still open after DUR (default 5min;\n"
                "                        a fixed-port backend drains for at most half its start timeout, and new\n"
                "                        connections wait meanwhile: emberctl upgrade says so up front)\n"
                "  --wait                return only once the old generation has stopped\n");
}

typedef struct upgrade_args {
        const char *app;
        uint64_t drain_usec;
        bool have_drain, wait;
} upgrade_args;

static int upgrade_option(int c, const char *arg, void *ctx) {
        upgrade_args *a = ctx;
        int r;

        if (c == 'w') {
                a->wait = true;
                return 0;
        }
        r = parse_duration_opt("drain-timeout", arg, true, &a->drain_usec);
        if (r < 0)
                return r;
        a->have_drain = true;
        return 0;
}

static int parse_upgrade(int argc, char *argv[], upgrade_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "drain-timeout", required_argument, NULL, 'd' },
                { "wait", no_argument, NULL, 'w' },
                {}
        };
        static const verb_spec spec = {
                .name = "upgrade", .short_options = "h", .options = options, .help = help_upgrade,
                .on_option = upgrade_option, .name_arg = VERB_NAME_REQUIRED,
        };

        return verb_parse(&spec, argc, argv, a, &a->app);
}

/* Under the state lock: what there is to upgrade. 1 with the serving generation, 0 if the app is cold (said: nothing
 * to do), or the error after saying why not now. */
static int check_upgradable(int dirfd, const upgrade_args *a, uint64_t *serving_gen) {
        generation_info g[16];
        app_status st;
        serving sv;
        int n, r;

        r = app_status_read(dirfd, &st);
        if (r < 0)
                return status_error(a->app, r);
        if (!app_status_is_up(&st)) {
                printf("%s is cold: nothing to upgrade; its next connection starts the new version.\n", a->app);
                return 0;
        }
        if (st.state != APP_WARM) {
                log_error("%s is %s: upgrade it once it is warm", a->app, state_label(&st));
                return -ECTL_TRY_LATER;
        }
        if (serving_read(dirfd, &sv) < 0) {
                log_error("%s names no serving generation (its supervisor is from an older ember): restart it instead "
                          "with systemctl restart %s-backend.service", a->app, a->app);
                return -ECTL_TRY_LATER;
        }
        n = generations_read(dirfd, g, ELEMENTSOF(g));
        for (int i = 0; i < n; i++)
                if (g[i].role == ROLE_PENDING) {
                        log_error("an upgrade of %s to generation %" PRIu64 " is in progress: wait for it", a->app,
                                  g[i].generation);
                        return -ECTL_TRY_LATER;
                }
        *serving_gen = sv.generation;
        return 1;
}

/* Under the state lock: the drain timeout for the new generation to hand on, and no stale result. */
static int prepare_request(int dirfd, const upgrade_args *a) {
        int r = upgrade_request_write(dirfd, a->have_drain, a->drain_usec);

        return r < 0 ? log_error_errno(r, "Failed to write %s/%s/%s", runtime_dir(), a->app, STATE_UPGRADE_REQUEST) : 0;
}

/* The text after "ready: ", "failed: ", "busy: " or "cold: ". */
static const char *result_text(const char *line, const char *fallback) {
        const char *p = strstr(line, ": ");
        return p ? p + 2 : fallback;
}

/* The new generation's own word on how it went (JOB: the reload job's result): 0, or the error after saying it. */
static int report_result(int dirfd, const char *app, int job) {
        char line[STATE_KV_MAX + 1] = "";

        (void) state_kv_read(dirfd, STATE_UPGRADE_RESULT, line, sizeof(line));
        if (job >= 0 && strncmp(line, "failed: ", 8) != 0) {
                printf("Upgraded %s: %s\n", app, result_text(line, "the new generation serves"));
                return 0;
        }
        if (strncmp(line, "busy: ", 6) == 0) {
                log_error("%s", result_text(line, ""));
                return -ECTL_TRY_LATER;
        }
        log_error("upgrade of %s failed: %s (journalctl -u %s-backend.service)", app,
                  result_text(line, "the new generation did not start"), app);
        return -ECTL_UNAVAILABLE;
}

/* --wait: until the replaced generation's supervisor is gone. Its drain timeout bounds that; so do we, loosely. */
static int wait_drained(int dirfd, const char *app, uint64_t previous, uint64_t drain_usec) {
        uint64_t deadline = usec_add(deadline_in(drain_usec), 60 * USEC_PER_SEC);

        while (supervisor_find_generation(dirfd, previous, NULL) > 0) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        log_error("generation %" PRIu64 " of %s is still running past its drain timeout", previous, app);
                        return -ECTL_UNAVAILABLE;
                }
                (void) poll(NULL, 0, 100);
        }
        printf("Generation %" PRIu64 " of %s has stopped.\n", previous, app);
        return 0;
}

/* What the new generation is started with, from its unit's ExecReload= (ember-sandbox --upgrade OPTIONS -- ...):
 * the options that decide how long new connections may wait. */
typedef struct upgrade_plan {
        ember_addr backend;
        uint64_t start_timeout_usec, drain_usec;
} upgrade_plan;

/* The text after PREFIX in S, or NULL. */
static const char *after_prefix(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static int plan_option(upgrade_plan *p, const char *arg) {
        const char *v;

        if ((v = after_prefix(arg, "--backend=")))
                return parse_backend_addr(v, &p->backend);
        if ((v = after_prefix(arg, "--start-timeout=")))
                return parse_duration(v, &p->start_timeout_usec);
        if ((v = after_prefix(arg, "--drain-timeout=")))
                return parse_duration(v, &p->drain_usec);
        return 0;
}

static int read_plan(sd_bus *bus, const char *unit, upgrade_plan *p) {
        char argv[8192];
        bool have_backend = false;
        int n, r;

        /* ember-sandbox's own defaults where the unit does not say */
        *p = (upgrade_plan){ .start_timeout_usec = 30 * USEC_PER_SEC, .drain_usec = UPGRADE_DRAIN_DEFAULT_USEC };
        n = bus_service_exec_argv(bus, unit, "ExecReload", argv, sizeof(argv));
        if (n < 0)
                return n;
        for (const char *arg = argv; arg < argv + n && strcmp(arg, "--") != 0; arg += strlen(arg) + 1) {
                r = plan_option(p, arg);
                if (r < 0)
                        return r;
                have_backend = have_backend || after_prefix(arg, "--backend=");
        }
        return have_backend ? 0 : -ENOENT;
}

/* Connections to the serving generation's backend now (all the app's if its leases are not ours to read). */
static uint64_t serving_connections(int dirfd, uint64_t serving_gen) {
        generation_info g[16];
        app_status st;
        int n = generations_read(dirfd, g, ELEMENTSOF(g));

        for (int i = 0; i < n; i++)
                if (g[i].generation == serving_gen && g[i].connections != UINT64_MAX)
                        return g[i].connections;
        return app_status_read(dirfd, &st) >= 0 ? st.refcount : 0;
}

/* A fixed-address backend cannot run twice: the new one starts only once the old generation is gone, so new
 * connections wait for those it still has, for as long as the drain timeout lets them live. Said before anyone
 * waits, with the bound, and what avoids the wait. */
static void warn_fixed_address(sd_bus *bus, const char *unit, int dirfd, const upgrade_args *a, uint64_t serving_gen) {
        char addr[128], drain[32], start[32], why[128], advice[256] = "";
        upgrade_plan p;
        uint64_t live, bound;

        if (read_plan(bus, unit, &p) < 0 || p.backend.port_auto)
                return; /* HOST:auto, or not known to be otherwise: the generations run side by side */
        live = serving_connections(dirfd, serving_gen);
        if (live == 0)
                return;
        bound = upgrade_drain_bound(true, a->have_drain ? a->drain_usec : p.drain_usec, p.start_timeout_usec);
        format_duration(bound, drain, sizeof(drain));
        format_duration(p.start_timeout_usec, start, sizeof(start));
        if (bound == p.start_timeout_usec / 2)
                snprintf(why, sizeof(why), "--drain-timeout, here half of --start-timeout=%s", start);
        else
                snprintf(why, sizeof(why), "--drain-timeout=%s", drain);
        if (p.backend.sa.sa_family != AF_UNIX) {
                ember_addr autoport = p.backend;
                autoport.port_auto = true;
                if (autoport.sa.sa_family == AF_INET6)
                        autoport.in6.sin6_port = 0;
                else
                        autoport.in.sin_port = 0;
                (void) format_addr(&autoport, addr, sizeof(addr));
                snprintf(advice, sizeof(advice), " For upgrades that make no connection wait, give the app "
                         "--backend=%s (emberctl new --force).", addr);
        }
        (void) format_addr(&p.backend, addr, sizeof(addr));
        log_warning("%s's backend has a fixed address (%s), which the new backend can take only once the %" PRIu64
                    " live connection%s to the old one %s: new connections wait until then, at most %s (%s), when %s "
                    "closed.%s", a->app, addr, live, live == 1 ? "" : "s", live == 1 ? "has ended" : "have ended", drain,
                    why, live == 1 ? "it is" : "those still open are", advice);
}

static int reload_backend(sd_bus *bus, const char *unit) {
        const char *result = NULL;

        if (!bus_unit_loaded(bus, unit))
                return log_error_errno(-ENOENT, "%s is not loaded in systemd: emberctl upgrade needs the units of "
                                       "emberctl new (without them, as in inetd mode, run ember-sandbox --upgrade with "
                                       "the backend's options, see ember-sandbox(8))", unit);
        return bus_unit_job(bus, "ReloadUnit", unit, &result);
}

int verb_upgrade(int argc, char *argv[]) {
        upgrade_args a = { .drain_usec = UPGRADE_DRAIN_DEFAULT_USEC };
        _cleanup_close_ int dirfd = -1;
        char unit[APP_NAME_MAX + 32];
        uint64_t previous = 0;
        sd_bus *bus = NULL;
        int r;

        r = parse_upgrade(argc, argv, &a);
        if (r <= 0)
                return r;
        r = state_open(a.app, false, &dirfd);
        if (r < 0)
                return status_error(a.app, r);
        {
                _cleanup_close_ int lock = -1;
                r = state_lock_until(dirfd, deadline_in(UPGRADE_LOCK_WAIT_USEC), &lock);
                if (r == -ETIMEDOUT) {
                        log_error("The state lock of %s has been held for %u s (a frozen launcher?); try again", a.app,
                                  (unsigned) (UPGRADE_LOCK_WAIT_USEC / USEC_PER_SEC));
                        return -ECTL_TRY_LATER;
                }
                if (r < 0) {
                        log_error_errno(r, "Failed to take the state lock of %s", a.app);
                        return -ECTL_REFUSED;
                }
                r = check_upgradable(dirfd, &a, &previous);
                if (r <= 0)
                        return r;
                if (prepare_request(dirfd, &a) < 0)
                        return -ECTL_REFUSED; /* said */
        }
        if (bus_open(&bus) < 0)
                return -ECTL_UNAVAILABLE; /* said */
        snprintf(unit, sizeof(unit), "%s-backend.service", a.app);
        warn_fixed_address(bus, unit, dirfd, &a, previous);
        r = reload_backend(bus, unit);
        sd_bus_flush_close_unref(bus);
        if (r == -ENOENT)
                return -ECTL_UNAVAILABLE; /* said: no units (inetd mode: ember-sandbox --upgrade) */
        r = report_result(dirfd, a.app, r);
        if (r >= 0 && a.wait)
                r = wait_drained(dirfd, a.app, previous, a.drain_usec);
        return r;
}
