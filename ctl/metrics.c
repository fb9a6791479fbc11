/* emberctl metrics: the Prometheus text exposition format, from the state files every app's supervisor keeps
 * (never from logs); with --textfile=DIR written atomically to DIR/ember.prom for node_exporter. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "state.h"
#include "template.h"

/* The buckets the supervisor counts in cold-start-ms and restore-ms (upper bounds in ms), and as Prometheus's le. */
static const struct {
        const char *ms, *le;
} buckets[] = {
        { "1", "0.001" }, { "2.5", "0.0025" }, { "5", "0.005" }, { "10", "0.01" }, { "25", "0.025" },
        { "50", "0.05" }, { "100", "0.1" }, { "250", "0.25" }, { "500", "0.5" }, { "1000", "1" },
        { "2500", "2.5" }, { "5000", "5" }, { "10000", "10" }, { "30000", "30" }, { "60000", "60" },
        { "+Inf", "+Inf" },
};

/* How a run ended (the EMBER_EVENT= of the end, as counted in "ends") and the reason label it gets. */
static const struct {
        const char *event, *reason;
} stop_reasons[] = {
        { "idle-stop", "idle" }, { "stop", "manual" }, { "crash", "crash" }, { "seccomp-kill", "seccomp-kill" },
        { "start-timeout", "start-timeout" }, { "exit", "exit" }, { "state-lost", "state-lost" },
};

typedef struct app_metrics {
        char name[APP_NAME_MAX + 1];
        app_status st;
        char ends[STATE_KV_MAX + 1], hist[STATE_KV_MAX + 1], restore_hist[STATE_KV_MAX + 1];
        uint64_t run_usec_total, cpu_usec_total, run_cpu_usec, memory_peak, restores, checkpoint_bytes;
} app_metrics;

static int app_metrics_read(const char *app, app_metrics *m) {
        _cleanup_close_ int dirfd = -1;
        int r;

        *m = (app_metrics){};
        snprintf(m->name, sizeof(m->name), "%s", app);
        r = state_open(app, false, &dirfd);
        if (r >= 0)
                r = app_status_read(dirfd, &m->st);
        if (r < 0)
                return r;
        (void) state_kv_read(dirfd, STATE_ENDS, m->ends, sizeof(m->ends));
        (void) state_kv_read(dirfd, STATE_COLD_START_HIST, m->hist, sizeof(m->hist));
        (void) state_read_u64(dirfd, STATE_RUN_USEC_TOTAL, &m->run_usec_total);
        (void) state_read_u64(dirfd, STATE_CPU_USEC_TOTAL, &m->cpu_usec_total);
        (void) state_read_u64(dirfd, STATE_RUN_CPU_USEC, &m->run_cpu_usec);
        (void) state_read_u64(dirfd, STATE_MEMORY_PEAK, &m->memory_peak);
#if ENABLE_CHECKPOINT
        (void) state_read_u64(dirfd, STATE_RESTORES, &m->restores);
        (void) state_kv_read(dirfd, STATE_RESTORE_HIST, m->restore_hist, sizeof(m->restore_hist));
        (void) checkpoint_size(app, &m->checkpoint_bytes); /* root only: the directory is 0700 */
#endif
        return 0;
}

static uint64_t kv(const char *kvs, const char *key) {
        uint64_t v = 0;
        (void) kv_get_u64(kvs, key, &v);
        return v;
}

static int family(buf *b, const char *name, const char *type, const char *help) {
        return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef uint64_t (*app_value)(const app_metrics *m, uint64_t now);

static uint64_t v_connections(const app_metrics *m, uint64_t now) { return m->st.refcount; }
static uint64_t v_connections_total(const app_metrics *m, uint64_t now) { return m->st.connections; }
static uint64_t v_cold_starts(const app_metrics *m, uint64_t now) { return m->st.cold_starts; }
static uint64_t v_up(const app_metrics *m, uint64_t now) { return app_status_is_up(&m->st); }
static uint64_t v_generation(const app_metrics *m, uint64_t now) { return m->st.generation; }
static uint64_t v_memory_peak(const app_metrics *m, uint64_t now) { return m->memory_peak; }
#if ENABLE_CHECKPOINT
static uint64_t v_restores(const app_metrics *m, uint64_t now) { return m->restores; }
static uint64_t v_checkpoint_bytes(const app_metrics *m, uint64_t now) { return m->checkpoint_bytes; }
#endif
static uint64_t v_crashes(const app_metrics *m, uint64_t now) {
        return kv(m->ends, "crash") + kv(m->ends, "seccomp-kill");
}
/* seconds and CPU of ended runs, plus the live run's so far */
static uint64_t v_run_usec(const app_metrics *m, uint64_t now) {
        uint64_t live = app_status_is_up(&m->st) && m->st.have_started_at && now > m->st.started_at
                                ? (now - m->st.started_at) * USEC_PER_SEC : 0;
        return m->run_usec_total + live;
}
static uint64_t v_cpu_usec(const app_metrics *m, uint64_t now) {
        return m->cpu_usec_total + (app_status_is_up(&m->st) ? m->run_cpu_usec : 0);
}

static int print_simple(buf *b, const app_metrics *apps, size_t n, uint64_t now, const char *name, const char *type,
                        const char *help, app_value value, bool usec_as_seconds) {
        int r = family(b, name, type, help);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                uint64_t v = value(&apps[i], now);
                if (usec_as_seconds)
                        r = buf_printf(b, "%s{app=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n", name, apps[i].name,
                                       v / USEC_PER_SEC, v % USEC_PER_SEC);
                else
                        r = buf_printf(b, "%s{app=\"%s\"} %" PRIu64 "\n", name, apps[i].name, v);
        }
        return r;
}

static int print_stops(buf *b, const app_metrics *apps, size_t n) {
        int r = family(b, "ember_backend_stops_total", "counter", "Backend runs ended, by how they ended.");

        for (size_t i = 0; r >= 0 && i < n; i++)
                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(stop_reasons); k++)
                        r = buf_printf(b, "ember_backend_stops_total{app=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                                       apps[i].name, stop_reasons[k].reason, kv(apps[i].ends, stop_reasons[k].event));
        return r;
}

/* NAME's samples, one histogram per app, from the buckets the supervisor counted in the state file read into the
 * app_metrics member at HIST (hist, restore_hist). */
static int print_histogram_of(buf *b, const app_metrics *apps, size_t n, const char *name, const char *help, size_t hist) {
        int r = family(b, name, "histogram", help);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *h = (const char *) &apps[i] + hist;
                uint64_t cumulative = 0, sum_ms = kv(h, "sum");

                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(buckets); k++) {
                        cumulative += kv(h, buckets[k].ms);
                        r = buf_printf(b, "%s_bucket{app=\"%s\",le=\"%s\"} %" PRIu64 "\n", name, apps[i].name,
                                       buckets[k].le, cumulative);
                }
                if (r >= 0)
                        r = buf_printf(b, "%s_sum{app=\"%s\"} %" PRIu64 ".%03" PRIu64 "\n%s_count{app=\"%s\"} %" PRIu64 "\n",
                                       name, apps[i].name, sum_ms / 1000, sum_ms % 1000, name, apps[i].name, cumulative);
        }
        return r;
}

static int print_histogram(buf *b, const app_metrics *apps, size_t n) {
        return print_histogram_of(b, apps, n, "ember_cold_start_seconds",
                                  ENABLE_CHECKPOINT ? "Time from a cold start to the backend being ready (restores apart)."
                                                    : "Time from a cold start to the backend being ready.",
                                  offsetof(app_metrics, hist));
}

#if ENABLE_CHECKPOINT
static int print_restore_histogram(buf *b, const app_metrics *apps, size_t n) {
        return print_histogram_of(b, apps, n, "ember_restore_seconds",
                                  "Time from a restore from a checkpoint to the backend being ready.",
                                  offsetof(app_metrics, restore_hist));
}
#endif

/* The families with one sample per app, in the order printed, each followed by the richer family that belongs
 * next to it, if any. */
static const struct {
        const char *name, *type, *help;
        app_value value;
        bool usec_as_seconds;
        int (*then)(buf *b, const app_metrics *apps, size_t n);
} simple_families[] = {
        { "ember_connections", "gauge", "Live connections.", v_connections, false, NULL },
        { "ember_connections_total", "counter", "Connections served.", v_connections_total, false, NULL },
        { "ember_cold_starts_total", "counter", "Backend runs started.", v_cold_starts, false, print_histogram },
        { "ember_backend_up", "gauge", "1 while a backend run is starting, warm or stopping.", v_up, false, print_stops },
        { "ember_backend_crashes_total", "counter", "Backend runs that crashed or were killed by their seccomp policy.",
          v_crashes, false, NULL },
        { "ember_backend_run_seconds_total", "counter", "Time backends ran, the live run included.", v_run_usec, true,
          NULL },
        { "ember_backend_cpu_seconds_total", "counter", "CPU time backends used (cgroup v2, else the ended runs' rusage).",
          v_cpu_usec, true, NULL },
        { "ember_backend_memory_peak_bytes", "gauge", "Peak memory of the live or last backend run.", v_memory_peak,
          false, NULL },
        { "ember_backend_generation", "gauge", "Number of the live or last backend run.", v_generation, false, NULL },
#if ENABLE_CHECKPOINT /* --idle-action=checkpoint, experimental: nothing of it in the default build */
        { "ember_restores_total", "counter", "Backend runs restored from a checkpoint (counted in ember_cold_starts_total "
          "too).", v_restores, false, print_restore_histogram },
        { "ember_checkpoint_bytes", "gauge", "Disk used by the app's checkpoint now (0 without one).",
          v_checkpoint_bytes, false, NULL },
#endif
};

static int render_metrics(buf *b, const app_metrics *apps, size_t n, uint64_t now) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(simple_families); i++) {
                r = print_simple(b, apps, n, now, simple_families[i].name, simple_families[i].type,
                                 simple_families[i].help, simple_families[i].value, simple_families[i].usec_as_seconds);
                if (r >= 0 && simple_families[i].then)
                        r = simple_families[i].then(b, apps, n);
        }
        return r;
}

static void help_metrics(FILE *f) {
        fprintf(f,
                "Usage: emberctl metrics [NAME] [--textfile=DIR]\n"
                "Print every app's metrics (or NAME's) in the Prometheus text exposition format.\n\n"
                "  --textfile=DIR          write them to DIR/ember.prom atomically instead, for node_exporter's\n"
                "                          textfile collector (ember-metrics.timer does it every 15 s)\n");
}

static int write_textfile(const char *dir, const buf *b) {
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dirfd < 0) {
                log_error_errno(-errno, "cannot open %s", dir);
                return -ECTL_CANNOT_CREATE;
        }
        r = write_atomic(dirfd, "ember.prom", b, true);
        if (r < 0)
                return log_error_errno(r, "cannot write %s/ember.prom", dir);
        return 0;
}

static int print_metrics(const buf *b) {
        if (fwrite(b->data ? b->data : "", 1, b->len, stdout) != b->len)
                return log_error_errno(-EIO, "cannot write to standard output");
        return flush_stdout();
}

/* The metrics of APP, or of every app (those that cannot be read left out): 0, or the error after saying why. */
static int collect(const char *app, app_metrics **ret, size_t *ret_n) {
        _cleanup_free_ char **names = NULL;
        app_metrics *apps;
        size_t n = 0;
        int r;

        if (app) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return log_error_errno(-ENOMEM, "out of memory");
                names[0] = (char *) app;
                n = 1;
        } else {
                r = list_app_names(&names, &n);
                if (r < 0)
                        return r; /* said */
        }
        apps = calloc(n ? n : 1, sizeof(*apps));
        if (!apps)
                return log_error_errno(-ENOMEM, "out of memory");
        *ret_n = 0;
        for (size_t i = 0; i < n; i++) {
                r = app_metrics_read(names[i], &apps[*ret_n]);
                if (r < 0 && app) {
                        free(apps);
                        return status_error(app, r);
                }
                if (r >= 0)
                        (*ret_n)++;
        }
        if (!app)
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
        *ret = apps;
        return 0;
}

static int metrics_option(_unused_ int c, const char *arg, void *textfile) { /* --textfile, the only one */
        if (arg[0] != '/')
                return usage_fail("invalid --textfile '%s': use an absolute directory", arg);
        *(const char **) textfile = arg;
        return 0;
}

int verb_metrics(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "textfile", required_argument, NULL, 't' },
                {}
        };
        _cleanup_free_ app_metrics *apps = NULL;
        const char *app = NULL, *textfile = NULL;
        size_t n = 0;
        static const verb_spec spec = {
                .name = "metrics", .short_options = "h", .options = options, .help = help_metrics,
                .on_option = metrics_option, .name_arg = VERB_NAME_OPTIONAL,
        };
        buf b = {};
        int r;

        r = verb_parse(&spec, argc, argv, &textfile, &app);
        if (r <= 0)
                return r;

        r = collect(app, &apps, &n);
        if (r < 0)
                return r;
        if (render_metrics(&b, apps, n, (uint64_t) time(NULL)) < 0) {
                buf_done(&b);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        r = textfile ? write_textfile(textfile, &b) : print_metrics(&b);
        buf_done(&b);
        return r;
}
