/* emberctl logs: the journal of an app's units (sockets, connections, supervisor and backend output). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "parse.h"

static void help_logs(FILE *f) {
        fprintf(f,
                "Usage: emberctl logs NAME [-f] [-n LINES]\n"
                "Show the journal of NAME's units: NAME.socket, NAME@*.service (the launchers), NAME-backend.socket\n"
                "and NAME-backend.service (the supervisor's events and the backend's own output).\n\n"
                "  -f, --follow            keep printing new entries\n"
                "  -n, --lines=N           the last N entries (journalctl -n)\n");
}

typedef struct logs_args {
        const char *lines;
        bool follow;
} logs_args;

static int logs_option(int c, const char *arg, void *ctx) {
        logs_args *a = ctx;
        uint64_t v;

        if (c == 'f') {
                a->follow = true;
                return 0;
        }
        if (parse_uint64(arg, &v) < 0) /* -n, --lines */
                return usage_fail("invalid --lines '%s': use a number", arg);
        a->lines = arg;
        return 0;
}

int verb_logs(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                {}
        };
        char u[4][APP_NAME_MAX + 32];
        const char *jargv[16], *app;
        static const verb_spec spec = {
                .name = "logs", .short_options = "hfn:", .options = options, .help = help_logs,
                .on_option = logs_option, .name_arg = VERB_NAME_REQUIRED,
        };
        logs_args a = {};
        int r, n = 0;

        r = verb_parse(&spec, argc, argv, &a, &app);
        if (r <= 0)
                return r;

        snprintf(u[0], sizeof(u[0]), "%s.socket", app);
        snprintf(u[1], sizeof(u[1]), "%s@*.service", app);
        snprintf(u[2], sizeof(u[2]), "%s-backend.socket", app);
        snprintf(u[3], sizeof(u[3]), "%s-backend.service", app);
        jargv[n++] = "journalctl";
        for (int i = 0; i < 4; i++) {
                jargv[n++] = "-u";
                jargv[n++] = u[i];
        }
        if (a.follow)
                jargv[n++] = "-f";
        if (a.lines) {
                jargv[n++] = "-n";
                jargv[n++] = a.lines;
        }
        jargv[n] = NULL;
        fflush(stdout);
        execvp(jargv[0], (char *const *) jargv);
        return log_error_errno(-errno, "cannot run journalctl");
}
