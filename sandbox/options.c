/* ember-sandbox's command line. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "options.h"
#include "protocol.h"
#include "usage.h"

/* What parse_option() fills in (getopt's callbacks take no context), copied out by parse_argv(). */
static sandbox_options o = {
        .idle = 60 * USEC_PER_SEC,
        .idle_action = IDLE_ACTION_STOP,
        .freeze_for = USEC_INFINITY,
        .start_timeout = 30 * USEC_PER_SEC,
        .stop_timeout = 10 * USEC_PER_SEC,
        .policy = "default",
        .drain_timeout = UPGRADE_DRAIN_DEFAULT_USEC,
};

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

void sandbox_help(FILE *f) {
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
        if (o.prepare) {
                if (!o.app || !o.launch_user || optind < argc)
                        return usage_error("%s", "--prepare takes --app=NAME and --launch-user=USER, and no COMMAND");
                return 1;
        }
        if (optind >= argc)
                return usage_error("%s", "missing COMMAND (put it after --)");
        if (strcmp(argv[optind - 1], "--") != 0)
                return usage_error("unexpected argument '%s' (put the backend command after --)", argv[optind]);
        if (o.app && !o.have_backend)
                return usage_error("%s", "--backend=ADDR is required with --app");
        if (!o.app && (o.have_backend || o.upgrade))
                return usage_error("%s", "--backend needs --app (without --app ember-sandbox only confines and execs)");
        if (o.freeze_for != USEC_INFINITY && o.idle_action != IDLE_ACTION_FREEZE)
                return usage_error("%s", "--freeze-for needs --idle-action=freeze");
        if (o.n_rw_paths > 0 && !o.landlock)
                return usage_error("%s", "--rw-path needs --landlock (without it the unit's ReadWritePaths= decide)");
        if (o.state_dir && o.landlock) { /* writable like the --rw-path */
                if (o.n_rw_paths >= MAX_RW_PATHS)
                        return usage_error("more than %d --rw-path", MAX_RW_PATHS - 1);
                o.rw_paths[o.n_rw_paths++] = (char *) o.state_dir;
        }
        o.command = argv + optind;
        return 1;
}

enum { ARG_IDLE = USAGE_ARG_OWN, ARG_READY, ARG_POLICY, ARG_USER, ARG_STOP_TIMEOUT, ARG_UPGRADE, ARG_DRAIN_TIMEOUT,
       ARG_RELAY, ARG_LAUNCH_USER, ARG_PREPARE, ARG_LANDLOCK, ARG_RW_PATH,
       ARG_STATE_DIR, ARG_IDLE_ACTION, ARG_FREEZE_FOR };

/* One of ember-sandbox's own options: 0 or usage_error()'s -EINVAL. */
static int parse_option(int c, const char *arg) {
        switch (c) {
        case ARG_IDLE:
                return usage_parse_duration("idle", arg, true, &o.idle);
        case ARG_IDLE_ACTION:
                o.idle_action = idle_action_from_string(arg);
                if (o.idle_action < 0)
                        return usage_error("invalid --idle-action '%s': use stop, freeze or checkpoint", arg);
                if (o.idle_action == IDLE_ACTION_CHECKPOINT && !ENABLE_CHECKPOINT)
                        return usage_error("%s", CHECKPOINT_NOT_BUILT);
                break;
        case ARG_FREEZE_FOR:
                return usage_parse_duration("freeze-for", arg, false, &o.freeze_for);
        case ARG_STOP_TIMEOUT:
                return usage_parse_duration("stop-timeout", arg, false, &o.stop_timeout);
        case ARG_DRAIN_TIMEOUT:
                return usage_parse_duration("drain-timeout", arg, true, &o.drain_timeout);
        case ARG_RELAY:
                return usage_parse_relay(arg, &o.relay_kernel);
        case ARG_UPGRADE:
                o.upgrade = true;
                break;
        case ARG_PREPARE:
                o.prepare = true;
                break;
        case ARG_LANDLOCK:
                o.landlock = true;
                break;
        case ARG_RW_PATH:
                if (arg[0] != '/')
                        return usage_error("--rw-path '%s' is not an absolute path", arg);
                if (o.n_rw_paths >= MAX_RW_PATHS)
                        return usage_error("more than %d --rw-path", MAX_RW_PATHS);
                o.rw_paths[o.n_rw_paths++] = (char *) arg;
                break;
        case ARG_STATE_DIR:
                if (arg[0] != '/' || strstr(arg, "/../") || strstr(arg, "/./") || strcmp(arg, "/") == 0)
                        return usage_error("--state-dir '%s' is not an absolute path without . or ..", arg);
                o.state_dir = arg;
                break;
        case ARG_READY:
                if (strcmp(arg, "connect") != 0 && strcmp(arg, "notify") != 0)
                        return usage_error("invalid --ready '%s': use connect or notify", arg);
                o.ready_notify = strcmp(arg, "notify") == 0;
                break;
        case ARG_POLICY:
                if (!*arg)
                        return usage_error("%s", "--policy needs default, strict, container, none or a file");
                o.policy = arg;
                break;
        case ARG_USER:
        case ARG_LAUNCH_USER:
                if (!*arg)
                        return usage_error("--%s needs a user name or uid", c == ARG_USER ? "user" : "launch-user");
                *(c == ARG_USER ? &o.user : &o.launch_user) = arg;
                break;
        }
        return 0;
}

int parse_argv(int argc, char *argv[], sandbox_options *ret) {
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
        const usage_options u = { sandbox_help, parse_option, &o.app, &o.backend, &o.have_backend, &o.start_timeout };
        int r = usage_parse_options(argc, argv, options, &u);

        if (r > 0)
                r = check_argv(argc, argv);
        *ret = o;
        return r;
}
