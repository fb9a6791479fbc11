/* emberctl new's command line. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "macro.h"
#include "new-options.h"
#include "protocol.h"
#include "parse.h"
#include "usage.h"
#include "buf.h"

/* --relay in --help: the in-kernel relay is experimental and built only on request */
#if ENABLE_KERNEL_RELAY
#define HELP_RELAY \
        "  --relay=splice|kernel   relay with splice (default) or in the kernel (a BPF sockmap the backend\n" \
        "                          unit loads with CAP_BPF and CAP_NET_ADMIN; splice where refused).\n" \
        "                          Experimental: slower than splice for bulk transfers\n"
#else
#define HELP_RELAY \
        "  --relay=splice          relay with splice (the experimental in-kernel relay, --relay=kernel, is\n" \
        "                          not in this build: ./configure --enable-kernel-relay)\n"
#endif

static void help_new(FILE *f) {
        fprintf(f,
                "Usage: emberctl new NAME --listen=ADDR --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "Write the systemd units for app NAME: NAME.socket, NAME@.service, NAME-backend.socket and\n"
                "NAME-backend.service.\n\n"
                "  --listen=ADDR           where clients connect: HOST:PORT, [V6]:PORT, PORT (all addresses) or /path\n"
                "  --backend=ADDR          where COMMAND listens: HOST:PORT, [V6]:PORT, PORT (127.0.0.1) or /path;\n"
                "                          HOST:auto picks a free port for each run (needed for emberctl upgrade\n"
                "                          without a pause): COMMAND gets it as $PORT and in {port}\n"
                "  --idle=DUR              stop the backend DUR after the last connection (default 60s)\n"
                "  --idle-action=stop|freeze|checkpoint  at the idle deadline stop the backend (default),\n"
                "                          freeze it (memory kept, no CPU, thawed by the next connection: no\n"
                "                          cold start), or dump it with criu and restore it at the next start\n"
                "                          (experimental: ./configure --enable-checkpoint)\n"
                "  --freeze-for=DUR        stop a backend frozen for DUR (default infinity)\n"
                "  --policy=SPEC           seccomp policy: default, strict, container (a podman/docker\n"
                "                          run backend), none or a .policy file (default: default)\n"
                "  --start-on=connect|data wake the backend on connect (default) or on the first byte\n"
                "  --hardening=lean|strict the per-connection unit's sandboxing (default lean: the launcher\n"
                "                          confines itself; strict adds systemd's, ~5x the cost per connection)\n"
                "  --ready=connect|notify  backend is ready when it accepts (default) or sends READY=1\n"
                "  --user=USER             run COMMAND as USER\n"
                "  --dynamic-user          run COMMAND as a user systemd allocates for each run (DynamicUser=)\n"
                "  --start-timeout=DUR     give up on a backend not ready within DUR (default 30s)\n"
                "  --stop-timeout=DUR      SIGKILL a backend DUR after SIGTERM (default 10s)\n"
                "  --client-idle-timeout=DUR  close a connection silent for DUR both ways (default infinity)\n"
                "  --max-connections=N     concurrent connections (default %d)\n"
                "  --unit-dir=DIR          where to write the units (default " UNIT_DIR_DEFAULT ")\n"
                "  --force                 overwrite existing units (drop-ins from systemctl edit stay)\n"
                "  --now                   then daemon-reload, enable and start NAME.socket\n"
                "  --env=NAME=VALUE        set NAME in the backend's environment (repeatable)\n"
                "  --env-file=PATH         read the backend's environment from PATH (repeatable)\n"
                "  --working-directory=DIR the backend's working directory\n"
                "  --rw-path=PATH          let the backend write PATH (repeatable; all else is read-only to it)\n"
                "  --state-dir=NAME        the backend's state directory ($STATE_DIRECTORY, kept across runs): /var/lib/NAME\n"
                "                          instead of /var/lib/ember/APP\n"
                "  --proxy-protocol=v1|v2  send the backend a PROXY header with the client's address first\n"
                "  --accept-proxy-protocol expect a PROXY v1/v2 header from a load balancer in front first\n"
                HELP_RELAY,
                MAX_CONNECTIONS_DEFAULT);
}


enum { ARG_LISTEN = 0x100, ARG_BACKEND, ARG_IDLE, ARG_POLICY, ARG_START_ON, ARG_READY, ARG_USER, ARG_START_TIMEOUT,
       ARG_STOP_TIMEOUT, ARG_CLIENT_IDLE_TIMEOUT, ARG_MAX_CONNECTIONS, ARG_UNIT_DIR, ARG_FORCE, ARG_HARDENING,
       ARG_NOW, ARG_ENV, ARG_ENV_FILE, ARG_WORKING_DIRECTORY, ARG_PROXY_PROTOCOL, ARG_ACCEPT_PROXY_PROTOCOL,
       ARG_RW_PATH, ARG_STATE_DIR, ARG_RELAY, ARG_DYNAMIC_USER, ARG_IDLE_ACTION, ARG_FREEZE_FOR };

/* NAME=VALUE for Environment=: a shell-style name, a value that is valid UTF-8 without control characters. */
static bool env_assignment_is_valid(const char *s) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s || isdigit((unsigned char) s[0]) || !utf8_is_valid(eq + 1))
                return false;
        for (const char *p = s; p < eq; p++)
                if (!isalnum((unsigned char) *p) && *p != '_')
                        return false;
        for (const char *p = eq + 1; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* A path systemd reads back unchanged from EnvironmentFile= or WorkingDirectory= (and no leading "-" or "~"). */
static bool setting_path_is_ok(const char *s) {
        return listen_path_is_ok(s);
}

/* A unix socket path must survive systemd's parsing of ListenStream= (which trims whitespace). */
bool listen_path_is_ok(const char *s) {
        if (!utf8_is_valid(s))
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '\\' || *s == '"' || *s == '\'')
                        return false;
        return true;
}

bool state_dir_is_ok(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/' || s[0] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._-/", *p))
                        return false;
        for (const char *c = s; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
        }
        return true;
}

/* --NAME=ARG that must be ONE or TWO: 0, or the usage error's -EINVAL. */
static int choice_opt(const char *name, const char *arg, const char *one, const char *two, const char **ret) {
        if (strcmp(arg, one) != 0 && strcmp(arg, two) != 0)
                return usage_fail("invalid --%s '%s': use %s or %s", name, arg, one, two);
        *ret = arg;
        return 0;
}

/* The options that say where things are and what the backend's environment holds: 0, or -EINVAL. */
static int new_setting_option(int c, const char *arg, new_args *a) {
        switch (c) {
        case ARG_MAX_CONNECTIONS:
                if (parse_uint64(arg, &a->max_connections) < 0 || strchr(arg, '\n') ||
                    a->max_connections == 0 || a->max_connections > 65536)
                        return usage_fail("invalid --max-connections '%s': use a number from 1 to 65536", arg);
                return 0;
        case ARG_UNIT_DIR:
                return unit_dir_opt(arg, &a->unit_dir);
        case ARG_ENV:
                if (!env_assignment_is_valid(arg))
                        return usage_fail("invalid --env '%s': use NAME=VALUE, NAME of [A-Za-z0-9_] not starting with a "
                                          "digit, VALUE valid UTF-8 without control characters", arg);
                if (a->n_env == ENV_MAX)
                        return usage_fail("too many --env (at most %d)", ENV_MAX);
                a->env[a->n_env++] = arg;
                return 0;
        case ARG_ENV_FILE:
                if (arg[0] != '/' || !setting_path_is_ok(arg))
                        return usage_fail("invalid --env-file '%s': use an absolute path without whitespace or quotes", arg);
                if (a->n_env_files == ENV_MAX)
                        return usage_fail("too many --env-file (at most %d)", ENV_MAX);
                a->env_files[a->n_env_files++] = arg;
                return 0;
        case ARG_WORKING_DIRECTORY:
                if (arg[0] != '/' || !setting_path_is_ok(arg))
                        return usage_fail("invalid --working-directory '%s': use an absolute path without whitespace or quotes", arg);
                a->working_directory = arg;
                return 0;
        case ARG_RW_PATH:
                if (arg[0] != '/' || !setting_path_is_ok(arg))
                        return usage_fail("invalid --rw-path '%s': use an absolute path without whitespace or quotes", arg);
                if (a->n_rw_paths == ENV_MAX)
                        return usage_fail("too many --rw-path (at most %d)", ENV_MAX);
                a->rw_paths[a->n_rw_paths++] = arg;
                return 0;
        case ARG_STATE_DIR:
                if (!state_dir_is_ok(arg))
                        return usage_fail("invalid --state-dir '%s': use a relative name under /var/lib of "
                                          "[A-Za-z0-9._-] and '/', without . or .. components", arg);
                a->state_dir = arg;
                return 0;
        default:
                abort(); /* every option of new_parse()'s table is handled here or in new_option() */
        }
}

static int new_option(int c, const char *arg, void *ctx) {
        new_args *a = ctx;

        switch (c) {
        case ARG_LISTEN:
                a->listen = arg;
                return 0;
        case ARG_BACKEND:
                a->backend = arg;
                return 0;
        case ARG_IDLE:
                return parse_duration_opt("idle", arg, true, &a->idle);
        case ARG_IDLE_ACTION:
                a->idle_action = idle_action_from_string(arg);
                if (a->idle_action < 0)
                        return usage_fail("new: invalid --idle-action '%s': use stop, freeze or checkpoint", arg);
                if (a->idle_action == IDLE_ACTION_CHECKPOINT && !ENABLE_CHECKPOINT)
                        return usage_fail("new: %s", CHECKPOINT_NOT_BUILT);
                return 0;
        case ARG_FREEZE_FOR:
                return parse_duration_opt("freeze-for", arg, false, &a->freeze_for);
        case ARG_POLICY:
                a->policy = arg;
                return 0;
        case ARG_HARDENING:
                return choice_opt("hardening", arg, "lean", "strict", &a->hardening);
        case ARG_START_ON:
                return choice_opt("start-on", arg, "connect", "data", &a->start_on);
        case ARG_READY:
                return choice_opt("ready", arg, "connect", "notify", &a->ready);
        case ARG_PROXY_PROTOCOL:
                return choice_opt("proxy-protocol", arg, "v1", "v2", &a->proxy_protocol);
        case ARG_ACCEPT_PROXY_PROTOCOL:
                a->accept_proxy_protocol = true;
                return 0;
        case ARG_RELAY:
                if (!ENABLE_KERNEL_RELAY && strcmp(arg, "kernel") == 0)
                        return usage_fail("%s", KERNEL_RELAY_NOT_BUILT);
                return choice_opt("relay", arg, "splice", "kernel", &a->relay);
        case ARG_USER:
                a->user = arg;
                return 0;
        case ARG_DYNAMIC_USER:
                a->dynamic_user = true;
                return 0;
        case ARG_START_TIMEOUT:
                return parse_duration_opt("start-timeout", arg, false, &a->start_timeout);
        case ARG_STOP_TIMEOUT:
                return parse_duration_opt("stop-timeout", arg, false, &a->stop_timeout);
        case ARG_CLIENT_IDLE_TIMEOUT:
                return parse_duration_opt("client-idle-timeout", arg, false, &a->client_idle);
        case ARG_FORCE:
                a->force = true;
                return 0;
        case ARG_NOW:
                a->now = true;
                return 0;
        default:
                return new_setting_option(c, arg, a);
        }
}

/* 1 to go on, 0 after --help, or -EINVAL after the usage message. */
int new_parse(int argc, char *argv[], new_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "idle", required_argument, NULL, ARG_IDLE },
                { "idle-action", required_argument, NULL, ARG_IDLE_ACTION },
                { "freeze-for", required_argument, NULL, ARG_FREEZE_FOR },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "start-on", required_argument, NULL, ARG_START_ON },
                { "ready", required_argument, NULL, ARG_READY },
                { "user", required_argument, NULL, ARG_USER },
                { "dynamic-user", no_argument, NULL, ARG_DYNAMIC_USER },
                { "start-timeout", required_argument, NULL, ARG_START_TIMEOUT },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "client-idle-timeout", required_argument, NULL, ARG_CLIENT_IDLE_TIMEOUT },
                { "max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS },
                { "unit-dir", required_argument, NULL, ARG_UNIT_DIR },
                { "force", no_argument, NULL, ARG_FORCE },
                { "now", no_argument, NULL, ARG_NOW },
                { "env", required_argument, NULL, ARG_ENV },
                { "env-file", required_argument, NULL, ARG_ENV_FILE },
                { "working-directory", required_argument, NULL, ARG_WORKING_DIRECTORY },
                { "proxy-protocol", required_argument, NULL, ARG_PROXY_PROTOCOL },
                { "accept-proxy-protocol", no_argument, NULL, ARG_ACCEPT_PROXY_PROTOCOL },
                { "hardening", required_argument, NULL, ARG_HARDENING },
                { "rw-path", required_argument, NULL, ARG_RW_PATH },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "relay", required_argument, NULL, ARG_RELAY },
                {}
        };
        static const verb_spec spec = {
                .name = "new", .short_options = "h", .options = options, .help = help_new, .on_option = new_option,
        };
        int dd, r;

        *a = (new_args){
                .policy = "default", .start_on = "connect", .ready = "connect", .unit_dir = UNIT_DIR_DEFAULT,
                .hardening = "lean", .relay = "splice", .idle = 60 * USEC_PER_SEC, .start_timeout = 30 * USEC_PER_SEC,
                .stop_timeout = 10 * USEC_PER_SEC, .max_connections = MAX_CONNECTIONS_DEFAULT,
                .client_idle = USEC_INFINITY, .idle_action = IDLE_ACTION_STOP, .freeze_for = USEC_INFINITY,
        };
        /* Everything after the first "--" is COMMAND; getopt_long only sees what comes before it. */
        for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
                ;
        a->command = argv + (dd < argc ? dd + 1 : argc);
        a->command_argc = dd < argc ? argc - dd - 1 : 0;

        r = verb_options(&spec, dd, argv, a);
        if (r <= 0)
                return r;
        if (optind >= dd)
                return usage_fail("new: missing NAME");
        if (optind + 1 < dd)
                return usage_fail("new: unexpected argument '%s' (COMMAND goes after '--')", argv[optind + 1]);
        a->name = argv[optind];
        if (a->freeze_for != USEC_INFINITY && a->idle_action != IDLE_ACTION_FREEZE)
                return usage_fail("new: --freeze-for needs --idle-action=freeze");
        return 1;
}

/* COMMAND[0] as an absolute path to an executable regular file, searching $PATH for a bare name. */
int resolve_command(const char *cmd, char **ret) {
        const char *path = getenv("PATH");
        struct stat st;

        if (!*cmd)
                return -EINVAL;
        if (strchr(cmd, '/')) {
                char *abs = realpath(cmd, NULL);
                if (!abs)
                        return -errno;
                if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, X_OK) < 0) {
                        free(abs);
                        return -ENOEXEC;
                }
                /* keep what the user wrote if it was absolute (symlinks such as python3 -> python3.11 stay) */
                if (cmd[0] == '/') {
                        free(abs);
                        abs = strdup(cmd);
                        if (!abs)
                                return -ENOMEM;
                }
                *ret = abs;
                return 0;
        }
        if (!path || !*path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;

                /* relative $PATH entries would make the unit depend on emberctl's working directory */
                if (n > 0 && p[0] == '/') {
                        if (asprintf(&candidate, "%.*s/%s", (int) n, p, cmd) < 0)
                                return -ENOMEM;
                        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
                                *ret = candidate;
                                candidate = NULL;
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}
