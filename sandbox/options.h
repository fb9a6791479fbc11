#pragma once
/* ember-sandbox's command line (options.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parse.h"
#include "protocol.h"

#define MAX_RW_PATHS 64

/* Everything the command line says, read once: the supervisor keeps it (supervisor.opt) and nothing reads the
 * command line again. */
typedef struct sandbox_options {
        const char *app;
        ember_addr backend;
        bool have_backend;
        uint64_t idle;
        idle_action idle_action;
        uint64_t freeze_for;
        uint64_t start_timeout;
        uint64_t stop_timeout;
        bool ready_notify;
        const char *policy;
        const char *user;
        char **command;
        bool upgrade;
        uint64_t drain_timeout;
        bool relay_kernel;
        const char *launch_user;
        bool prepare;
        bool landlock;
        char *rw_paths[MAX_RW_PATHS]; /* and the --state-dir, with --landlock */
        size_t n_rw_paths;
        const char *state_dir;
} sandbox_options;

void sandbox_help(FILE *f);
/* Into *RET: 1 to go on, 0 after --help, or usage_error()'s -EINVAL. */
int parse_argv(int argc, char *argv[], sandbox_options *ret);
