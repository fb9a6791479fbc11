/* ember-sandbox's command line. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "options.h"
#include "protocol.h"
#include "usage.h"

const char *arg_app;
ember_addr arg_backend;
bool arg_have_backend;
uint64_t arg_idle = 60 * USEC_PER_SEC;
idle_action arg_idle_action = IDLE_ACTION_STOP;
uint64_t arg_freeze_for = USEC_INFINITY;
uint64_t arg_start_timeout = 30 * USEC_PER_SEC;
uint64_t arg_stop_timeout = 10 * USEC_PER_SEC;
bool arg_ready_notify;
const char *arg_policy = "default";
const char *arg_user;
char **arg_command;
bool arg_upgrade;
uint64_t arg_drain_timeout = UPGRADE_DRAIN_DEFAULT_USEC;
bool arg_relay_kernel;
const char *arg_launch_user;
bool arg_prepare;
bool arg_landlock;
char *arg_rw_paths[MAX_RW_PATHS];
size_t arg_n_rw_paths;
const char *arg_state_dir;

/* --relay in --help: the in-kernel relay is experimental and built only on request */
#if ENABLE_KERNEL_RELAY
#define HELP_RELAY \
        "  --relay=splice|kernel   kernel: offer launchers the in-kernel relay (BPF sockmap; needs CAP_BPF\n" \
        "                          and CAP_NET_ADMIN, else logged once and they splice; experimental)\n"
#else
#define HELP_RELAY \
        "  --relay=splice          launchers splice (the experimental in-kernel relay, --relay=kernel, is\n" \
        "                          not in this build: ./configure --enable-kernel-relay)\n"
#endif

void help(FILE *f) {
        fprintf(f,
                "Usage: ember-sandbox --app=NAME --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "       ember-sandbox [--policy=SPEC] [--user=USER] -- COMMAND [ARG...]\n"
                "       ember-sandbox --app=NAME --launch-user=USER --prepare\n"
                "Supervise an ember backend: start COMMAND under the seccomp sandbox, report readiness to waiting\n"
                "launchers, stop it after the idle period. Without --app, only confine and exec COMMAND.\n\n"
                "  --app=NAME              application name, [A-Za-z0-9_.-]+\n"
                "  --backend=ADDR          address the backend listens on (readiness probe)\n"
                "  --idle=DUR              stop after DUR without connections (default 60s, or infinity)\n"
                "  --idle-action=stop|freeze|checkpoint\n"
                "                          at the idle deadline stop the backend (default), freeze its\n"
                "                          processes (memory kept, no CPU) until the next connection thaws it,\n"
                "                          or dump it with criu and restore it at the next start\n"
                "                          (experimental: ./configure --enable-checkpoint)\n"
                "  --freeze-for=DUR        a backend frozen for DUR is stopped (default infinity)\n"
                "  --ready=connect|notify  ready on first successful connect (default) or on READY=1\n"
                "  --policy=SPEC           default, strict, container, none or a .policy file\n"
                "                          (default: default)\n"
                "  --user=USER             run the backend as USER\n"
                "  --landlock              confine the backend's files with Landlock: read-only, nothing under\n"
                "                          /home, /root, /run/user; writable /tmp, /var/tmp and --rw-path\n"
                "  --rw-path=PATH          with --landlock, PATH is writable too (repeatable)\n"
                "  --state-dir=PATH        the backend's own directory, made --user's (0750) if missing,\n"
                "                          writable with --landlock, in $STATE_DIRECTORY\n"
                "  --start-timeout=DUR     give up on a backend not ready within DUR (default 30s)\n"
                "  --stop-timeout=DUR      SIGKILL a backend still running DUR after SIGTERM (default 10s)\n"
                "  --upgrade               start a new generation beside the serving one and switch to it once\n"
                "                          ready; returns when it serves (systemd's ExecReload=)\n"
                "  --drain-timeout=DUR     a replaced generation's connections are closed after DUR (default 5min)\n"
                HELP_RELAY
                "  --launch-user=USER      the user NAME's launchers run as: the files they write are made its\n"
                "  --prepare               only make them so (the wake socket unit's ExecStartPost=), then exit\n"
                "  -h, --help              show this help\n");
}

/* What the options say together, and COMMAND after "--". */
static int check_argv(int argc, char *argv[]) {
        if (arg_prepare) {
                if (!arg_app || !arg_launch_user || optind < argc)
                        return usage_error("%s", "--prepare takes --app=NAME and --launch-user=USER, and no COMMAND");
                return 1;
        }
        if (optind >= argc)
                return usage_error("%s", "missing COMMAND (put it after --)");
        if (strcmp(argv[optind - 1], "--") != 0)
                return usage_error("unexpected argument '%s' (put the backend command after --)", argv[optind]);
        if (arg_app && !arg_have_backend)
                return usage_error("%s", "--backend=ADDR is required with --app");
        if (!arg_app && (arg_have_backend || arg_upgrade))
                return usage_error("%s", "--backend needs --app (without --app ember-sandbox only confines and execs)");
        if (arg_freeze_for != USEC_INFINITY && arg_idle_action != IDLE_ACTION_FREEZE)
                return usage_error("%s", "--freeze-for needs --idle-action=freeze");
        if (arg_n_rw_paths > 0 && !arg_landlock)
                return usage_error("%s", "--rw-path needs --landlock (without it the unit's ReadWritePaths= decide)");
        if (arg_state_dir && arg_landlock) { /* writable like the --rw-path */
                if (arg_n_rw_paths >= MAX_RW_PATHS)
                        return usage_error("more than %d --rw-path", MAX_RW_PATHS - 1);
                arg_rw_paths[arg_n_rw_paths++] = (char *) arg_state_dir;
        }
        arg_command = argv + optind;
        return 1;
}

enum { ARG_IDLE = USAGE_ARG_OWN, ARG_READY, ARG_POLICY, ARG_USER, ARG_STOP_TIMEOUT, ARG_UPGRADE, ARG_DRAIN_TIMEOUT,
       ARG_RELAY, ARG_LAUNCH_USER, ARG_PREPARE, ARG_LANDLOCK, ARG_RW_PATH,
       ARG_STATE_DIR, ARG_IDLE_ACTION, ARG_FREEZE_FOR };

/* One of ember-sandbox's own options: 0 or usage_error()'s -EINVAL. */
static int parse_option(int c, const char *arg) {
        switch (c) {
        case ARG_IDLE:
                return usage_parse_duration("idle", arg, true, &arg_idle);
        case ARG_IDLE_ACTION:
                arg_idle_action = idle_action_from_string(arg);
                if (arg_idle_action < 0)
                        return usage_error("invalid --idle-action '%s': use stop, freeze or checkpoint", arg);
                if (arg_idle_action == IDLE_ACTION_CHECKPOINT && !ENABLE_CHECKPOINT)
                        return usage_error("%s", CHECKPOINT_NOT_BUILT);
                break;
        case ARG_FREEZE_FOR:
                return usage_parse_duration("freeze-for", arg, false, &arg_freeze_for);
        case ARG_STOP_TIMEOUT:
                return usage_parse_duration("stop-timeout", arg, false, &arg_stop_timeout);
        case ARG_DRAIN_TIMEOUT:
                return usage_parse_duration("drain-timeout", arg, true, &arg_drain_timeout);
        case ARG_RELAY:
                return usage_parse_relay(arg, &arg_relay_kernel);
        case ARG_UPGRADE:
                arg_upgrade = true;
                break;
        case ARG_PREPARE:
                arg_prepare = true;
                break;
        case ARG_LANDLOCK:
                arg_landlock = true;
                break;
        case ARG_RW_PATH:
                if (arg[0] != '/')
                        return usage_error("--rw-path '%s' is not an absolute path", arg);
                if (arg_n_rw_paths >= MAX_RW_PATHS)
                        return usage_error("more than %d --rw-path", MAX_RW_PATHS);
                arg_rw_paths[arg_n_rw_paths++] = (char *) arg;
                break;
        case ARG_STATE_DIR:
                if (arg[0] != '/' || strstr(arg, "/../") || strstr(arg, "/./") || strcmp(arg, "/") == 0)
                        return usage_error("--state-dir '%s' is not an absolute path without . or ..", arg);
                arg_state_dir = arg;
                break;
        case ARG_READY:
                if (strcmp(arg, "connect") != 0 && strcmp(arg, "notify") != 0)
                        return usage_error("invalid --ready '%s': use connect or notify", arg);
                arg_ready_notify = strcmp(arg, "notify") == 0;
                break;
        case ARG_POLICY:
                if (!*arg)
                        return usage_error("%s", "--policy needs default, strict, container, none or a file");
                arg_policy = arg;
                break;
        case ARG_USER:
        case ARG_LAUNCH_USER:
                if (!*arg)
                        return usage_error("--%s needs a user name or uid", c == ARG_USER ? "user" : "launch-user");
                *(c == ARG_USER ? &arg_user : &arg_launch_user) = arg;
                break;
        }
        return 0;
}

int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "app", required_argument, NULL, USAGE_ARG_APP },
                { "backend", required_argument, NULL, USAGE_ARG_BACKEND },
                { "idle", required_argument, NULL, ARG_IDLE },
                { "idle-action", required_argument, NULL, ARG_IDLE_ACTION },
                { "freeze-for", required_argument, NULL, ARG_FREEZE_FOR },
                { "ready", required_argument, NULL, ARG_READY },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "user", required_argument, NULL, ARG_USER },
                { "start-timeout", required_argument, NULL, USAGE_ARG_START_TIMEOUT },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "upgrade", no_argument, NULL, ARG_UPGRADE },
                { "drain-timeout", required_argument, NULL, ARG_DRAIN_TIMEOUT },
                { "relay", required_argument, NULL, ARG_RELAY },
                { "launch-user", required_argument, NULL, ARG_LAUNCH_USER },
                { "prepare", no_argument, NULL, ARG_PREPARE },
                { "landlock", no_argument, NULL, ARG_LANDLOCK },
                { "rw-path", required_argument, NULL, ARG_RW_PATH },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                {}
        };
        const usage_options u = { help, parse_option, &arg_app, &arg_backend, &arg_have_backend, &arg_start_timeout };
        int r = usage_parse_options(argc, argv, options, &u);

        return r <= 0 ? r : check_argv(argc, argv);
}
