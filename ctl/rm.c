/* emberctl rm: take an app away: stop and disable its units, remove the unit files emberctl new wrote (never
 * anybody else's), reload systemd, and remove its state directory unless --keep-state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "state.h"
#include "template.h"

static void help_rm(FILE *f) {
        fprintf(f,
                "Usage: emberctl rm NAME [--keep-state] [--unit-dir=DIR]\n"
                "Stop and disable NAME, remove the units emberctl new wrote for it, reload systemd, and remove its\n"
                "state directory. Unit files emberctl did not write are left alone, and then nothing is removed.\n\n"
                "  --keep-state            keep %s/NAME (counters, the last run's figures)\n"
                "  --unit-dir=DIR          where the units are (default " UNIT_DIR_DEFAULT ")\n",
                runtime_dir());
}

/* Every unit file of APP that exists must be ours: 0, setting *ret_any if there is one at all, or
 * -ECTL_CANNOT_CREATE after saying which is not. */
static int check_units(int udirfd, const char *app, const char *unit_dir, bool *ret_any) {
        *ret_any = false;
        for (size_t i = 0; i < N_APP_UNITS; i++) {
                char u[NAME_MAX + 1];
                int r;

                unit_name(unit_templates[i], app, u, sizeof(u));
                r = unit_file_is_ours(udirfd, u);
                if (r == -ENOENT)
                        continue;
                if (r <= 0) {
                        log_error("%s/%s was not written by emberctl new%s: refusing to remove %s", unit_dir, u,
                                  r < 0 ? " (cannot read it)" : "", app);
                        return -ECTL_CANNOT_CREATE;
                }
                *ret_any = true;
        }
        return 0;
}

static void stop_units(sd_bus *bus, const char *app) {
        static const char *const suffixes[] = { ".socket", "-backend.socket", "-backend.service" };
        char u[APP_NAME_MAX + 32];

        snprintf(u, sizeof(u), "%s.socket", app);
        (void) bus_disable(bus, u);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                const char *result = NULL;
                snprintf(u, sizeof(u), "%s%s", app, suffixes[i]);
                if (bus_unit_job(bus, "StopUnit", u, &result) == -EIO && result)
                        log_warning("stopping %s: job %s", u, result);
        }
}

static int remove_units(int udirfd, const char *app, const char *unit_dir) {
        for (size_t i = 0; i < N_APP_UNITS; i++) {
                char u[NAME_MAX + 1];

                unit_name(unit_templates[i], app, u, sizeof(u));
                if (unlinkat(udirfd, u, 0) >= 0)
                        printf("Removed %s/%s\n", unit_dir, u);
                else if (errno != ENOENT) {
                        log_error_errno(-errno, "cannot remove %s/%s", unit_dir, u);
                        return -ECTL_CANNOT_CREATE;
                }
        }
        return 0;
}

/* The sysusers.d file emberctl new wrote for the backend's own user (only with the default unit directory). The
 * user stays, as a removed package's system user does: files it owns (its --state-dir) stay its. */
static void remove_own_user_file(const char *app, const char *unit_dir) {
        char conf[PATH_MAX];

        if (strcmp(unit_dir, UNIT_DIR_DEFAULT) != 0)
                return;
        snprintf(conf, sizeof(conf), "%s/ember-%s.conf", SYSUSERS_ETC_DIR, app);
        if (unlink(conf) >= 0)
                printf("Removed %s (the user %s-backend stays, with what it owns)\n", conf, app);
}

/* The state directory holds only flat files and sockets; anything else (a symlink planted there is removed as a
 * link, never followed) is removed as it is. */
static int remove_state(const char *app) {
        _cleanup_close_ int fd = -1, rootfd = -1;
        struct dirent *de;
        DIR *d;
        int r;

        r = state_open(app, false, &fd);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "not removing %s/%s", runtime_dir(), app);
        d = fdopendir(fd);
        if (!d)
                return log_error_errno(-errno, "cannot read %s/%s", runtime_dir(), app);
        fd = -1;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        rootfd = open(runtime_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 || unlinkat(rootfd, app, AT_REMOVEDIR) < 0)
                return log_error_errno(-errno, "cannot remove %s/%s", runtime_dir(), app);
        printf("Removed %s/%s\n", runtime_dir(), app);
        return 0;
}

/* The app's data directory under /var/lib, as its backend unit says (ember-sandbox --state-dir=, StateDirectory=, or
 * what --user's units export as STATE_DIRECTORY): emberctl rm keeps it, and says where it is. */
static void state_dir_of_unit(int udirfd, const char *app, char *out, size_t size) {
        _cleanup_free_ char *text = NULL;
        char u[NAME_MAX + 1];

        out[0] = '\0';
        unit_name("NAME-backend.service", app, u, sizeof(u));
        if (read_file_at(udirfd, u, &text) < 0)
                return;
        const char *sandbox = strstr(text, " --state-dir=/var/lib/"); /* [A-Za-z0-9._/-]: never quoted */
        if (sandbox) {
                sandbox += strlen(" --state-dir=");
                snprintf(out, size, "%.*s", (int) strcspn(sandbox, " \t\n"), sandbox);
                return;
        }
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *v = strncmp(l, "StateDirectory=", 15) == 0 ? l + 15 :
                                strncmp(l, "Environment=STATE_DIRECTORY=/var/lib/", 37) == 0 ? l + 37 : NULL;
                if (v && *v && *v != '\n') {
                        snprintf(out, size, "/var/lib/%.*s", (int) strcspn(v, " \t\n"), v);
                        return;
                }
        }
}

static void say_data_kept(const char *dir) {
        struct stat st;

        if (!dir[0] || lstat(dir, &st) < 0)
                return;
        printf("Kept the app's data in %s%s: remove it yourself once you no longer need it.\n", dir,
               S_ISLNK(st.st_mode) ? " (a link into /var/lib/private, where DynamicUser= keeps it)" : "");
}

typedef struct rm_args {
        const char *unit_dir;
        bool keep_state;
} rm_args;

static int rm_option(int c, const char *arg, void *ctx) {
        rm_args *a = ctx;

        if (c == 'u')
                return unit_dir_opt(arg, &a->unit_dir);
        a->keep_state = true; /* --keep-state */
        return 0;
}

int verb_rm(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "keep-state", no_argument, NULL, 'k' },
                { "unit-dir", required_argument, NULL, 'u' },
                {}
        };
        rm_args a = { .unit_dir = UNIT_DIR_DEFAULT };
        _cleanup_close_ int udirfd = -1;
        char data[PATH_MAX];
        const char *app;
        bool any;
        static const verb_spec spec = {
                .name = "rm", .short_options = "h", .options = options, .help = help_rm,
                .on_option = rm_option, .name_arg = VERB_NAME_REQUIRED,
        };
        sd_bus *bus = NULL;
        int r;

        r = verb_parse(&spec, argc, argv, &a, &app);
        if (r <= 0)
                return r;

        udirfd = open(a.unit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (udirfd < 0) {
                log_error_errno(-errno, "cannot open unit directory %s", a.unit_dir);
                return -ECTL_CANNOT_CREATE;
        }
        r = check_units(udirfd, app, a.unit_dir, &any);
        if (r < 0)
                return r;
        if (!any) {
                log_error("no units of '%s' in %s", app, a.unit_dir);
                return -ECTL_UNAVAILABLE;
        }
        if (bus_open(&bus) < 0)
                return -ECTL_UNAVAILABLE; /* said */
        state_dir_of_unit(udirfd, app, data, sizeof(data));
        stop_units(bus, app);
        r = remove_units(udirfd, app, a.unit_dir);
        if (r >= 0)
                remove_own_user_file(app, a.unit_dir);
        if (r >= 0)
                r = bus_daemon_reload(bus);
        sd_bus_flush_close_unref(bus);
        if (r < 0)
                return r;
        say_data_kept(data);
        return a.keep_state ? 0 : remove_state(app);
}
