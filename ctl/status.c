/* emberctl status: every app's state, read through the state protocol (common/protocol.c), as a table or JSON. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "errors.h"
#include "failure.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "state.h"

#define VALUE_MAX 64
#define FAILURE_OUTPUT_LINES 5 /* of the backend's output, under a failed start */

typedef struct app_entry {
        char name[APP_NAME_MAX + 1];
        app_status st;
        generation_info gens[8];
        int n_gens;
        char host[128]; /* of the serving backend's address, for the generations' ports */
        last_failure failure;
        bool failed; /* the last run failed, and none became ready since */
        bool have_checkpoint; /* --idle-action=checkpoint: one is waiting to be restored */
        uint64_t checkpoint_bytes;
} app_entry;

/* "127.0.0.1" of "127.0.0.1:4000", "[::1]" of "[::1]:4000"; empty if no generation serves. */
static void serving_host(int dirfd, char *buf, size_t size) {
        char addr[128], *colon;
        serving sv;

        buf[0] = '\0';
        if (serving_read(dirfd, &sv) < 0 || sv.address.sa.sa_family == AF_UNIX ||
            format_addr(&sv.address, addr, sizeof(addr)) < 0 || !(colon = strrchr(addr, ':')))
                return;
        *colon = '\0';
        snprintf(buf, size, "%s", addr);
}

/* The state directory and its files belong to root (or to us, when EMBER_RUNTIME_DIR points at our own tree); they
 * are world-readable, so status needs no privileges. */
static int app_entry_read(const char *app, app_entry *e) {
        _cleanup_close_ int dirfd = -1;
        int r;

        *e = (app_entry){};
        snprintf(e->name, sizeof(e->name), "%s", app);
        r = state_open(app, false, &dirfd);
        if (r < 0)
                return r;
        r = app_status_read(dirfd, &e->st);
        if (r < 0)
                return r;
        e->n_gens = generations_read(dirfd, e->gens, ELEMENTSOF(e->gens));
        e->have_checkpoint = checkpoint_size(app, &e->checkpoint_bytes) > 0; /* root only: the directory is 0700 */
        serving_host(dirfd, e->host, sizeof(e->host));
        e->failed = last_failure_read(dirfd, &e->failure) >= 0;
        return 0;
}

const char *state_label(const app_status *s) {
        return app_state_to_string(s->state);
}

static void json_string(const char *s) {
        putchar('"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p < 0x20 || *p >= 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static void json_u64_or_null(const char *key, bool have, uint64_t v, bool last) {
        if (have)
                printf("\"%s\":%" PRIu64 "%s", key, v, last ? "" : ",");
        else
                printf("\"%s\":null%s", key, last ? "" : ",");
}

static void print_json(const app_entry *e, uint64_t now) {
        const app_status *s = &e->st;
        bool up = app_status_is_up(s);

        printf("{\"app\":");
        json_string(e->name);
        printf(",\"state\":");
        json_string(up ? state_label(s) : app_state_to_string(APP_COLD));
        printf(",");
        json_u64_or_null("checkpoint_bytes", e->have_checkpoint, e->checkpoint_bytes, false);
        printf("\"stale_state\":");
        if (s->stale)
                json_string(state_label(s));
        else
                printf("null");
        printf(",");
        json_u64_or_null("connections_live", true, s->have_refcount ? s->refcount : 0, false);
        json_u64_or_null("backend_pid", up && s->backend_pid > 0, s->backend_pid, false);
        json_u64_or_null("supervisor_pid", s->supervisor_pid > 0, (uint64_t) s->supervisor_pid, false);
        printf("\"supervisor_running\":%s,", s->supervisor_alive ? "true" : "false");
        json_u64_or_null("generation", s->generation > 0, s->generation, false);
        json_u64_or_null("up_sec", up && s->have_started_at,
                         s->have_started_at && now > s->started_at ? now - s->started_at : 0, false);
        json_u64_or_null("idle_sec", s->have_idle_since && s->refcount == 0,
                         s->have_idle_since && now > s->idle_since ? now - s->idle_since : 0, false);
        json_u64_or_null("cold_starts", true, s->cold_starts, false);
        json_u64_or_null("connections_served", true, s->connections, false);
        json_u64_or_null("last_cold_start_ms", s->have_ready_ms, s->ready_ms, false);
        printf("\"last_failure\":");
        if (e->failed) {
                printf("{\"at\":%" PRIu64 ",\"event\":", e->failure.at_usec / 1000000);
                json_string(e->failure.event);
                printf(",\"reason\":");
                json_string(e->failure.reason);
                printf("},");
        } else
                printf("null,");
        printf("\"generations\":[");
        for (int i = 0; i < e->n_gens; i++) {
                const generation_info *g = &e->gens[i];
                printf("%s{\"generation\":%" PRIu64 ",\"role\":", i ? "," : "", g->generation);
                json_string(generation_role_to_string(g->role));
                printf(",");
                json_u64_or_null("supervisor_pid", g->supervisor_pid > 0, (uint64_t) g->supervisor_pid, false);
                json_u64_or_null("backend_pid", g->backend_pid > 0, g->backend_pid, false);
                json_u64_or_null("port", g->port > 0, g->port, false);
                json_u64_or_null("connections_live", g->connections != UINT64_MAX, g->connections, true);
                printf("}");
        }
        printf("]}");
}

/* One line per live generation, under the app's row: during an upgrade there are two or more. */
static void print_generations(const app_entry *e) {
        if (e->n_gens <= 0)
                return;
        printf("\n  %-10s  %-8s  %-14s  %-11s  %-22s  %s\n", "GENERATION", "ROLE", "SUPERVISOR-PID", "BACKEND-PID",
               "ADDRESS", "CONNECTIONS");
        for (int i = 0; i < e->n_gens; i++) {
                const generation_info *g = &e->gens[i];
                char addr[160] = "-", conns[24] = "-";

                if (g->port > 0 && e->host[0])
                        snprintf(addr, sizeof(addr), "%s:%u", e->host, g->port);
                if (g->connections != UINT64_MAX)
                        snprintf(conns, sizeof(conns), "%" PRIu64, g->connections);
                printf("  %-10" PRIu64 "  %-8s  %-14d  %-11" PRIu64 "  %-22s  %s\n", g->generation,
                       generation_role_to_string(g->role), (int) g->supervisor_pid, g->backend_pid, addr, conns);
        }
}

typedef struct row {
        char col[9][VALUE_MAX + 32];
} row;

static void status_row(const app_entry *e, uint64_t now, row *r) {
        const app_status *s = &e->st;
        bool up = app_status_is_up(s);

        snprintf(r->col[0], sizeof(r->col[0]), "%s", e->name);
        if (s->stale)
                snprintf(r->col[1], sizeof(r->col[1]), "cold (stale '%s': its supervisor is gone)", state_label(s));
        else if (!up && e->have_checkpoint)
                snprintf(r->col[1], sizeof(r->col[1]), "cold (checkpointed, %" PRIu64 " KiB)",
                         (e->checkpoint_bytes + 1023) / 1024);
        else
                snprintf(r->col[1], sizeof(r->col[1]), "%s", state_label(s));
        snprintf(r->col[2], sizeof(r->col[2]), "%" PRIu64, s->have_refcount ? s->refcount : 0);
        if (up && s->backend_pid > 0)
                snprintf(r->col[3], sizeof(r->col[3]), "%" PRIu64, s->backend_pid);
        else
                snprintf(r->col[3], sizeof(r->col[3]), "-");
        if (up && s->have_started_at)
                format_age(now > s->started_at ? now - s->started_at : 0, r->col[4], sizeof(r->col[4]));
        else
                snprintf(r->col[4], sizeof(r->col[4]), "-");
        if (s->have_idle_since && s->refcount == 0)
                format_age(now > s->idle_since ? now - s->idle_since : 0, r->col[5], sizeof(r->col[5]));
        else
                snprintf(r->col[5], sizeof(r->col[5]), "-");
        snprintf(r->col[6], sizeof(r->col[6]), "%" PRIu64, s->cold_starts);
        snprintf(r->col[7], sizeof(r->col[7]), "%" PRIu64, s->connections);
        if (s->have_ready_ms)
                snprintf(r->col[8], sizeof(r->col[8]), "%" PRIu64 "ms", s->ready_ms);
        else
                snprintf(r->col[8], sizeof(r->col[8]), "-");
}

static void print_table(const app_entry *apps, size_t n, uint64_t now) {
        static const row header = { { "APP", "STATE", "CONNECTIONS", "BACKEND-PID", "UP", "IDLE", "COLD-STARTS",
                                      "SERVED", "LAST-COLD-START" } };
        size_t width[9];
        row *rows;

        rows = calloc(n + 1, sizeof(row));
        if (!rows) {
                log_error_errno(-ENOMEM, "out of memory");
                return;
        }
        rows[0] = header;
        for (size_t i = 0; i < n; i++)
                status_row(&apps[i], now, &rows[i + 1]);
        for (size_t c = 0; c < 9; c++) {
                width[c] = 0;
                for (size_t i = 0; i <= n; i++)
                        if (strlen(rows[i].col[c]) > width[c])
                                width[c] = strlen(rows[i].col[c]);
        }
        for (size_t i = 0; i <= n; i++) {
                for (size_t c = 0; c < 9; c++) {
                        if (c == 8)
                                printf("%s\n", rows[i].col[c]);
                        else
                                printf("%-*s  ", (int) width[c], rows[i].col[c]);
                }
        }
        free(rows);
}

static void help_status(FILE *f) {
        fprintf(f,
                "Usage: emberctl status [NAME] [--json]\n"
                "Show state, live connections, backend pid, up and idle time, cold starts, connections served and\n"
                "the last cold start's time to ready, for every app in %s or for NAME; for NAME, also why its last\n"
                "start failed, with the backend's last lines of output, until a backend is ready again.\n\n"
                "  --json                  one JSON object for NAME, an array of them for all apps\n",
                runtime_dir());
}

int status_error(const char *app, int r) {
        if (r == -ENOENT) {
                log_error("no such app '%s': %s/%s does not exist (is %s.socket enabled?)", app, runtime_dir(), app, app);
                return -ECTL_UNAVAILABLE;
        }
        log_error_errno(r, "refusing to read %s/%s", runtime_dir(), app);
        return state_refused(r) ? -ECTL_REFUSED : r;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int list_app_names(char ***ret, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;

        *ret = NULL;
        *ret_n = 0;
        d = opendir(runtime_dir());
        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot read %s", runtime_dir());
        while ((de = readdir(d))) {
                if (!app_name_is_valid(de->d_name) || de->d_type == DT_LNK ||
                    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                if (n == allocated) {
                        size_t na = allocated ? allocated * 2 : 16;
                        char **p = realloc(names, na * sizeof(*names));
                        if (!p)
                                break;
                        names = p;
                        allocated = na;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        break;
                n++;
        }
        closedir(d);
        if (de) { /* stopped early: out of memory */
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* Every app in the runtime directory, by name; entries that are no app directory or cannot be read are skipped. */
static int read_all_apps(app_entry **ret, size_t *ret_n) {
        char **names = NULL;
        app_entry *apps;
        size_t n = 0, k = 0;
        int r;

        r = list_app_names(&names, &n);
        if (r < 0)
                return r;
        apps = calloc(n ? n : 1, sizeof(*apps));
        for (size_t i = 0; i < n; i++) {
                r = apps ? app_entry_read(names[i], &apps[k]) : -ENOMEM;
                if (r >= 0)
                        k++;
                else if (r != -ENOTDIR && r != -ENOENT && apps)
                        log_warning_errno(r, "skipping %s/%s", runtime_dir(), names[i]);
                free(names[i]);
        }
        free(names);
        if (!apps)
                return log_error_errno(-ENOMEM, "out of memory");
        *ret = apps;
        *ret_n = k;
        return 0;
}

static int print_one(const char *app, bool json, uint64_t now) {
        app_entry e;
        int r = app_entry_read(app, &e);

        if (r < 0)
                return status_error(app, r);
        if (json) {
                print_json(&e, now);
                putchar('\n');
        } else {
                print_table(&e, 1, now);
                print_generations(&e);
                if (e.failed)
                        last_failure_print(stdout, app, &e.failure, FAILURE_OUTPUT_LINES, now);
                else
                        (void) unit_failure_print(stdout, app);
        }
        return flush_stdout();
}

static int print_all(bool json, uint64_t now) {
        _cleanup_free_ app_entry *apps = NULL;
        size_t n = 0;
        int r;

        r = read_all_apps(&apps, &n);
        if (r < 0)
                return r; /* said */
        if (json) {
                putchar('[');
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                putchar(',');
                        print_json(&apps[i], now);
                }
                printf("]\n");
        } else if (n == 0)
                printf("No ember apps in %s.\n", runtime_dir());
        else
                print_table(apps, n, now);
        return flush_stdout();
}

int verb_status(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        static const verb_spec spec = {
                .name = "status", .short_options = "hj", .options = options, .help = help_status,
                .on_option = view_option, .name_arg = VERB_NAME_OPTIONAL,
        };
        const char *app = NULL;
        view_args a = {};
        int r;

        r = verb_parse(&spec, argc, argv, &a, &app);
        if (r <= 0)
                return r;
        if (app)
                return print_one(app, a.json, (uint64_t) time(NULL));
        return print_all(a.json, (uint64_t) time(NULL));
}
