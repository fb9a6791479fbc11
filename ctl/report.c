/* emberctl report: every backend run an app had, summed up from the journal (the supervisor's run-end events and
 * their bill, the ready events' time to ready): the audit log operators used to keep by hand. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "parse.h"

#define APPS_MAX 1024
#define SAMPLES_MAX 100000

typedef struct app_report {
        char name[APP_NAME_MAX + 1];
        uint64_t runs, run_sec, cpu_usec, memory_peak, connections, crashes;
        uint64_t checkpoint_peak; /* the largest checkpoint a run left on disk (--idle-action=checkpoint) */
        uint64_t restores;        /* runs restored from one: their time to ready is not a cold start's */
        uint64_t *ready_ms; /* every cold start's time to ready */
        size_t n_ready, allocated;
} app_report;

typedef struct report {
        app_report apps[APPS_MAX];
        size_t n;
} report;

/* One journal entry, the fields report reads. */
typedef struct entry {
        char app[APP_NAME_MAX + 1], event[32];
        uint64_t run_sec, cpu_usec, memory_peak, connections, ready_ms, checkpoint_bytes, restore_ms;
        bool have_ready_ms, have_restore_ms;
} entry;

static bool is_run_end(const char *event) {
        static const char *const ends[] = { "idle-stop", "stop", "crash", "exit", "seccomp-kill", "start-timeout",
                                            "state-lost" };
        for (size_t i = 0; i < ELEMENTSOF(ends); i++)
                if (strcmp(event, ends[i]) == 0)
                        return true;
        return false;
}

static app_report *report_app(report *rep, const char *name) {
        for (size_t i = 0; i < rep->n; i++)
                if (strcmp(rep->apps[i].name, name) == 0)
                        return &rep->apps[i];
        if (rep->n == APPS_MAX)
                return NULL;
        snprintf(rep->apps[rep->n].name, sizeof(rep->apps[rep->n].name), "%s", name);
        return &rep->apps[rep->n++];
}

static void add_ready(app_report *a, uint64_t ms) {
        if (a->n_ready == a->allocated) {
                size_t na = a->allocated ? a->allocated * 2 : 64;
                uint64_t *p = na <= SAMPLES_MAX ? realloc(a->ready_ms, na * sizeof(*p)) : NULL;
                if (!p)
                        return; /* the percentiles then come from the first SAMPLES_MAX */
                a->ready_ms = p;
                a->allocated = na;
        }
        a->ready_ms[a->n_ready++] = ms;
}

static void account(report *rep, const entry *e) {
        app_report *a;

        if (!e->app[0] || !e->event[0] || !(a = report_app(rep, e->app)))
                return;
        if (strcmp(e->event, "ready") == 0 && e->have_ready_ms)
                add_ready(a, e->ready_ms);
        /* a restored run's supervisor says "ready", then at once "restore" with the same time: not a cold start's */
        if (strcmp(e->event, "restore") == 0 && e->have_restore_ms) {
                a->restores++;
                if (a->n_ready > 0 && a->ready_ms[a->n_ready - 1] == e->restore_ms)
                        a->n_ready--;
        }
        if (!is_run_end(e->event))
                return;
        a->runs++;
        a->run_sec += e->run_sec;
        a->cpu_usec += e->cpu_usec;
        a->connections += e->connections;
        if (e->memory_peak > a->memory_peak)
                a->memory_peak = e->memory_peak;
        if (e->checkpoint_bytes > a->checkpoint_peak)
                a->checkpoint_peak = e->checkpoint_bytes;
        if (strcmp(e->event, "crash") == 0 || strcmp(e->event, "seccomp-kill") == 0)
                a->crashes++;
}

/* FIELD=VALUE of journalctl's export format (binary fields, which ember never writes, are skipped). */
static void parse_field(entry *e, const char *line) {
        static const struct {
                const char *name;
                size_t off;
        } numbers[] = {
                { "EMBER_RUN_SEC=", offsetof(entry, run_sec) },
                { "EMBER_CPU_USEC=", offsetof(entry, cpu_usec) },
                { "EMBER_MEMORY_PEAK_BYTES=", offsetof(entry, memory_peak) },
                { "EMBER_CONNECTIONS=", offsetof(entry, connections) },
                { "EMBER_CHECKPOINT_BYTES=", offsetof(entry, checkpoint_bytes) },
        };
        if (strncmp(line, "EMBER_APP=", 10) == 0 && app_name_is_valid(line + 10))
                snprintf(e->app, sizeof(e->app), "%s", line + 10);
        else if (strncmp(line, "EMBER_EVENT=", 12) == 0)
                snprintf(e->event, sizeof(e->event), "%s", line + 12);
        else if (strncmp(line, "EMBER_READY_MS=", 15) == 0)
                e->have_ready_ms = parse_uint64(line + 15, &e->ready_ms) >= 0;
        else if (strncmp(line, "EMBER_RESTORE_MS=", 17) == 0)
                e->have_restore_ms = parse_uint64(line + 17, &e->restore_ms) >= 0;
        else
                for (size_t i = 0; i < ELEMENTSOF(numbers); i++)
                        if (strncmp(line, numbers[i].name, strlen(numbers[i].name)) == 0)
                                (void) parse_uint64(line + strlen(numbers[i].name), (uint64_t *) ((char *) e + numbers[i].off));
}

static void read_entries(FILE *f, report *rep) {
        char *line = NULL;
        size_t size = 0;
        entry e = {};
        ssize_t n;

        while ((n = getline(&line, &size, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (n == 0) {
                        account(rep, &e);
                        e = (entry){};
                } else
                        parse_field(&e, line);
        }
        account(rep, &e);
        free(line);
}

/* journalctl -o export of the supervisors' entries (of APP, since SINCE), read into REP. */
static int read_journal(const char *app, const char *since, report *rep) {
        char match[APP_NAME_MAX + 16];
        const char *argv[12];
        int p[2], status, n = 0;
        FILE *f;
        pid_t pid;

        argv[n++] = "journalctl";
        argv[n++] = "-q";
        argv[n++] = "--no-pager";
        argv[n++] = "-o";
        argv[n++] = "export";
        argv[n++] = "SYSLOG_IDENTIFIER=ember-sandbox";
        if (app) {
                snprintf(match, sizeof(match), "EMBER_APP=%s", app);
                argv[n++] = match;
        }
        if (since) {
                argv[n++] = "--since";
                argv[n++] = since;
        }
        argv[n] = NULL;
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(-errno, "pipe failed");
        pid = fork();
        if (pid < 0)
                return log_error_errno(-errno, "fork failed");
        if (pid == 0) {
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execvp(argv[0], (char *const *) argv);
                fprintf(stderr, "emberctl: cannot run journalctl: %s\n", strerror(errno));
                _exit(127);
        }
        close(p[1]);
        f = fdopen(p[0], "re");
        if (f) {
                read_entries(f, rep);
                fclose(f);
        } else
                close(p[0]);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error("journalctl failed (status 0x%x)%s", status,
                                 since ? "; is --since a time journalctl understands?" : ""), -EIO;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The nearest-rank percentile P of the cold starts, or -1 without any. */
static long long percentile(const app_report *a, unsigned p) {
        size_t rank;

        if (a->n_ready == 0)
                return -1;
        rank = (a->n_ready * p + 99) / 100;
        return (long long) a->ready_ms[rank > 0 ? rank - 1 : 0];
}

static void ms_or_dash(long long v, char *out, size_t size) {
        if (v < 0)
                snprintf(out, size, "-");
        else
                snprintf(out, size, "%lldms", v);
}

/* --idle-action=checkpoint, experimental: the default build prints nothing of it */
#if ENABLE_CHECKPOINT
#define CHECKPOINT_HEADER " %10s"
#define CHECKPOINT_COLUMN , "CHECKPOINT"
static void print_checkpoint_cell(const app_report *a) {
        if (a->checkpoint_peak > 0)
                printf(" %7" PRIu64 "KiB", (a->checkpoint_peak + 1023) / 1024);
        else
                printf(" %10s", "-");
}
static void print_checkpoint_json(const app_report *a) {
        printf(",\"restores\":%" PRIu64 ",\"checkpoint_peak_bytes\":%" PRIu64, a->restores, a->checkpoint_peak);
}
#else
#define CHECKPOINT_HEADER
#define CHECKPOINT_COLUMN
static void print_checkpoint_cell(const app_report *a) {
}
static void print_checkpoint_json(const app_report *a) {
}
#endif

static void print_table(const report *rep) {
        printf("%-20s %6s %10s %10s %12s %11s %7s %9s %9s" CHECKPOINT_HEADER "\n", "APP", "RUNS", "UP", "CPU",
               "PEAK-MEMORY", "CONNECTIONS", "CRASHES", "READY-P50", "READY-P99" CHECKPOINT_COLUMN);
        for (size_t i = 0; i < rep->n; i++) {
                const app_report *a = &rep->apps[i];
                char up[32], p50[32], p99[32];

                format_age(a->run_sec, up, sizeof(up));
                ms_or_dash(percentile(a, 50), p50, sizeof(p50));
                ms_or_dash(percentile(a, 99), p99, sizeof(p99));
                printf("%-20s %6" PRIu64 " %10s %8" PRIu64 ".%01" PRIu64 "s %9" PRIu64 "KiB %11" PRIu64 " %7" PRIu64
                       " %9s %9s", a->name, a->runs, up, a->cpu_usec / 1000000, a->cpu_usec / 100000 % 10,
                       a->memory_peak / 1024, a->connections, a->crashes, p50, p99);
                print_checkpoint_cell(a);
                putchar('\n');
        }
}

static void print_json(const report *rep) {
        putchar('[');
        for (size_t i = 0; i < rep->n; i++) {
                const app_report *a = &rep->apps[i];
                long long p50 = percentile(a, 50), p99 = percentile(a, 99);

                printf("%s{\"app\":\"%s\",\"runs\":%" PRIu64 ",\"up_sec\":%" PRIu64 ",\"cpu_usec\":%" PRIu64
                       ",\"memory_peak_bytes\":%" PRIu64 ",\"connections\":%" PRIu64 ",\"crashes\":%" PRIu64
                       ",\"cold_starts\":%zu", i ? "," : "", a->name, a->runs, a->run_sec, a->cpu_usec, a->memory_peak,
                       a->connections, a->crashes, a->n_ready);
                print_checkpoint_json(a);
                printf(",");
                if (p50 < 0)
                        printf("\"cold_start_ms_p50\":null,\"cold_start_ms_p99\":null}");
                else
                        printf("\"cold_start_ms_p50\":%lld,\"cold_start_ms_p99\":%lld}", p50, p99);
        }
        printf("]\n");
}

static void help_report(FILE *f) {
        fprintf(f,
                "Usage: emberctl report [NAME] [--since=TIME] [--json]\n"
                "Sum up every backend run of every app (or NAME's) from the journal: runs, up time, CPU time, peak\n"
                "memory, connections, crashes, and the cold starts' time to ready (p50, p99).\n\n"
                "  --since=TIME            only runs since TIME (as journalctl --since takes it: \"today\", \"-1h\", ...)\n"
                "  --json                  a JSON array, one object per app\n");
}

int verb_report(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "since", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        static const verb_spec spec = {
                .name = "report", .short_options = "hj", .options = options, .help = help_report,
                .on_option = view_option, .name_arg = VERB_NAME_OPTIONAL,
        };
        const char *app = NULL;
        view_args a = {};
        report *rep;
        int r;

        r = verb_parse(&spec, argc, argv, &a, &app);
        if (r <= 0)
                return r;

        rep = calloc(1, sizeof(*rep));
        if (!rep)
                return log_error_errno(-ENOMEM, "out of memory");
        r = read_journal(app, a.since, rep);
        for (size_t i = 0; i < rep->n; i++)
                qsort(rep->apps[i].ready_ms, rep->apps[i].n_ready, sizeof(uint64_t), cmp_u64);
        if (r >= 0) {
                if (a.json)
                        print_json(rep);
                else if (rep->n == 0)
                        printf("No backend runs in the journal%s.\n", a.since ? " for that time" : "");
                else
                        print_table(rep);
        }
        for (size_t i = 0; i < rep->n; i++)
                free(rep->apps[i].ready_ms);
        free(rep);
        if (r < 0)
                return r; /* said by read_journal() */
        return flush_stdout();
}
