#pragma once
#include <stdarg.h>

#include "macro.h"
#include "parse.h"

/* Prints "PROG: message" and the --help hint on stderr; returns -EINVAL. */
int usage_error(const char *fmt, ...) _printf_(1, 2);
int usage_errorv(const char *fmt, va_list ap) _printf_(1, 0);
/* For getopt_long's '?' and ':' (optstring starting with "+:"): names the offending option. */
int usage_bad_option(int c, char *const argv[]);
/* Option values shared by the programs, with one wording for their errors. Return 0 or usage_error(). */
int usage_parse_app(const char *s, const char **ret);
int usage_parse_backend_addr(const char *s, ember_addr *ret);
int usage_parse_duration(const char *option, const char *s, bool zero_ok, uint64_t *ret);
/* --relay=splice|kernel: *ret_kernel tells which. */
int usage_parse_relay(const char *s, bool *ret_kernel);
