/* emberctl list: every app, whether from its units (written by emberctl new) or its state directory, with the
 * state of its two sockets and its backend unit as systemd sees them, and ember's own state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "ctl.h"
#include "failure.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "state.h"

#define LIST_MAX 4096

static void help_list(FILE *f) {
        fprintf(f,
                "Usage: emberctl list [--unit-dir=DIR]\n"
                "List every app: its units' states in systemd (NAME.socket, NAME-backend.service) and ember's state.\n\n"
                "  --unit-dir=DIR          where emberctl new wrote the units (default " UNIT_DIR_DEFAULT ")\n");
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void add_name(char **names, size_t *n, const char *name) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp(names[i], name) == 0)
                        return;
        if (*n < LIST_MAX && (names[*n] = strdup(name)))
                (*n)++;
}

/* Apps whose NAME-backend.service in UNIT_DIR was written by emberctl new. */
static void add_unit_apps(const char *unit_dir, char **names, size_t *n) {
        DIR *d = opendir(unit_dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name), suffix = strlen("-backend.service");
                char app[APP_NAME_MAX + 1];

                if (len <= suffix || strcmp(de->d_name + len - suffix, "-backend.service") != 0 || len - suffix > APP_NAME_MAX)
                        continue;
                memcpy(app, de->d_name, len - suffix);
                app[len - suffix] = '\0';
                if (app_name_is_valid(app) && unit_file_is_ours(dirfd(d), de->d_name) > 0)
                        add_name(names, n, app);
        }
        closedir(d);
}

static void unit_state(sd_bus *bus, const char *app, const char *suffix, char *out, size_t size) {
        char unit[APP_NAME_MAX + 32], load[32] = "";

        snprintf(out, size, "-");
        if (!bus)
                return;
        snprintf(unit, sizeof(unit), "%s%s", app, suffix);
        if (bus_unit_state(bus, unit, "LoadState", load, sizeof(load)) >= 0 && strcmp(load, "loaded") != 0)
                snprintf(out, size, "%s", load);
        else
                (void) bus_unit_state(bus, unit, "ActiveState", out, size);
}

/* Returns whether the app's last start failed (marked in its row, explained under the table). */
static bool print_app(sd_bus *bus, const char *app) {
        char sock[32], backend[32], state[48] = "-", conns[24] = "-";
        _cleanup_close_ int dirfd = -1;
        bool failed = false;
        last_failure f;
        app_status st;

        unit_state(bus, app, ".socket", sock, sizeof(sock));
        unit_state(bus, app, "-backend.service", backend, sizeof(backend));
        failed = unit_failure(app); /* where the supervisor never ran to record why */
        if (state_open(app, false, &dirfd) >= 0 && app_status_read(dirfd, &st) >= 0) {
                failed |= last_failure_read(dirfd, &f) >= 0;
                snprintf(state, sizeof(state), "%s%s%s", app_status_is_up(&st) ? app_state_to_string(st.state) : "cold",
                         st.stale ? " (stale)" : "", failed ? " FAILED" : "");
                snprintf(conns, sizeof(conns), "%" PRIu64, st.have_refcount ? st.refcount : 0);
        }
        printf("%-24s %-12s %-14s %-14s %s\n", app, sock, backend, state, conns);
        return failed;
}

static int list_option(_unused_ int c, const char *arg, void *unit_dir) { /* --unit-dir, the only one */
        return unit_dir_opt(arg, unit_dir);
}

int verb_list(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "unit-dir", required_argument, NULL, 'u' },
                {}
        };
        const char *unit_dir = UNIT_DIR_DEFAULT;
        char **names, **dirs = NULL;
        size_t n = 0, n_dirs = 0, failed = 0;
        static const verb_spec spec = {
                .name = "list", .short_options = "h", .options = options, .help = help_list,
                .on_option = list_option, .name_arg = VERB_NO_NAME,
        };
        sd_bus *bus = NULL;
        int r;

        r = verb_parse(&spec, argc, argv, &unit_dir, NULL);
        if (r <= 0)
                return r;

        names = calloc(LIST_MAX, sizeof(char *));
        if (!names)
                return log_error_errno(-ENOMEM, "out of memory");
        add_unit_apps(unit_dir, names, &n);
        if (list_app_names(&dirs, &n_dirs) >= 0)
                for (size_t i = 0; i < n_dirs; i++) {
                        add_name(names, &n, dirs[i]);
                        free(dirs[i]);
                }
        free(dirs);
        qsort(names, n, sizeof(char *), cmp_str);
        if (sd_bus_open_system(&bus) < 0)
                bus = NULL; /* no systemd here: ember's own state only */
        if (n == 0)
                printf("No ember apps (no units in %s, no state in %s).\n", unit_dir, runtime_dir());
        else
                printf("%-24s %-12s %-14s %-14s %s\n", "APP", "SOCKET", "BACKEND-UNIT", "STATE", "CONNECTIONS");
        for (size_t i = 0; i < n; i++)
                failed += print_app(bus, names[i]);
        if (failed > 0)
                printf("\nFAILED: the last start of the app failed; emberctl status NAME says why.\n");
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        sd_bus_flush_close_unref(bus);
        return flush_stdout();
}
