#pragma once
/* What emberctl's verbs share. Each verb, like every function under it, returns 0 or a negative error after saying
 * why (an errno, or one of errors.h's codes); main() turns that into the exit status emberctl(1) documents. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "macro.h"

int verb_new(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_stop(int argc, char *argv[]);
int verb_metrics(int argc, char *argv[]);
int verb_report(int argc, char *argv[]);

/* The names of the app directories in the runtime directory, sorted; the caller frees each and the array. */
int list_app_names(char ***ret, size_t *ret_n);

#define UNIT_DIR_DEFAULT "/etc/systemd/system"
/* where emberctl new puts the sysusers.d file of an app's own backend user, and emberctl rm takes it away */
#define SYSUSERS_ETC_DIR "/etc/sysusers.d"
#define N_APP_UNITS 4
extern const char *const unit_templates[N_APP_UNITS];
/* The unit file of TEMPLATE (e.g. "NAME-backend.service") for APP. */
void unit_name(const char *template, const char *app, char *out, size_t size);
/* 1 if the unit file NAME in DIRFD was written by emberctl new, 0 if not, -errno if it cannot be read. */
int unit_file_is_ours(int dirfd, const char *name);

int verb_list(int argc, char *argv[]);
int verb_start(int argc, char *argv[]);
int verb_rm(int argc, char *argv[]);
int verb_logs(int argc, char *argv[]);
int verb_upgrade(int argc, char *argv[]);

#include <getopt.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
/* A verb's command line: its options (with { "help", no_argument, NULL, 'h' }), its help text, what to do with
 * each other option (0, or usage_fail()'s -EINVAL; NULL for a verb with no option but --help), and its NAME
 * argument. */
typedef enum verb_name { VERB_NO_NAME, VERB_NAME_OPTIONAL, VERB_NAME_REQUIRED } verb_name;
typedef struct verb_spec {
        const char *name;
        const char *short_options;
        const struct option *options;
        void (*help)(FILE *out);
        int (*on_option)(int c, const char *arg, void *ctx);
        verb_name name_arg;
} verb_spec;
/* Reads the options in argv[1..argc-1], --help and unknown ones included: 1 to go on, with optind at the first
 * argument; 0 after --help; or -EINVAL after the usage message. */
int verb_options(const verb_spec *v, int argc, char *argv[], void *ctx);
/* verb_options(), then the NAME argument as the spec says, checked (NULL if optional and not given): 1 to go on,
 * 0 after --help, or -EINVAL. */
int verb_parse(const verb_spec *v, int argc, char *argv[], void *ctx, const char **app);
/* --json, and --since=TIME: the options of the verbs that show state or history (a verb_spec's on_option). */
typedef struct view_args {
        const char *since;
        bool json;
} view_args;
int view_option(int c, const char *arg, void *view_args);
/* NAME-backend.service is loaded in systemd: 0, or -ECTL_UNAVAILABLE after saying why not. */
int require_systemd_app(sd_bus *bus, const char *app);
/* What a failed job of systemd's (bus_unit_job(), which said why) ends a verb with: refused where systemd said we
 * may not, else unavailable. */
int job_error(int r);
/* fflush(stdout): 0, or -errno after saying so. */
int flush_stdout(void);

/* The shared usage message, then -EINVAL (a usage error, 64, at the edge). */
int usage_fail(const char *fmt, ...) _printf_(1, 2);
/* --unit-dir=ARG: an absolute path; 0, or -EINVAL after the message. */
int unit_dir_opt(const char *arg, const char **ret);
/* usage_parse_duration(): 0, or -EINVAL after the message. */
int parse_duration_opt(const char *name, const char *s, bool zero_ok, uint64_t *ret);
/* Canonical form of a duration, free of spaces, understood by ember's programs and by systemd. */
void format_duration(uint64_t usec, char *out, size_t size);
/* Human "1d2h", "1h2m", "3m4s", "12s". */
void format_age(uint64_t sec, char *out, size_t size);
struct app_status;
/* The state as shown: cold, starting, warm or stopping. */
const char *state_label(const struct app_status *s);
/* Says why APP's state directory cannot be read (R, from state_open() or app_status_read()); returns what to end
 * the verb with: -ECTL_UNAVAILABLE for no such app, -ECTL_REFUSED for one that is no root's, else R. */
int status_error(const char *app, int r);
