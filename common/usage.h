#pragma once
#include "macro.h"

/* Prints "PROG: message" and the --help hint on stderr; returns -EINVAL. */
int usage_error(const char *fmt, ...) _printf_(1, 2);
/* For getopt_long's '?' and ':' (optstring starting with "+:"): names the offending option. */
int usage_bad_option(int c, char *const argv[]);
