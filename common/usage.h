#pragma once
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

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
/* --relay=splice|kernel: *ret_kernel tells which. kernel is a usage error where the experimental in-kernel relay is
 * not built in (./configure without --enable-kernel-relay, the default). */
int usage_parse_relay(const char *s, bool *ret_kernel);
#define CHECKPOINT_NOT_BUILT \
        "--idle-action=checkpoint: this build cannot checkpoint (it is experimental: ./configure --enable-checkpoint)"
#define KERNEL_RELAY_NOT_BUILT \
        "--relay=kernel: this build has no in-kernel relay (it is experimental: ./configure --enable-kernel-relay)"


/* The options ember-launch and ember-sandbox both take (their getopt values; a program's own start at
 * USAGE_ARG_OWN), where their values go, and what reads the program's own options: OWN(c, optarg) returns 0 or
 * usage_error()'s -EINVAL. */
enum { USAGE_ARG_APP = 0x100, USAGE_ARG_BACKEND, USAGE_ARG_START_TIMEOUT, USAGE_ARG_OWN };
typedef struct usage_options {
        void (*help)(FILE *out);
        int (*own)(int c, const char *arg);
        const char **app;
        ember_addr *backend;
        bool *have_backend;
        uint64_t *start_timeout;
} usage_options;
/* getopt_long over argv ("+:h" and OPTIONS: up to the first argument or "--"): 1 to go on, 0 after --help, or
 * usage_error()'s -EINVAL. */
int usage_parse_options(int argc, char *argv[], const struct option *options, const usage_options *u);
