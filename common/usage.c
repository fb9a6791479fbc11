#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "usage.h"

int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help'.\n", program_invocation_short_name);
        return -EINVAL;
}

int usage_bad_option(int c, char *const argv[]) {
        const char *opt = argv[optind - 1];

        if (c == ':')
                return usage_error("option '%s' requires an argument", opt);
        if (optopt > 0 && optopt < 0x100)
                return usage_error("unknown option '-%c'", optopt);
        return usage_error("unknown option '%s'", opt);
}
