/* emberctl: create ember apps (systemd units from templates), show their state, stop their backends; one file
 * per verb (new.c, status.c, stop.c). See emberctl(1). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "usage.h"

int usage_fail(const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = usage_errorv(fmt, ap);
        va_end(ap);
        return r;
}

int verb_options(const verb_spec *v, int argc, char *argv[], void *ctx) {
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, v->short_options, v->options, NULL)) >= 0) {
                if (c == 'h') {
                        v->help(stdout);
                        return 0;
                }
                if (c == '?' || !v->on_option)
                        return usage_fail("%s: option '%s' is not known or lacks its value", v->name,
                                          argv[optind - 1]);
                r = v->on_option(c, optarg, ctx);
                if (r < 0)
                        return r;
        }
        return 1;
}

int view_option(int c, const char *arg, void *ctx) {
        view_args *a = ctx;

        if (c == 'j')
                a->json = true;
        else
                a->since = arg;
        return 0;
}

int unit_dir_opt(const char *arg, const char **ret) {
        if (arg[0] != '/')
                return usage_fail("invalid --unit-dir '%s': use an absolute path", arg);
        *ret = arg;
        return 0;
}

int verb_parse(const verb_spec *v, int argc, char *argv[], void *ctx, const char **app) {
        int r = verb_options(v, argc, argv, ctx);

        if (r <= 0)
                return r;
        if (app)
                *app = NULL;
        if (optind >= argc)
                return v->name_arg == VERB_NAME_REQUIRED ? usage_fail("%s: missing NAME", v->name) : 1;
        if (v->name_arg == VERB_NO_NAME || optind + 1 < argc)
                return usage_fail("%s: unexpected argument '%s'", v->name,
                                  argv[v->name_arg == VERB_NO_NAME ? optind : optind + 1]);
        if (!app_name_is_valid(argv[optind]))
                return usage_fail("invalid NAME '%s'", argv[optind]);
        *app = argv[optind++];
        return 1;
}

int parse_duration_opt(const char *name, const char *s, bool zero_ok, uint64_t *ret) {
        return usage_parse_duration(name, s, zero_ok, ret);
}

int flush_stdout(void) {
        if (fflush(stdout) != 0)
                return log_error_errno(-errno, "cannot write to standard output");
        return 0;
}

void format_duration(uint64_t usec, char *out, size_t size) {
        if (usec == USEC_INFINITY)
                snprintf(out, size, "infinity");
        else if (usec % USEC_PER_SEC == 0)
                snprintf(out, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(out, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else
                snprintf(out, size, "%" PRIu64 "us", usec);
}

void format_age(uint64_t sec, char *out, size_t size) {
        if (sec >= 86400)
                snprintf(out, size, "%" PRIu64 "d%" PRIu64 "h", sec / 86400, sec % 86400 / 3600);
        else if (sec >= 3600)
                snprintf(out, size, "%" PRIu64 "h%" PRIu64 "m", sec / 3600, sec % 3600 / 60);
        else if (sec >= 60)
                snprintf(out, size, "%" PRIu64 "m%" PRIu64 "s", sec / 60, sec % 60);
        else
                snprintf(out, size, "%" PRIu64 "s", sec);
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: emberctl COMMAND ...\n"
                "Socket-activated, scale-to-zero services on systemd.\n\n"
                "  new NAME --listen=ADDR --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "                          write NAME's systemd units (see 'emberctl new --help')\n"
                "  status [NAME] [--json]  show every app's state, or NAME's\n"
                "  list                    every app, its units' states and ember's state\n"
                "  start NAME              start NAME's backend now (pre-warm) and wait until it is ready\n"
                "  stop NAME               stop NAME's backend now\n"
                "  upgrade NAME [--drain-timeout=DUR] [--wait]\n"
                "                          replace NAME's warm backend with one from its current units, no downtime\n"
                "  rm NAME [--keep-state]  stop, disable and remove the units emberctl new wrote for NAME\n"
                "  logs NAME [-f]          the journal of NAME's units\n"
                "  metrics [NAME] [--textfile=DIR]\n"
                "                          Prometheus metrics of every app, or NAME's\n"
                "  report [NAME] [--since=TIME] [--json]\n"
                "                          every backend run summed up from the journal\n"
                "  help                    show this help\n\n"
                "  -h, --help              show this help\n"
                "      --version           show the version\n\n"
                "Exit status: 0 ok, 64 usage, 65 bad data, 69 no such app, not stopped in time or upgrade failed,\n"
                "71 system error, 73 unit exists or unit directory unusable, 75 try again later (an upgrade in\n"
                "progress), 77 permission refused, 78 bad policy. See emberctl(1).\n");
}

static int run(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*fn)(int argc, char *argv[]);
        } verbs[] = {
                { "new", verb_new },
                { "status", verb_status },
                { "stop", verb_stop },
                { "metrics", verb_metrics },
                { "list", verb_list },
                { "start", verb_start },
                { "rm", verb_rm },
                { "logs", verb_logs },
                { "report", verb_report },
                { "upgrade", verb_upgrade },
        };

        if (argc < 2) {
                help(stderr);
                return -EINVAL;
        }
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("emberctl " PACKAGE_VERSION "\n");
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].fn(argc - 1, argv + 1);
        return usage_fail("unknown command '%s'", argv[1]);
}

int main(int argc, char *argv[]) {
        log_setup("emberctl", NULL);
        return exit_status(run(argc, argv));
}
