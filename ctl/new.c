/* emberctl new: writes an app's four units from the templates. parse → validate → substitutions → render → write;
 * nothing is written unless every step before succeeded. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "timeutil.h"
#include "template.h"
#include "buf.h"
#include "unit-quote.h"
#include "user.h"

#define MAX_CONNECTIONS_DEFAULT 1024
/* systemd's own timeouts leave the supervisor's timeouts room to act first. Before a start the supervisor may
 * also wait out its crash backoff (BACKOFF_MAX_USEC), which counts against TimeoutStartSec= too. */
#define SYSTEMD_TIMEOUT_SLACK (10 * USEC_PER_SEC)
#define N_SUBSTS 17
#define ENV_MAX 64

#define N_UNITS N_APP_UNITS

/* What the command line asks for. */
typedef struct new_args {
        const char *name, *listen, *backend, *policy, *start_on, *ready, *user, *unit_dir, *hardening;
        const char *proxy_protocol; /* v1, v2 or NULL */
        uint64_t idle, start_timeout, stop_timeout, max_connections, client_idle;
        bool force, now, accept_proxy_protocol;
        char **command;
        int command_argc;
        /* the backend unit's own settings: --env=K=V, --env-file=PATH (each repeatable), --working-directory= */
        const char *env[ENV_MAX], *env_files[ENV_MAX], *working_directory;
        size_t n_env, n_env_files;
} new_args;

/* What it resolves to, checked. */
typedef struct new_plan {
        ember_addr listen_a, backend_a;
        char listen[sizeof(((struct sockaddr_un *) 0)->sun_path) + 64];
        char backend[sizeof(((struct sockaddr_un *) 0)->sun_path) + 64];
        char *command0, *policy;
        subst substs[N_SUBSTS];
        size_t n_substs;
        buf rendered[N_UNITS];
} new_plan;

static void new_plan_done(new_plan *p) {
        free(p->command0);
        free(p->policy);
        substs_free(p->substs, p->n_substs);
        for (size_t i = 0; i < N_UNITS; i++)
                buf_done(&p->rendered[i]);
}

static const char *policy_dir(void) {
        const char *e = getenv("EMBER_POLICY_DIR");
        return e && *e ? e : PKGDATADIR "/policies";
}


/* COMMAND[0] as an absolute path to an executable regular file, searching $PATH for a bare name. */
static int resolve_command(const char *cmd, char **ret) {
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

static int check_policy(const char *spec, char **ret) {
        struct stat st;

        if (strchr(spec, '/')) {
                char *abs = realpath(spec, NULL);
                if (!abs)
                        return -errno;
                if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, R_OK) < 0) {
                        free(abs);
                        return -EBADFD;
                }
                *ret = abs;
                return 0;
        }
        if (strcmp(spec, "default") != 0 && strcmp(spec, "strict") != 0 && strcmp(spec, "container") != 0 &&
            strcmp(spec, "none") != 0) {
                _cleanup_free_ char *p = NULL;

                /* another named policy: it must be installed as NAME.policy */
                if (!policy_name_is_valid(spec))
                        return -EINVAL;
                if (asprintf(&p, "%s/%s.policy", policy_dir(), spec) < 0)
                        return -ENOMEM;
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        return -ENOENT;
        }
        *ret = strdup(spec);
        return *ret ? 0 : -ENOMEM;
}

/* A unix socket path must survive systemd's parsing of ListenStream= (which trims whitespace). */
static bool listen_path_is_ok(const char *s) {
        if (!utf8_is_valid(s))
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '\\' || *s == '"' || *s == '\'')
                        return false;
        return true;
}

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
                "  --policy=SPEC           seccomp policy: default, strict, container (a podman/docker\n"
                "                          run backend), none or a .policy file (default: default)\n"
                "  --start-on=connect|data wake the backend on connect (default) or on the first byte\n"
                "  --hardening=lean|strict the per-connection unit's sandboxing (default lean: the launcher\n"
                "                          confines itself; strict adds systemd's, ~5x the cost per connection)\n"
                "  --ready=connect|notify  backend is ready when it accepts (default) or sends READY=1\n"
                "  --user=USER             run COMMAND as USER\n"
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
                "  --proxy-protocol=v1|v2  send the backend a PROXY header with the client's address first\n"
                "  --accept-proxy-protocol expect a PROXY v1/v2 header from a load balancer in front first\n",
                MAX_CONNECTIONS_DEFAULT);
}


enum { ARG_LISTEN = 0x100, ARG_BACKEND, ARG_IDLE, ARG_POLICY, ARG_START_ON, ARG_READY, ARG_USER, ARG_START_TIMEOUT,
       ARG_STOP_TIMEOUT, ARG_CLIENT_IDLE_TIMEOUT, ARG_MAX_CONNECTIONS, ARG_UNIT_DIR, ARG_FORCE, ARG_HARDENING,
       ARG_NOW, ARG_ENV, ARG_ENV_FILE, ARG_WORKING_DIRECTORY, ARG_PROXY_PROTOCOL, ARG_ACCEPT_PROXY_PROTOCOL };

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

static int parse_duration_opt_or_go_on(const char *name, const char *s, bool zero_ok, uint64_t *ret) {
        int r = parse_duration_opt(name, s, zero_ok, ret);
        return r != 0 ? r : GO_ON;
}

/* One option; GO_ON, or the exit code. */
/* --NAME=ARG that must be ONE or TWO: GO_ON, or the usage error. */
static int choice_opt(const char *name, const char *arg, const char *one, const char *two, const char **ret) {
        if (strcmp(arg, one) != 0 && strcmp(arg, two) != 0)
                return usage_fail("invalid --%s '%s': use %s or %s", name, arg, one, two);
        *ret = arg;
        return GO_ON;
}

/* The options that say where things are and what the backend's environment holds. */
static int new_setting_option(int c, const char *arg, new_args *a) {
        switch (c) {
        case ARG_MAX_CONNECTIONS:
                if (parse_uint64(arg, &a->max_connections) < 0 || strchr(arg, '\n') ||
                    a->max_connections == 0 || a->max_connections > 65536)
                        return usage_fail("invalid --max-connections '%s': use a number from 1 to 65536", arg);
                return GO_ON;
        case ARG_UNIT_DIR:
                if (arg[0] != '/')
                        return usage_fail("invalid --unit-dir '%s': use an absolute path", arg);
                a->unit_dir = arg;
                return GO_ON;
        case ARG_ENV:
                if (!env_assignment_is_valid(arg))
                        return usage_fail("invalid --env '%s': use NAME=VALUE, NAME of [A-Za-z0-9_] not starting with a "
                                          "digit, VALUE valid UTF-8 without control characters", arg);
                if (a->n_env == ENV_MAX)
                        return usage_fail("too many --env (at most %d)", ENV_MAX);
                a->env[a->n_env++] = arg;
                return GO_ON;
        case ARG_ENV_FILE:
                if (arg[0] != '/' || !setting_path_is_ok(arg))
                        return usage_fail("invalid --env-file '%s': use an absolute path without whitespace or quotes", arg);
                if (a->n_env_files == ENV_MAX)
                        return usage_fail("too many --env-file (at most %d)", ENV_MAX);
                a->env_files[a->n_env_files++] = arg;
                return GO_ON;
        case ARG_WORKING_DIRECTORY:
                if (arg[0] != '/' || !setting_path_is_ok(arg))
                        return usage_fail("invalid --working-directory '%s': use an absolute path without whitespace or quotes", arg);
                a->working_directory = arg;
                return GO_ON;
        default:
                return EXIT_SOFTWARE;
        }
}

static int new_option(int c, const char *arg, new_args *a, char *argv[]) {
        switch (c) {
        case 'h':
                help_new(stdout);
                return EXIT_SUCCESS;
        case ARG_LISTEN:
                a->listen = arg;
                return GO_ON;
        case ARG_BACKEND:
                a->backend = arg;
                return GO_ON;
        case ARG_IDLE:
                return parse_duration_opt_or_go_on("idle", arg, true, &a->idle);
        case ARG_POLICY:
                a->policy = arg;
                return GO_ON;
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
                return GO_ON;
        case ARG_USER:
                a->user = arg;
                return GO_ON;
        case ARG_START_TIMEOUT:
                return parse_duration_opt_or_go_on("start-timeout", arg, false, &a->start_timeout);
        case ARG_STOP_TIMEOUT:
                return parse_duration_opt_or_go_on("stop-timeout", arg, false, &a->stop_timeout);
        case ARG_CLIENT_IDLE_TIMEOUT:
                return parse_duration_opt_or_go_on("client-idle-timeout", arg, false, &a->client_idle);
        case ARG_FORCE:
                a->force = true;
                return GO_ON;
        case ARG_NOW:
                a->now = true;
                return GO_ON;
        case '?':
                if (optopt > 0 && optopt < 0x100 && isprint(optopt))
                        return usage_fail("new: option '-%c' is not known", optopt);
                return usage_fail("new: option '%s' is not known or lacks its value", argv[optind - 1]);
        default:
                return new_setting_option(c, arg, a);
        }
}

/* Returns GO_ON, or the exit code (EXIT_SUCCESS after --help). */
static int new_parse(int argc, char *argv[], new_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "idle", required_argument, NULL, ARG_IDLE },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "start-on", required_argument, NULL, ARG_START_ON },
                { "ready", required_argument, NULL, ARG_READY },
                { "user", required_argument, NULL, ARG_USER },
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
                {}
        };
        int dd, c, r = GO_ON;

        *a = (new_args){
                .policy = "default", .start_on = "connect", .ready = "connect", .unit_dir = UNIT_DIR_DEFAULT,
                .hardening = "lean", .idle = 60 * USEC_PER_SEC, .start_timeout = 30 * USEC_PER_SEC,
                .stop_timeout = 10 * USEC_PER_SEC, .max_connections = MAX_CONNECTIONS_DEFAULT,
                .client_idle = USEC_INFINITY,
        };
        /* Everything after the first "--" is COMMAND; getopt_long only sees what comes before it. */
        for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
                ;
        a->command = argv + (dd < argc ? dd + 1 : argc);
        a->command_argc = dd < argc ? argc - dd - 1 : 0;

        optind = 0;
        opterr = 0;
        while (r == GO_ON && (c = getopt_long(dd, argv, "h", options, NULL)) >= 0)
                r = new_option(c, optarg, a, argv);
        if (r != GO_ON)
                return r;
        if (optind >= dd)
                return usage_fail("new: missing NAME");
        if (optind + 1 < dd)
                return usage_fail("new: unexpected argument '%s' (COMMAND goes after '--')", argv[optind + 1]);
        a->name = argv[optind];
        return GO_ON;
}

static int validate_name(const char *name) {
        if (!app_name_is_valid(name))
                return usage_fail("invalid NAME '%s': use 1-%d of [A-Za-z0-9_.-], not starting with '-', not . or ..",
                                  name, APP_NAME_MAX);
        if (strlen(name) > 8 && strcmp(name + strlen(name) - 8, "-backend") == 0)
                return usage_fail("invalid NAME '%s': names ending in -backend would clash with another app's units", name);
        return GO_ON;
}

static uint16_t tcp_port(const ember_addr *a) {
        return a->sa.sa_family == AF_INET ? a->in.sin_port : a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : 0;
}

static int validate_addresses(const new_args *a, new_plan *p) {
        if (!a->listen)
                return usage_fail("new: --listen=ADDR is required");
        if (!a->backend)
                return usage_fail("new: --backend=ADDR is required");
        if (parse_addr(a->listen, &p->listen_a) < 0)
                return usage_fail("invalid --listen address '%s': use HOST:PORT, [V6]:PORT, PORT or an absolute unix path", a->listen);
        if (p->listen_a.sa.sa_family == AF_UNIX && !listen_path_is_ok(a->listen))
                return usage_fail("invalid --listen path '%s': no whitespace, quotes, backslashes or control characters", a->listen);
        if (parse_backend_addr(a->backend, &p->backend_a) < 0)
                return usage_fail("invalid --backend address '%s': use HOST:PORT, [V6]:PORT, PORT, HOST:auto or an "
                                  "absolute unix path", a->backend);
        if (p->listen_a.port_only)
                snprintf(p->listen, sizeof(p->listen), "%u", ntohs(p->listen_a.in.sin_port)); /* all addresses */
        else if (format_addr(&p->listen_a, p->listen, sizeof(p->listen)) < 0)
                return EXIT_SOFTWARE;
        if (format_addr(&p->backend_a, p->backend, sizeof(p->backend)) < 0)
                return EXIT_SOFTWARE;
        if (p->listen_a.len == p->backend_a.len && memcmp(&p->listen_a.storage, &p->backend_a.storage, p->listen_a.len) == 0)
                return usage_fail("--listen and --backend are the same address (%s): the backend must listen elsewhere", p->backend);
        if (p->listen_a.port_only && tcp_port(&p->backend_a) == p->listen_a.in.sin_port)
                return usage_fail("--listen port %s would take the backend's address %s", p->listen, p->backend);
        return GO_ON;
}

static int validate_command(const new_args *a, new_plan *p) {
        int r;

        if (a->user && !user_lookup(a->user))
                return usage_fail("invalid --user '%s': no such user", a->user);
        if (a->command_argc == 0)
                return usage_fail("new: missing COMMAND after '--'");
        r = resolve_command(a->command[0], &p->command0);
        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory"), EXIT_OSERR;
        if (r < 0)
                return usage_fail("invalid COMMAND '%s': %s", a->command[0],
                                  r == -ENOEXEC ? "not an executable file" :
                                  strchr(a->command[0], '/') ? strerror(-r) : "not found in $PATH");
        return GO_ON;
}

static int validate_policy(const new_args *a, new_plan *p) {
        int r = check_policy(a->policy, &p->policy);

        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory"), EXIT_OSERR;
        if (r >= 0)
                return GO_ON;
        if (strchr(a->policy, '/'))
                log_error("invalid --policy '%s': %s", a->policy, r == -EBADFD ? "not a readable regular file" : strerror(-r));
        else
                log_error("invalid --policy '%s': use default, strict, container, none, a policy installed in %s or a path",
                          a->policy, policy_dir());
        return EXIT_CONFIG;
}

static int new_validate(const new_args *a, new_plan *p) {
        int r = validate_name(a->name);
        if (r == GO_ON)
                r = validate_addresses(a, p);
        if (r == GO_ON)
                r = validate_command(a, p);
        if (r == GO_ON)
                r = validate_policy(a, p);
        return r;
}

static int refuse_existing_units(const new_args *a, int udirfd) {
        bool exists = false;

        if (a->force)
                return GO_ON;
        for (size_t i = 0; i < N_UNITS; i++) {
                char u[NAME_MAX + 1];
                struct stat st;

                unit_name(unit_templates[i], a->name, u, sizeof(u));
                if (fstatat(udirfd, u, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        log_error("%s/%s exists", a->unit_dir, u);
                        exists = true;
                }
        }
        if (!exists)
                return GO_ON;
        log_error("refusing to overwrite; use --force to replace the units of '%s'", a->name);
        return EXIT_CANTCREAT;
}

/* Open both directories before writing anything. */
static int open_dirs(const new_args *a, int *tdirfd, int *udirfd) {
        *tdirfd = open(template_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*tdirfd < 0)
                return log_error_errno(-errno, "cannot open template directory %s (set EMBER_TEMPLATE_DIR?)",
                                       template_dir()), EXIT_OSERR;
        *udirfd = open(a->unit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*udirfd < 0)
                return log_error_errno(-errno, "cannot open unit directory %s", a->unit_dir), EXIT_CANTCREAT;
        return refuse_existing_units(a, *udirfd);
}

static int add_subst(new_plan *p, const char *key, const char *value) {
        return p->n_substs < N_SUBSTS ? set_subst(&p->substs[p->n_substs++], key, value) : -E2BIG;
}

static int add_subst_buf(new_plan *p, const char *key, buf *b) {
        return p->n_substs < N_SUBSTS ? set_subst_buf(&p->substs[p->n_substs++], key, b) : -E2BIG;
}

static int add_subst_escaped(new_plan *p, const char *key, const char *value) {
        buf b = {};
        int r = unit_escape_specifiers(&b, value);
        if (r >= 0)
                r = add_subst_buf(p, key, &b);
        buf_done(&b);
        return r;
}

/* ember-launch --app --backend --start-on --start-timeout [--idle-timeout] */
static int launch_args(const new_args *a, const new_plan *p, buf *b) {
        char start[32], client_idle[32];
        int r;

        format_duration(a->start_timeout, start, sizeof(start));
        format_duration(a->client_idle, client_idle, sizeof(client_idle));
        r = exec_option(b, "app", a->name);
        if (r >= 0)
                r = exec_option(b, "backend", p->backend);
        if (r >= 0)
                r = exec_option(b, "start-on", a->start_on);
        if (r >= 0)
                r = exec_option(b, "start-timeout", start);
        if (r >= 0 && a->client_idle != USEC_INFINITY)
                r = exec_option(b, "idle-timeout", client_idle);
        if (r >= 0 && a->proxy_protocol)
                r = exec_option(b, "proxy-protocol", a->proxy_protocol);
        if (r >= 0 && a->accept_proxy_protocol)
                r = buf_puts(b, " \"--accept-proxy-protocol\"");
        return r;
}

/* ember-sandbox --app --backend --idle --ready --policy [--user] --start-timeout --stop-timeout */
static int sandbox_args(const new_args *a, const new_plan *p, buf *b) {
        char idle[32], start[32], stop[32];
        int r;

        format_duration(a->idle, idle, sizeof(idle));
        format_duration(a->start_timeout, start, sizeof(start));
        format_duration(a->stop_timeout, stop, sizeof(stop));
        r = exec_option(b, "app", a->name);
        if (r >= 0)
                r = exec_option(b, "backend", p->backend);
        if (r >= 0)
                r = exec_option(b, "idle", idle);
        if (r >= 0)
                r = exec_option(b, "ready", a->ready);
        if (r >= 0)
                r = exec_option(b, "policy", p->policy);
        if (r >= 0 && a->user)
                r = exec_option(b, "user", a->user);
        if (r >= 0)
                r = exec_option(b, "start-timeout", start);
        if (r >= 0)
                r = exec_option(b, "stop-timeout", stop);
        return r;
}

static int command_line(const new_args *a, const new_plan *p, buf *b) {
        int r = exec_quote(b, p->command0);
        for (int i = 1; r >= 0 && i < a->command_argc; i++)
                if ((r = buf_putc(b, ' ')) >= 0)
                        r = exec_quote(b, a->command[i]);
        return r;
}

/* Environment="K=V" (quoted, '\\' and '"' escaped, '%' doubled; no '$' expansion happens in Environment=),
 * EnvironmentFile=, WorkingDirectory=: the backend inherits them from its supervisor. */
static int backend_settings(const new_args *a, const new_plan *p, buf *b) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < a->n_env; i++) {
                r = buf_puts(b, "Environment=\"");
                for (const char *c = a->env[i]; r >= 0 && *c; c++)
                        r = *c == '\\' || *c == '"' ? buf_printf(b, "\\%c", *c) : *c == '%' ? buf_puts(b, "%%") : buf_putc(b, *c);
                if (r >= 0)
                        r = buf_puts(b, "\"\n");
        }
        for (size_t i = 0; r >= 0 && i < a->n_env_files; i++)
                if ((r = buf_puts(b, "EnvironmentFile=")) >= 0 && (r = unit_escape_specifiers(b, a->env_files[i])) >= 0)
                        r = buf_putc(b, '\n');
        if (r >= 0 && a->working_directory)
                if ((r = buf_puts(b, "WorkingDirectory=")) >= 0 && (r = unit_escape_specifiers(b, a->working_directory)) >= 0)
                        r = buf_putc(b, '\n');
        if (r >= 0 && b->len == 0)
                r = buf_puts(b, "# (none: emberctl new --env=, --env-file=, --working-directory=, or a drop-in)\n");
        return r;
}

static int add_subst_from(new_plan *p, const char *key, int (*make)(const new_args *, const new_plan *, buf *),
                          const new_args *a) {
        buf b = {};
        int r = make(a, p, &b);
        if (r >= 0)
                r = add_subst_buf(p, key, &b);
        buf_done(&b);
        return r;
}

/* The substitutions, each escaped for the place the templates use it. */
static int build_substitutions(const new_args *a, new_plan *p) {
        char idle[32], tstart[32], tstop[32], maxc[24];
        int r;

        format_duration(a->idle, idle, sizeof(idle));
        format_duration(usec_add(a->start_timeout, BACKOFF_MAX_USEC + SYSTEMD_TIMEOUT_SLACK), tstart, sizeof(tstart));
        format_duration(usec_add(a->stop_timeout, SYSTEMD_TIMEOUT_SLACK), tstop, sizeof(tstop));
        snprintf(maxc, sizeof(maxc), "%" PRIu64, a->max_connections);

        r = add_subst(p, "NAME", a->name);
        if (r >= 0)
                r = add_subst_escaped(p, "LISTEN", p->listen);
        if (r >= 0)
                r = add_subst_escaped(p, "LISTEN_DESC", p->listen);
        if (r >= 0)
                r = add_subst_escaped(p, "RUNTIME_DIR", RUNTIME_DIR_DEFAULT);
        if (r >= 0)
                r = add_subst_escaped(p, "LIBEXECDIR", LIBEXECDIR);
        if (r >= 0)
                r = add_subst(p, "TEMPLATE_DIR", template_dir());
        if (r >= 0)
                r = add_subst(p, "IDLE", idle);
        if (r >= 0)
                r = add_subst(p, "MAX_CONNECTIONS", maxc);
        if (r >= 0)
                r = add_subst(p, "TIMEOUT_START_SEC", tstart);
        if (r >= 0)
                r = add_subst(p, "TIMEOUT_STOP_SEC", tstop);
        if (r >= 0)
                r = add_subst_from(p, "LAUNCH_ARGS", launch_args, a);
        if (r >= 0)
                r = add_subst_from(p, "SANDBOX_ARGS", sandbox_args, a);
        if (r >= 0)
                r = add_subst_from(p, "COMMAND", command_line, a);
        if (r >= 0)
                r = add_subst_from(p, "BACKEND_SETTINGS", backend_settings, a);
        if (r < 0)
                return log_error_errno(r, "cannot prepare the units"), EXIT_OSERR;
        return GO_ON;
}

static int template_read_error(int r, const char *file) {
        log_error_errno(r, "cannot read template %s/%s", template_dir(), file);
        return r == -EBADMSG || r == -EFBIG || r == -EBADFD ? EXIT_DATAERR : EXIT_OSERR;
}

static int render_template(int tdirfd, const char *file, const new_plan *p, buf *out) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(tdirfd, file, &text);

        if (r < 0)
                return template_read_error(r, file);
        r = render(file, text, p->substs, p->n_substs, out);
        if (r == -EBADMSG)
                return EXIT_DATAERR; /* render() said FILE:LINE */
        if (r < 0)
                return log_error_errno(r, "cannot render template %s", file), EXIT_OSERR;
        return GO_ON;
}

/* The per-connection unit's hardening block is a template of its own, rendered with the same values; then all
 * units, so that a broken template writes nothing. */
static int render_units(const new_args *a, int tdirfd, new_plan *p) {
        char file[64];
        buf b = {};
        int r;

        snprintf(file, sizeof(file), "hardening-%s.conf", a->hardening);
        r = render_template(tdirfd, file, p, &b);
        if (r == GO_ON && add_subst_buf(p, "HARDENING", &b) < 0) {
                log_error_errno(-ENOMEM, "cannot prepare the units");
                r = EXIT_OSERR;
        }
        buf_done(&b);
        for (size_t i = 0; r == GO_ON && i < N_UNITS; i++)
                r = render_template(tdirfd, unit_templates[i], p, &p->rendered[i]);
        return r;
}

static int write_units(const new_args *a, int udirfd, const new_plan *p) {
        for (size_t i = 0; i < N_UNITS; i++) {
                char u[NAME_MAX + 1];
                int r;

                unit_name(unit_templates[i], a->name, u, sizeof(u));
                r = write_atomic(udirfd, u, &p->rendered[i], a->force);
                if (r < 0) {
                        log_error_errno(r, "cannot write %s/%s", a->unit_dir, u);
                        return r == -EEXIST || r == -EACCES || r == -EPERM || r == -EROFS ? EXIT_CANTCREAT : EXIT_OSERR;
                }
                printf("Wrote %s/%s\n", a->unit_dir, u);
        }
        return GO_ON;
}

static void print_next_steps(const new_args *a, const new_plan *p) {
        char idle[32];

        format_duration(a->idle, idle, sizeof(idle));
        printf("App '%s': clients connect to %s%s, backend %s on %s (idle %s, policy %s%s%s).\n", a->name, p->listen,
               p->listen_a.port_only ? " (all addresses)" : "", p->command0, p->backend, idle, p->policy,
               a->user ? ", user " : "", a->user ? a->user : "");
        if (!a->now)
                printf("Next:\n  systemctl daemon-reload\n  systemctl enable --now %s.socket\n", a->name);
        printf("Settings of your own go in drop-ins (systemctl edit %s-backend.service): they survive new --force.\n",
               a->name);
}

/* --now: what the two printed commands would do, over the bus. */
static int enable_now(const new_args *a) {
        char unit[APP_NAME_MAX + 16];
        const char *result = NULL;
        sd_bus *bus = NULL;
        int r;

        snprintf(unit, sizeof(unit), "%s.socket", a->name);
        if (bus_open(&bus) < 0)
                return EXIT_UNAVAILABLE;
        r = bus_daemon_reload(bus);
        if (r >= 0)
                r = bus_enable(bus, unit);
        if (r >= 0) {
                r = bus_unit_job(bus, "StartUnit", unit, &result);
                if (r == -EIO && result)
                        log_error("%s did not start (job %s): see journalctl -u %s", unit, result, unit);
        }
        if (r >= 0)
                printf("Enabled and started %s.\n", unit);
        sd_bus_flush_close_unref(bus);
        return r >= 0 ? GO_ON : EXIT_UNAVAILABLE;
}

int verb_new(int argc, char *argv[]) {
        _cleanup_close_ int tdirfd = -1, udirfd = -1;
        new_plan p = {};
        new_args a;
        int r;

        r = new_parse(argc, argv, &a);
        if (r == GO_ON)
                r = new_validate(&a, &p);
        if (r == GO_ON)
                r = open_dirs(&a, &tdirfd, &udirfd);
        if (r == GO_ON)
                r = build_substitutions(&a, &p);
        if (r == GO_ON)
                r = render_units(&a, tdirfd, &p);
        if (r == GO_ON)
                r = write_units(&a, udirfd, &p);
        if (r == GO_ON && a.now)
                r = enable_now(&a);
        if (r == GO_ON) {
                print_next_steps(&a, &p);
                r = EXIT_SUCCESS;
        }
        new_plan_done(&p);
        return r;
}
