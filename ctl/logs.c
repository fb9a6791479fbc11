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

int verb_logs(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                {}
        };
        char u[4][APP_NAME_MAX + 32];
        const char *jargv[16], *lines = NULL, *app;
        bool follow = false;
        uint64_t v;
        int c, r, n = 0;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "hfn:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help_logs(stdout);
                        return EXIT_SUCCESS;
                case 'f':
                        follow = true;
                        break;
                case 'n':
                        if (parse_uint64(optarg, &v) < 0)
                                return usage_fail("invalid --lines '%s': use a number", optarg);
                        lines = optarg;
                        break;
                default:
                        return usage_fail("logs: option '%s' is not known or lacks its value", argv[optind - 1]);
                }
        r = app_arg("logs", argc, argv, true, &app);
        if (r != GO_ON)
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
        if (follow)
                jargv[n++] = "-f";
        if (lines) {
                jargv[n++] = "-n";
                jargv[n++] = lines;
        }
        jargv[n] = NULL;
        fflush(stdout);
        execvp(jargv[0], (char *const *) jargv);
        log_error_errno(-errno, "cannot run journalctl");
        return EXIT_OSERR;
}
