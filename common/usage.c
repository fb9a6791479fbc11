#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "usage.h"

int usage_errorv(const char *fmt, va_list ap) {
        /* a unit with no output streams (the launcher's) has only the journal to say it in */
        if (log_to_journal()) {
                char msg[1024];
                vsnprintf(msg, sizeof(msg), fmt, ap);
                log_error("%s (try '%s --help')", msg, program_invocation_short_name);
                return -EINVAL;
        }
        fprintf(stderr, "%s: ", program_invocation_short_name);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\nTry '%s --help'.\n", program_invocation_short_name);
        return -EINVAL;
}

int usage_error(const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = usage_errorv(fmt, ap);
        va_end(ap);
        return r;
}

int usage_bad_option(int c, char *const argv[]) {
        const char *opt = argv[optind - 1];

        if (c == ':')
                return usage_error("option '%s' requires an argument", opt);
        if (optopt > 0 && optopt < 0x100)
                return usage_error("unknown option '-%c'", optopt);
        return usage_error("unknown option '%s'", opt);
}

int usage_parse_options(int argc, char *argv[], const struct option *options, const usage_options *u) {
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        u->help(stdout);
                        return 0;
                case '?':
                case ':':
                        return usage_bad_option(c, argv);
                case USAGE_ARG_APP:
                        r = usage_parse_app(optarg, u->app);
                        break;
                case USAGE_ARG_BACKEND:
                        *u->have_backend = true;
                        r = usage_parse_backend_addr(optarg, u->backend);
                        break;
                case USAGE_ARG_START_TIMEOUT:
                        r = usage_parse_duration("start-timeout", optarg, false, u->start_timeout);
                        break;
                default:
                        r = u->own(c, optarg);
                }
                if (r < 0)
                        return r;
        }
        return 1;
}

int usage_parse_app(const char *s, const char **ret) {
        if (!app_name_is_valid(s))
                return usage_error("invalid --app name '%s': use 1-64 of [A-Za-z0-9_.-], not starting with '-'", s);
        *ret = s;
        return 0;
}

int usage_parse_backend_addr(const char *s, ember_addr *ret) {
        if (parse_backend_addr(s, ret) < 0)
                return usage_error("invalid --backend address '%s': use HOST:PORT, [V6]:PORT, PORT, HOST:auto or an "
                                   "absolute unix path", s);
        return 0;
}

int usage_parse_duration(const char *option, const char *s, bool zero_ok, uint64_t *ret) {
        if (parse_duration(s, ret) < 0 || (!zero_ok && *ret == 0))
                return usage_error("invalid --%s '%s': use a duration such as 30s, 500ms, 1m30s or infinity", option, s);
        return 0;
}

int usage_parse_relay(const char *s, bool *ret_kernel) {
        if (strcmp(s, "splice") != 0 && strcmp(s, "kernel") != 0)
                return usage_error("invalid --relay '%s': use splice or kernel", s);
        *ret_kernel = strcmp(s, "kernel") == 0;
        if (*ret_kernel && !ENABLE_KERNEL_RELAY)
                return usage_error("%s", KERNEL_RELAY_NOT_BUILT);
        return 0;
}
