#pragma once
/* emberctl new's command line: what it asks for, read by new-options.c (new.c validates, renders and writes it). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CONNECTIONS_DEFAULT 1024
#define ENV_MAX 64

/* What the command line asks for. */
typedef struct new_args {
        const char *name, *listen, *backend, *policy, *start_on, *ready, *user, *unit_dir, *hardening;
        const char *proxy_protocol; /* v1, v2 or NULL */
        const char *relay;          /* splice or kernel */
        uint64_t idle, start_timeout, stop_timeout, max_connections, client_idle;
        int idle_action;            /* protocol.h's idle_action */
        uint64_t freeze_for;
        bool force, now, accept_proxy_protocol, dynamic_user;
        char **command;
        int command_argc;
        /* the backend unit's own settings: --env=K=V, --env-file=PATH (each repeatable), --working-directory= */
        const char *env[ENV_MAX], *env_files[ENV_MAX], *working_directory;
        size_t n_env, n_env_files;
        /* what the sandboxed backend may write: --rw-path=PATH (repeatable, ReadWritePaths=), --state-dir=NAME
         * (StateDirectory=, /var/lib/NAME) */
        const char *rw_paths[ENV_MAX], *state_dir;
        size_t n_rw_paths;
} new_args;

/* 1 to go on, 0 after --help, or -EINVAL after the usage message. */
int new_parse(int argc, char *argv[], new_args *a);
/* A path for a unit setting or ListenStream=: no whitespace, quotes, backslashes or control characters. */
bool listen_path_is_ok(const char *s);
/* A StateDirectory= name: relative, [A-Za-z0-9._/-], no empty, . or .. component. */
bool state_dir_is_ok(const char *s);
/* COMMAND[0] as an absolute path to an executable regular file, searching $PATH for a bare name (new-options.c). */
int resolve_command(const char *cmd, char **ret);
