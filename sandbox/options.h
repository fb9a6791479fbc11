#pragma once
/* ember-sandbox's command line (options.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parse.h"
#include "protocol.h"

extern const char *arg_app;
extern ember_addr arg_backend;
extern bool arg_have_backend;
extern uint64_t arg_idle;
extern idle_action arg_idle_action;
extern uint64_t arg_freeze_for;
extern uint64_t arg_start_timeout;
extern uint64_t arg_stop_timeout;
extern bool arg_ready_notify;
extern const char *arg_policy;
extern const char *arg_user;
extern char **arg_command;
extern bool arg_upgrade;
extern uint64_t arg_drain_timeout;
extern bool arg_relay_kernel;
extern const char *arg_launch_user;
extern bool arg_prepare;
extern bool arg_landlock;
#define MAX_RW_PATHS 64
extern char *arg_rw_paths[MAX_RW_PATHS];
extern size_t arg_n_rw_paths;
extern const char *arg_state_dir;

void help(FILE *f);
/* 1 to go on, 0 after --help, or usage_error()'s -EINVAL. */
int parse_argv(int argc, char *argv[]);
