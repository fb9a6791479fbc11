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
#include "errors.h"
#include "landlock.h"
#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "timeutil.h"
#include "template.h"
#include "buf.h"
#include "unit-quote.h"
#include "user.h"
#include "new.h"

/* systemd's own timeouts leave the supervisor's timeouts room to act first. Before a start the supervisor may
 * also wait out its crash backoff (BACKOFF_MAX_USEC), which counts against TimeoutStartSec= too. */
#define SYSTEMD_TIMEOUT_SLACK (10 * USEC_PER_SEC)
#define N_SUBSTS 32

#define N_UNITS N_APP_UNITS
#define BACKEND_UNIT 0 /* unit_templates[0], NAME-backend.service */

/* What it resolves to, checked. */
typedef struct new_plan {
        ember_addr listen_a, backend_a;
        char listen[sizeof(((struct sockaddr_un *) 0)->sun_path) + 64];
        char backend[sizeof(((struct sockaddr_un *) 0)->sun_path) + 64];
        char *command0, *policy;
        bool dynamic_user; /* --dynamic-user, or no --user for a TCP backend under systemd's sandbox */
        bool own_user;     /* no --user: the backend's own system user NAME-backend, made by systemd-sysusers */
        bool landlock;     /* the backend's files confined by ember-sandbox --landlock, no mount namespace */
        const char *launch_user; /* who NAME@.service runs the launchers as: launch_user() */
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

/* --policy=container: a container engine runs in the backend unit, whose sandbox backend-container.conf relaxes */
static bool policy_is_container(const new_plan *p) {
        return strcmp(p->policy, "container") == 0;
}

/* Who the launchers run as (ember-launch(8), USER): LAUNCH_USER, the system user all TCP apps' launchers share; for a
 * unix --backend, the backend's own --user, who owns its socket and so connects to it with the socket's own mode (root
 * only when the app says --user=root). Never root otherwise: root without capabilities does not pass as a socket's
 * owner, and a root launcher is what reached PID 1's private socket through a backend's symlink (issue 24; the
 * launcher has refused symlinks since).
 *
 * What that gives the backend, which runs as the same user: a signal to its own launchers (it could close its clients
 * anyway), but no ptrace and no /proc/PID/fd of theirs, since a launcher makes itself non-dumpable before anything
 * else;
 * and the launcher files of its own app (lock, leases, gen-leases, refcount, connections, state, idle-since: made that
 * user's in root's directory, which the backend unit leaves writable for the supervisor). Rewriting or locking them
 * misleads or stalls its own app only, which a backend can do by not answering; it can keep itself warm as a client
 * of its own port can; and the supervisor trusts none of them for its own liveness (supervisor.lock is root's). It can
 * create, rename or remove nothing there (the directory is root's 0755). Other apps' files are their users'. */
static const char *launch_user(const new_args *a, const new_plan *p) {
        return p->backend_a.sa.sa_family == AF_UNIX ? a->user : LAUNCH_USER;
}

static const char *policy_dir(void) {
        const char *e = getenv("EMBER_POLICY_DIR");
        return e && *e ? e : PKGDATADIR "/policies";
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

static int validate_name(const char *name) {
        if (!app_name_is_valid(name))
                return usage_fail("invalid NAME '%s': use 1-%d of [A-Za-z0-9_.-], not starting with '-', not . or ..",
                                  name, APP_NAME_MAX);
        if (strlen(name) > 8 && strcmp(name + strlen(name) - 8, "-backend") == 0)
                return usage_fail("invalid NAME '%s': names ending in -backend would clash with another app's units", name);
        return 0;
}

static uint16_t tcp_port(const ember_addr *a) {
        return a->sa.sa_family == AF_INET ? a->in.sin_port : a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : 0;
}

static int validate_addresses(const new_args *a, new_plan *p) {
        int r;

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
        else if ((r = format_addr(&p->listen_a, p->listen, sizeof(p->listen))) < 0)
                return log_error_errno(r, "cannot format the --listen address %s", a->listen);
        r = format_addr(&p->backend_a, p->backend, sizeof(p->backend));
        if (r < 0)
                return log_error_errno(r, "cannot format the --backend address %s", a->backend);
        if (p->listen_a.len == p->backend_a.len && memcmp(&p->listen_a.storage, &p->backend_a.storage, p->listen_a.len) == 0)
                return usage_fail("--listen and --backend are the same address (%s): the backend must listen elsewhere", p->backend);
        if (p->listen_a.port_only && tcp_port(&p->backend_a) == p->listen_a.in.sin_port)
                return usage_fail("--listen port %s would take the backend's address %s", p->listen, p->backend);
        return 0;
}

static int validate_command(const new_args *a, new_plan *p) {
        int r;

        if (a->user && !user_lookup(a->user))
                return usage_fail("invalid --user '%s': no such user", a->user);
        if (a->command_argc == 0)
                return usage_fail("new: missing COMMAND after '--'");
        r = resolve_command(a->command[0], &p->command0);
        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory");
        if (r < 0)
                return usage_fail("invalid COMMAND '%s': %s", a->command[0],
                                  r == -ENOEXEC ? "not an executable file" :
                                  strchr(a->command[0], '/') ? strerror(-r) : "not found in $PATH");
        return 0;
}

/* Who the backend runs as: never root unless the app says --user=root. Without --user (or with --dynamic-user)
 * systemd allocates the user "NAME-backend" for each run (DynamicUser=; the supervisor stays root through "!" and
 * drops the backend to it), so a compromised backend cannot ask PID 1 for root. A container engine needs root, and
 * a unix backend's socket belongs to one user the launchers check: both name it. */
static int validate_backend_user(const new_args *a, new_plan *p) {
        const char *n = a->name;
        bool is_unix = p->backend_a.sa.sa_family == AF_UNIX;

        if (a->dynamic_user && a->user)
                return usage_fail("--dynamic-user and --user=%s exclude each other: the backend runs either as a user "
                                  "systemd allocates for each run or as USER", a->user);
        p->dynamic_user = !a->user;
        if (!p->dynamic_user)
                return 0;
        if (is_unix)
                return usage_fail(a->dynamic_user ?
                                  "--dynamic-user needs a TCP --backend: the launchers could not reach a unix socket "
                                  "owned by a user allocated for each run; use --user=USER" :
                                  "a unix --backend needs --user=USER: the user the backend runs as, who owns its "
                                  "socket (--user=root runs it as root, which a compromised backend can use)");
        if (!a->dynamic_user && policy_is_container(p))
                return usage_fail("--policy=container runs a container engine, which needs root: say so with "
                                  "--user=root (the engine then confines the container itself)");
        if (strlen(n) + strlen("-backend") > 31 || !(islower((unsigned char) n[0]) || n[0] == '_') ||
            n[strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-")] != '\0')
                return usage_fail("NAME '%s' cannot name the backend's own user '%s-backend' ([a-z0-9_-], starting "
                                  "with a letter or _, at most 23 characters): choose another NAME, or --user=USER",
                                  n, n);
        return 0;
}

/* Who confines the backend's files. By default ember-sandbox, with Landlock: no mount namespace, which would cost
 * every cold start 20-35 ms (bench/README.md), and so no DynamicUser= (it implies one): without --user the backend
 * runs as a system user of its own, NAME-backend. systemd's sandbox with --hardening=strict, --dynamic-user or
 * --policy=container (a container engine needs its namespaces and /run), and where this kernel has no Landlock. */
static int plan_backend_sandbox(const new_args *a, new_plan *p) {
        int abi = landlock_abi();

        /* criu restores no Landlock domain: a restored backend would come back without it, so a checkpointed one
         * has systemd's sandbox, and its own user rather than one allocated per run */
        bool checkpoint = a->idle_action == IDLE_ACTION_CHECKPOINT;

        p->landlock = strcmp(a->hardening, "lean") == 0 && !a->dynamic_user && !policy_is_container(p) && abi > 0 &&
                      !checkpoint;
        if ((p->landlock || checkpoint) && p->dynamic_user) {
                p->dynamic_user = false;
                p->own_user = true;
        }
        if (!p->landlock && strcmp(a->hardening, "lean") == 0 && abi <= 0 && !policy_is_container(p))
                printf("Note: this kernel has no Landlock: systemd's sandbox confines the backend's files instead "
                       "(a mount namespace at every cold start)\n");
        return 0;
}

static int validate_launch_user(const new_args *a, new_plan *p) {
        p->launch_user = launch_user(a, p);
        return launch_user_check(p->launch_user, a->user);
}

static int validate_policy(const new_args *a, new_plan *p) {
        int r = check_policy(a->policy, &p->policy);

        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory");
        if (r >= 0)
                return 0;
        if (strchr(a->policy, '/'))
                log_error("invalid --policy '%s': %s", a->policy, r == -EBADFD ? "not a readable regular file" : strerror(-r));
        else
                log_error("invalid --policy '%s': use default, strict, container, none, a policy installed in %s or a path",
                          a->policy, policy_dir());
        return -ECTL_BAD_POLICY;
}

/* --idle-action=checkpoint runs criu from the supervisor: it must be installed, and the kernel must have
 * CONFIG_CHECKPOINT_RESTORE (which is what makes /proc/PID/map_files). A user allocated for each run
 * (DynamicUser=) could not own a restored backend: its uid may be another's by then. */
static int validate_checkpoint(const new_args *a) {
        static const char *const dirs[] = { "/usr/sbin/criu", "/sbin/criu", "/usr/local/sbin/criu", "/usr/bin/criu" };
        bool found = false;

        if (a->idle_action != IDLE_ACTION_CHECKPOINT)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(dirs) && !found; i++)
                found = access(dirs[i], X_OK) == 0;
        if (!found)
                return usage_fail("--idle-action=checkpoint needs criu, which is not installed (apt install criu; "
                                  "Debian 13's criu 4.1, or the one built for this kernel)");
        if (access("/proc/self/map_files", F_OK) < 0)
                return usage_fail("--idle-action=checkpoint: this kernel was built without CONFIG_CHECKPOINT_RESTORE, "
                                  "which criu needs: use --idle-action=stop or freeze");
        if (a->dynamic_user)
                return usage_fail("--idle-action=checkpoint and --dynamic-user exclude each other: a restored backend "
                                  "keeps its uid, which a later run may have given to another unit");
        return 0;
}

/* Each step: 0, or the error after saying why (mostly usage_fail()'s -EINVAL). */
static int new_validate(const new_args *a, new_plan *p) {
        int r = validate_name(a->name);
        if (r >= 0)
                r = validate_addresses(a, p);
        if (r >= 0)
                r = validate_command(a, p);
        if (r >= 0)
                r = validate_policy(a, p);
        if (r >= 0)
                r = validate_checkpoint(a);
        if (r >= 0)
                r = validate_backend_user(a, p);
        if (r >= 0)
                r = plan_backend_sandbox(a, p);
        if (r >= 0)
                r = validate_launch_user(a, p);
        return r;
}

static int refuse_existing_units(const new_args *a, int udirfd) {
        bool exists = false;

        if (a->force)
                return 0;
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
                return 0;
        log_error("refusing to overwrite; use --force to replace the units of '%s'", a->name);
        return -ECTL_CANNOT_CREATE;
}

/* Open both directories before writing anything. */
static int open_dirs(const new_args *a, int *tdirfd, int *udirfd) {
        *tdirfd = open(template_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*tdirfd < 0)
                return log_error_errno(-errno, "cannot open template directory %s (set EMBER_TEMPLATE_DIR?)",
                                       template_dir());
        *udirfd = open(a->unit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*udirfd < 0) {
                log_error_errno(-errno, "cannot open unit directory %s", a->unit_dir);
                return -ECTL_CANNOT_CREATE;
        }
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

/* A unix backend's socket is its user's, and the launcher (root) takes no other's: --user's uid (a unix backend
 * always names one, root included). Resolved here once, not by every launcher. */
static int backend_owner_option(const new_args *a, buf *b) {
        struct passwd *pw = a->user ? user_lookup(a->user) : NULL;
        char uid[24];

        if (a->user && !pw)
                return -ENOENT;
        snprintf(uid, sizeof(uid), "%u", pw ? (unsigned) pw->pw_uid : 0U);
        return exec_option(b, "backend-owner", uid);
}

/* ember-launch --app --backend --start-on --start-timeout [--idle-timeout] [--backend-owner] ... */
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
        if (r >= 0 && strcmp(a->relay, "kernel") == 0)
                r = exec_option(b, "relay", a->relay);
        if (r >= 0 && p->backend_a.sa.sa_family == AF_UNIX)
                r = backend_owner_option(a, b);
        return r;
}

static const char *own_user_name(const new_args *a, char *out, size_t n) {
        snprintf(out, n, "%s-backend", a->name);
        return out;
}

/* The directory of a unix --backend path, which the backend binds; "" for an abstract one. */
static const char *unix_backend_dir(const new_plan *p, char *dir, size_t n) {
        char *slash;

        dir[0] = '\0';
        if (p->backend_a.sa.sa_family != AF_UNIX || p->backend[0] != '/')
                return dir;
        snprintf(dir, n, "%s", p->backend);
        slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else
                *slash = '\0';
        return dir;
}

/* --landlock and what the backend may write besides /tmp and /var/tmp (ember-sandbox(8)): --rw-path=, the
 * --state-dir=, a unix backend's directory. In place of the unit's ReadWritePaths=, which would cost a mount
 * namespace. */
static int landlock_args(const new_args *a, const new_plan *p, buf *b) {
        char dir[sizeof(p->backend)];
        int r = buf_puts(b, " --landlock");

        for (size_t i = 0; r >= 0 && i < a->n_rw_paths; i++)
                r = exec_option(b, "rw-path", a->rw_paths[i]);
        if (r >= 0) {
                char path[PATH_MAX];
                r = exec_option(b, "state-dir", app_state_path(a, path, sizeof(path)));
        }
        if (r >= 0 && *unix_backend_dir(p, dir, sizeof(dir)))
                r = exec_option(b, "rw-path", dir);
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
        if (r >= 0 && (p->dynamic_user || p->own_user)) {
                char own[APP_NAME_MAX + 16];
                r = exec_option(b, "user", own_user_name(a, own, sizeof(own)));
        }
        if (r >= 0 && p->landlock)
                r = landlock_args(a, p, b);
        if (r >= 0)
                r = exec_option(b, "start-timeout", start);
        if (r >= 0)
                r = exec_option(b, "stop-timeout", stop);
        if (r >= 0 && strcmp(a->relay, "kernel") == 0)
                r = exec_option(b, "relay", a->relay);
        if (r >= 0 && a->idle_action != IDLE_ACTION_STOP)
                r = exec_option(b, "idle-action", idle_action_to_string(a->idle_action));
        if (r >= 0 && a->freeze_for != USEC_INFINITY) {
                char freeze_for[32];
                format_duration(a->freeze_for, freeze_for, sizeof(freeze_for));
                r = exec_option(b, "freeze-for", freeze_for);
        }
        if (r >= 0)
                r = exec_option(b, "launch-user", p->launch_user);
        return r;
}

static int command_line(const new_args *a, const new_plan *p, buf *b) {
        int r = exec_quote(b, p->command0);
        for (int i = 1; r >= 0 && i < a->command_argc; i++)
                if ((r = buf_putc(b, ' ')) >= 0)
                        r = exec_quote(b, a->command[i]);
        return r;
}

static int setting_line(buf *b, const char *key, const char *value) {
        int r = buf_puts(b, key);
        if (r >= 0)
                r = unit_escape_specifiers(b, value);
        if (r >= 0)
                r = buf_putc(b, '\n');
        return r;
}

/* Every app gets a directory to write in, kept across runs, with no flag to learn: /var/lib/ember/NAME (or
 * --state-dir's), as $STATE_DIRECTORY. Under ember/, not /var/lib/NAME: an app named after a package (redis,
 * postgresql) must not take over, and with DynamicUser= chown, that package's directory. */
const char *app_state_dir(const new_args *a, char *out, size_t size) {
        if (a->state_dir)
                return a->state_dir;
        snprintf(out, size, "ember/%s", a->name);
        return out;
}

/* Its absolute path, /var/lib/ and app_state_dir(), in OUT. */
const char *app_state_path(const new_args *a, char *out, size_t size) {
        char dir[APP_NAME_MAX + 16];

        snprintf(out, size, "/var/lib/%s", app_state_dir(a, dir, sizeof(dir)));
        return out;
}

/* The state directory under systemd's sandbox (under Landlock ember-sandbox --state-dir makes it, landlock_args()):
 * StateDirectory= for a user systemd allocates; for a --user, a privileged ExecStartPre= that makes /var/lib/DIR that
 * user's (StateDirectory= in this unit, which runs as root, would chown the whole tree back to root at every start),
 * ReadWritePaths= and the $STATE_DIRECTORY StateDirectory= would have set. */
static int state_dir_settings(const new_args *a, const new_plan *p, buf *b) {
        char dflt[APP_NAME_MAX + 16];
        const char *dir = app_state_dir(a, dflt, sizeof(dflt));
        struct passwd *pw;
        int r;

        if (p->landlock)
                return 0;
        if (!a->user)
                return setting_line(b, "StateDirectory=", dir);
        pw = user_lookup(a->user);
        if (!pw)
                return -ENOENT;
        r = buf_printf(b, "ExecStartPre=+/usr/bin/install -d -o %u -g %u -m 0750 ", (unsigned) pw->pw_uid,
                       (unsigned) pw->pw_gid);
        if (r >= 0)
                r = setting_line(b, "/var/lib/", dir);
        if (r >= 0)
                r = setting_line(b, "ReadWritePaths=-/var/lib/", dir); /* "-": made by then */
        if (r >= 0)
                r = setting_line(b, "Environment=STATE_DIRECTORY=/var/lib/", dir);
        return r;
}

/* Under systemd's sandbox, what the backend may write besides the state directory: --rw-path= (ReadWritePaths=)
 * and the directory of a unix --backend path, which the backend binds (ReadWritePaths=-DIR, "-": it may not exist
 * yet; under /tmp PrivateTmp= would hide the socket from the launchers, so it is off then). */
static int unit_writable(const new_args *a, const new_plan *p, buf *b) {
        char dir[sizeof(p->backend)];
        bool run_dir = false;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < a->n_rw_paths; i++)
                r = setting_line(b, "ReadWritePaths=", a->rw_paths[i]);
        if (r >= 0 && *unix_backend_dir(p, dir, sizeof(dir))) {
                r = setting_line(b, "ReadWritePaths=-", dir);
                run_dir = strcmp(dir, "/run") == 0;
                if (r >= 0 && (strncmp(dir, "/tmp", 4) == 0 && (dir[4] == '\0' || dir[4] == '/')))
                        r = buf_puts(b, "PrivateTmp=no\n");
                if (r >= 0 && (strncmp(dir, "/var/tmp", 8) == 0 && (dir[8] == '\0' || dir[8] == '/')))
                        r = buf_puts(b, "PrivateTmp=no\n");
        }
        /* /run too (systemd 252 left it writable under ProtectSystem=strict, seen in tests/system/security.sh): a root
         * backend could drop units into /run/systemd/system. Not when the backend's socket is right in /run, nor for
         * a container engine, whose state is there. (Under Landlock /run is read-only but for --rw-path.) */
        if (r >= 0 && !run_dir && !policy_is_container(p))
                r = buf_puts(b, "ReadOnlyPaths=/run\n");
        return r;
}

static int backend_writable(const new_args *a, const new_plan *p, buf *b) {
        int r = p->landlock ? 0 : unit_writable(a, p, b);

        if (r >= 0)
                r = state_dir_settings(a, p, b);
        return r;
}

/* A root backend (--user=root) is kept from the sockets through which root asks the system for more than its unit
 * allows: PID 1's private one (systemd-run, StartTransientUnit: issue 24), the system bus (the same, and every
 * root-only service there) and journald's control socket (rotate, flush, relinquish); its logs still go to the journal
 * (stdout, /dev/log, the native socket). Each is hidden by a bind mount in the unit's namespace, which a backend
 * without CAP_SYS_ADMIN cannot undo; a non-root backend meets the sockets' own checks instead (0600 root's, the bus's
 * peer credentials: tests/system/backend-pid1.sh). Not for --policy=container: its engine keeps CAP_SYS_ADMIN and the
 * mount calls, with which no mount hides anything, and a root container engine talks to systemd by design. Only then,
 * so the default unit does not change. */
static int backend_root_hidden(const new_args *a, const new_plan *p, buf *b) {
        struct passwd *pw = a->user ? user_lookup(a->user) : NULL;

        if (!pw || pw->pw_uid != 0 || policy_is_container(p))
                return 0;
        return buf_puts(b, "InaccessiblePaths=-/run/systemd/private -/run/dbus/system_bus_socket "
                           "-/run/systemd/journal/io.systemd.journal\n");
}

/* Environment="K=V" (quoted, '\\' and '"' escaped, '%' doubled; no '$' expansion happens in Environment=),
 * EnvironmentFile=, WorkingDirectory=: the backend inherits them from its supervisor. */
static int backend_settings(const new_args *a, const new_plan *p, buf *b) {
        int r = p->dynamic_user ? buf_puts(b, "DynamicUser=yes\n") : 0;

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
        if (r >= 0)
                r = backend_writable(a, p, b);
        if (r >= 0)
                r = backend_root_hidden(a, p, b);
        /* merged with the bounding set above: what loading the relay's BPF program and socket maps takes */
        if (r >= 0 && strcmp(a->relay, "kernel") == 0)
                r = buf_puts(b, "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN\n");
        /* the supervisor puts the backend in a cgroup of its own under the unit's to freeze it (cgroup v2; SIGSTOP
         * elsewhere): the unit's cgroup is then its to manage */
        /* criu, run by the supervisor: ptrace the backend (of another uid), suspend its seccomp filter while the
         * parasite runs (PTRACE_O_SUSPEND_SECCOMP: CAP_SYS_ADMIN), restore its pid, creds and sockets; and the
         * checkpoint's directory, root's (0700) */
        if (r >= 0 && a->idle_action == IDLE_ACTION_CHECKPOINT)
                r = buf_puts(b, "# --idle-action=checkpoint: what criu needs (ember-sandbox(8), CHECKPOINT): its kernel\n"
                                "# feature probes make namespaces and open /dev/net/tun (the backend's own seccomp policy\n"
                                "# still keeps it from making namespaces); the restored backend's clocks go on from where\n"
                                "# they were in a time namespace criu makes at each restore (its offsets: CAP_SYS_TIME)\n"
                                "CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_NET_ADMIN "
                                "CAP_SETPCAP CAP_SYS_CHROOT CAP_SYS_TIME\n"
                                "RestrictNamespaces=no\nPrivateDevices=no\n"
                                "# criu may suspend the backend's seccomp filter only if it has none itself (the\n"
                                "# kernel's rule for PTRACE_O_SUSPEND_SECCOMP): none of systemd's filters here; the\n"
                                "# backend keeps ember's own. Restoring a pid writes /proc/sys/kernel/ns_last_pid.\n"
                                "SystemCallArchitectures=\nRestrictAddressFamilies=\nLockPersonality=no\n"
                                "RestrictRealtime=no\nRestrictSUIDSGID=no\nProtectClock=no\nProtectKernelModules=no\n"
                                "ProtectKernelLogs=no\nProtectHostname=no\n"
                                "ReadOnlyPaths=\nReadOnlyPaths=/sys -/proc/sysrq-trigger -/proc/irq\n");
        /* (apart: buf_printf() takes at most 1 KiB, and the block above is longer) */
        if (r >= 0 && a->idle_action == IDLE_ACTION_CHECKPOINT)
                r = buf_printf(b, "StateDirectory=ember/%s\nStateDirectoryMode=0700\n", a->name);
        if (r >= 0 && a->idle_action == IDLE_ACTION_FREEZE)
                r = buf_puts(b, "# --idle-action=freeze: the backend gets a cgroup of its own to be frozen in\n"
                                "Delegate=yes\n");
        if (r >= 0 && b->len == 0)
                r = buf_puts(b, "# (none: emberctl new --rw-path=, --state-dir=, --env=, --env-file=, --working-directory=, "
                                "or a drop-in)\n");
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

/* The one IP address a launcher may talk to (IPAddressAllow= of the per-connection unit): the backend's, or none
 * for a unix backend. The client's connection is not filtered: PID 1 accepted it, outside the instance's cgroup. */
static const char *backend_ip(const new_plan *p, char *out, size_t n) {
        const void *src = p->backend_a.sa.sa_family == AF_INET ? (const void *) &p->backend_a.in.sin_addr :
                          p->backend_a.sa.sa_family == AF_INET6 ? (const void *) &p->backend_a.in6.sin6_addr : NULL;
        if (!src || !inet_ntop(p->backend_a.sa.sa_family, src, out, (socklen_t) n))
                out[0] = '\0';
        return out;
}

/* A cold start: PID 1 starts the backend in the same transaction as the instance, so that it spawns the supervisor
 * while the launcher is still starting, instead of once the launcher's connect to wake.sock triggers it (~7 ms here,
 * and the two spawns overlap). Warm, the backend is active and the job is a no-op. Not where the launcher decides
 * whether to wake it at all: --start-on=data (the client's first byte) and --accept-proxy-protocol (a health check's
 * LOCAL header, a malformed one). No After=: the launcher waits on wake.sock. */
static const char *wants_backend(const new_args *a, char *out, size_t n) {
        if (strcmp(a->start_on, "data") == 0)
                snprintf(out, n, "# (--start-on=data: the launcher wakes the backend when the client's first byte comes)");
        else if (a->accept_proxy_protocol)
                snprintf(out, n, "# (--accept-proxy-protocol: the launcher wakes the backend once the PROXY header is read: "
                         "a health check or a bad header wakes nothing)");
        else
                snprintf(out, n, "# A cold start begins the backend at once, beside the launcher (a no-op when it is active)\n"
                         "Wants=%s-backend.service", a->name);
        return out;
}

/* A --rw-path under /dev opens a device node to the backend's Landlock: PID 1's device policy must not close it. */
static bool opens_devices(const new_args *a) {
        for (size_t i = 0; i < a->n_rw_paths; i++)
                if (strncmp(a->rw_paths[i], "/dev/", 5) == 0 || strcmp(a->rw_paths[i], "/dev") == 0)
                        return true;
        return false;
}

/* The backend's Landlock allows no device node but the pseudo ones; PID 1's device policy says the same where
 * systemd-analyze security sees it: a cgroup attribute, not a filter, measured at no cost per connection
 * (bench/README.md, "unit settings"). Not where the backend needs devices: a --rw-path under /dev, a container engine
 * (/dev/fuse, /dev/net/tun), criu (--idle-action=checkpoint probes /dev/net/tun). */
static int backend_device_policy(const new_args *a, const new_plan *p, buf *b) {
        if (opens_devices(a) || policy_is_container(p) || a->idle_action == IDLE_ACTION_CHECKPOINT)
                return buf_puts(b, "# (devices opened to the backend: no device policy from PID 1)\n");
        return buf_puts(b, "DevicePolicy=closed\n");
}

/* LAUNCH_USER, LAUNCH_GROUP and the mode of wake.sock, which only root and the launchers may connect to. */
static int add_launch_user(new_plan *p) {
        const char *user = p->launch_user;
        char group[64];
        int r = add_subst(p, "LAUNCH_USER", user);

        if (r >= 0)
                r = add_subst(p, "LAUNCH_GROUP", launch_group(user, group, sizeof(group)));
        if (r >= 0)
                r = add_subst(p, "WAKE_SOCKET_MODE", strcmp(user, "root") == 0 ? "0600" : "0660");
        return r;
}

/* The substitutions, each escaped for the place the templates use it. */
static int build_substitutions(const new_args *a, new_plan *p) {
        char idle[32], tstart[32], tstop[32], maxc[24], ip[INET6_ADDRSTRLEN], wants[APP_NAME_MAX + 320];
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
        /* "!": with DynamicUser= the supervisor keeps root, and drops the backend to the allocated user itself */
        if (r >= 0)
                r = add_subst_escaped(p, "SANDBOX", p->dynamic_user ? "!" LIBEXECDIR "/ember-sandbox" : LIBEXECDIR "/ember-sandbox");
        if (r >= 0)
                r = add_launch_user(p);
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
                r = add_subst(p, "BACKEND_IP", backend_ip(p, ip, sizeof(ip)));
        if (r >= 0)
                r = add_subst(p, "WANTS_BACKEND", wants_backend(a, wants, sizeof(wants)));
        if (r >= 0)
                r = add_subst_from(p, "BACKEND_DEVICE_POLICY", backend_device_policy, a);
        if (r >= 0)
                r = add_subst_from(p, "LAUNCH_ARGS", launch_args, a);
        if (r >= 0)
                r = add_subst_from(p, "SANDBOX_ARGS", sandbox_args, a);
        if (r >= 0)
                r = add_subst_from(p, "COMMAND", command_line, a);
        if (r >= 0)
                r = add_subst_from(p, "BACKEND_SETTINGS", backend_settings, a);
        if (r < 0)
                return log_error_errno(r, "cannot prepare the units");
        return 0;
}

/* A template file that is no template (not a regular file, too big, NUL bytes) is bad data, not a system error. */
static int template_read_error(int r, const char *file) {
        log_error_errno(r, "cannot read template %s/%s", template_dir(), file);
        return r == -EBADMSG || r == -EFBIG || r == -EBADFD ? -ECTL_BAD_TEMPLATE : r;
}

static int render_template(int tdirfd, const char *file, const new_plan *p, buf *out) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(tdirfd, file, &text);

        if (r < 0)
                return template_read_error(r, file);
        r = render(file, text, p->substs, p->n_substs, out);
        if (r == -EBADMSG)
                return -ECTL_BAD_TEMPLATE; /* render() said FILE:LINE */
        if (r < 0)
                return log_error_errno(r, "cannot render template %s", file);
        return 0;
}

/* FILE, a fragment template rendered with the same values, becomes KEY's value (FILE NULL: KEY is empty). */
static int render_fragment(int tdirfd, const char *file, const char *key, new_plan *p) {
        buf b = {};
        int r = file ? render_template(tdirfd, file, p, &b) : 0;

        if (r >= 0 && add_subst_buf(p, key, &b) < 0)
                r = log_error_errno(-ENOMEM, "cannot prepare the units");
        buf_done(&b);
        return r;
}

/* The per-connection unit's hardening block and the container policy's changes to the backend unit's sandbox are
 * templates of their own; then all units, so that a broken template writes nothing. */
static int render_units(const new_args *a, int tdirfd, new_plan *p) {
        char file[64];
        int r;

        snprintf(file, sizeof(file), "hardening-%s.conf", a->hardening);
        r = render_fragment(tdirfd, file, "HARDENING", p);
        if (r >= 0)
                r = render_fragment(tdirfd, p->landlock ? "backend-lean.conf" : "backend-strict.conf", "BACKEND_HARDENING", p);
        if (r >= 0)
                r = render_fragment(tdirfd, policy_is_container(p) ? "backend-container.conf" : NULL, "POLICY_SANDBOX", p);
        for (size_t i = 0; r >= 0 && i < N_UNITS; i++)
                r = render_template(tdirfd, unit_templates[i], p, &p->rendered[i]);
        return r;
}

/* A unit directory that takes no new file, or no file atomically without replacing another (renameat2()'s
 * RENAME_NOREPLACE: EINVAL where the file system lacks it), cannot hold the units: -ECTL_CANNOT_CREATE. */
static int write_units(const new_args *a, int udirfd, const new_plan *p) {
        for (size_t i = 0; i < N_UNITS; i++) {
                char u[NAME_MAX + 1];
                int r;

                unit_name(unit_templates[i], a->name, u, sizeof(u));
                r = write_atomic(udirfd, u, &p->rendered[i], a->force);
                if (r < 0) {
                        log_error_errno(r, "cannot write %s/%s", a->unit_dir, u);
                        return r == -EEXIST || r == -EACCES || r == -EPERM || r == -EROFS || r == -EINVAL ?
                                       -ECTL_CANNOT_CREATE : r;
                }
                printf("Wrote %s/%s\n", a->unit_dir, u);
        }
        return 0;
}

/* What a container engine leaves after a SIGKILL of the unit, and the drop-in that removes it. docker runs the
 * container under dockerd, outside the backend unit: it keeps the backend's address, and the next supervisor refuses
 * to start beside it, so it is removed before each start (tests/system/docker.sh). podman's container dies with the
 * unit (--cgroups=disabled), but its record stays "running" with conmon dead, and podman before 5.6 fails the first
 * removal of such a record (podman issue 26640): left to the next start's `run --replace`, that failure is a failed
 * cold start. Removed when the unit stops, the failure costs no connection, and it leaves the record stopped, which
 * --replace then removes (tests/system/podman.sh). */
static void print_container_hint(const new_args *a, const new_plan *p) {
        const char *slash = strrchr(p->command0, '/'), *engine = slash ? slash + 1 : p->command0;

        if (!policy_is_container(p))
                return;
        if (strcmp(engine, "docker") == 0)
                printf("docker runs the container outside %s-backend.service: so that one left over after a SIGKILL of "
                       "the unit cannot block the next start, name it (--name=ember-%s) and add\n"
                       "  ExecStartPre=-%s rm --force ember-%s\n"
                       "in a drop-in (systemctl edit %s-backend.service); see ember.policy(5).\n",
                       a->name, a->name, p->command0, a->name, a->name);
        else if (strcmp(engine, "podman") == 0)
                printf("So that a container podman still records after a SIGKILL of %s-backend.service costs the next "
                       "start nothing, name it (--replace --name=ember-%s) and add\n"
                       "  ExecStopPost=-%s rm --force --time 0 --ignore ember-%s\n"
                       "in a drop-in (systemctl edit %s-backend.service); see ember.policy(5).\n",
                       a->name, a->name, p->command0, a->name, a->name);
}

/* The app against the backend unit just rendered and, under Landlock, what ember-sandbox will let it write. */
static int check_app(const new_args *a, const new_plan *p) {
        char own[APP_NAME_MAX + 16], state[PATH_MAX], dir[sizeof(p->backend)];
        app_sandbox sb = {
                .executable = p->command0,
                .user = a->user ? a->user : own_user_name(a, own, sizeof(own)),
                .dynamic_user = p->dynamic_user,
                .landlock = p->landlock,
        };

        for (size_t i = 0; i < a->n_rw_paths; i++)
                sb.writable[sb.n_writable++] = a->rw_paths[i];
        sb.writable[sb.n_writable++] = app_state_path(a, state, sizeof(state));
        if (*unix_backend_dir(p, dir, sizeof(dir)))
                sb.writable[sb.n_writable++] = dir;
        return app_check(a, &sb, p->rendered[BACKEND_UNIT].data);
}

static void print_next_steps(const new_args *a, const new_plan *p) {
        char idle[32], dflt[APP_NAME_MAX + 16];

        format_duration(a->idle, idle, sizeof(idle));
        printf("App '%s': clients connect to %s%s, backend %s on %s (idle %s, policy %s, user %s%s).\n", a->name,
               p->listen, p->listen_a.port_only ? " (all addresses)" : "", p->command0, p->backend, idle, p->policy,
               a->user ? a->user : a->name, a->user ? "" : p->own_user ? "-backend, a system user of its own" :
                                                      "-backend, allocated by systemd for each run");
        if (a->user && strcmp(a->user, "root") == 0)
                fprintf(stderr, "Warning: the backend runs as root (--user=root)%s: %s. Drop --user to run it as a "
                        "user of its own.\n", p->backend_a.sa.sa_family == AF_UNIX ? ", and so do its launchers" : "",
                        policy_is_container(p) ? "if it is compromised, it can ask PID 1 for anything" :
                        "its unit keeps it from PID 1's, the system bus's and journald's control sockets, but if it is "
                        "compromised, it has root's rights over everything else it can reach");
        printf("It may write in its state directory /var/lib/%s ($STATE_DIRECTORY; kept across runs and by emberctl "
               "rm) and %s; everything else is read-only to it (--rw-path=PATH adds one)%s.\n",
               app_state_dir(a, dflt, sizeof(dflt)), p->landlock ? "/tmp, /var/tmp" : "a private /tmp",
               a->user ? "" : "; --user=USER runs it as an existing user");
        if (!a->now)
                printf("Next:\n  systemctl daemon-reload\n  systemctl enable --now %s.socket\n", a->name);
        printf("Settings of your own go in drop-ins (systemctl edit %s-backend.service): they survive new --force.\n",
               a->name);
        print_container_hint(a, p);
        if (strcmp(a->relay, "kernel") == 0)
                printf("--relay=kernel is experimental: bulk transfers were slower than with splice, and round trips "
                       "not reliably faster; see ember-sandbox(8).\n");
}

static int write_sysusers_file(const char *conf, const buf *b) {
        _cleanup_close_ int dirfd = -1;

        if (mkdir(SYSUSERS_ETC_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        dirfd = open(SYSUSERS_ETC_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        return write_atomic(dirfd, strrchr(conf, '/') + 1, b, true);
}

/* The backend's own system user, NAME-backend: a sysusers.d file of the app's, applied at once (and at every boot, as
 * systemd-sysusers does). Only for the units systemd reads (the default --unit-dir), as root; otherwise said. */
static int own_user_ensure(const new_args *a, const new_plan *p) {
        char own[APP_NAME_MAX + 16], conf[PATH_MAX], line[256];
        buf b = {};
        int r;

        if (!p->own_user)
                return 0;
        own_user_name(a, own, sizeof(own));
        snprintf(conf, sizeof(conf), "%s/ember-%s.conf", SYSUSERS_ETC_DIR, a->name);
        if (geteuid() != 0 || strcmp(a->unit_dir, UNIT_DIR_DEFAULT) != 0) {
                if (!user_lookup(own))
                        printf("Note: the backend's user %s does not exist; as root, emberctl new makes it (%s) when it "
                               "writes the units to %s\n", own, conf, UNIT_DIR_DEFAULT);
                return 0;
        }
        snprintf(line, sizeof(line), "# emberctl new %s: the backend's own user (emberctl rm removes this file, not the "
                 "user)\nu %s - \"ember backend of %s\" /\n", a->name, own, a->name);
        r = buf_puts(&b, line);
        if (r >= 0)
                r = write_sysusers_file(conf, &b);
        buf_done(&b);
        if (r >= 0)
                r = sysusers_apply(conf);
        if (r >= 0 && !user_lookup(own))
                r = -ESRCH;
        if (r < 0) {
                log_error_errno(r, "cannot make the backend's user %s (systemd-sysusers %s)", own, conf);
                return -ECTL_CANNOT_CREATE;
        }
        return 0;
}

/* --now: what the two printed commands would do, over the bus. */
static int enable_now(const new_args *a) {
        char unit[APP_NAME_MAX + 16];
        const char *result = NULL;
        sd_bus *bus = NULL;
        int r;

        snprintf(unit, sizeof(unit), "%s.socket", a->name);
        if (bus_open(&bus) < 0)
                return -ECTL_UNAVAILABLE; /* said */
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
        return r >= 0 ? 0 : -ECTL_UNAVAILABLE; /* said, by bus.c or above */
}

int verb_new(int argc, char *argv[]) {
        _cleanup_close_ int tdirfd = -1, udirfd = -1;
        new_plan p = {};
        new_args a;
        int r;

        r = new_parse(argc, argv, &a);
        if (r <= 0)
                return r;
        r = new_validate(&a, &p);
        if (r >= 0)
                r = open_dirs(&a, &tdirfd, &udirfd);
        if (r >= 0) {
                launch_user_ensure(p.launch_user);
                r = own_user_ensure(&a, &p);
        }
        if (r >= 0)
                r = build_substitutions(&a, &p);
        if (r >= 0)
                r = render_units(&a, tdirfd, &p);
        if (r >= 0)
                r = check_app(&a, &p);
        if (r >= 0)
                r = write_units(&a, udirfd, &p);
        if (r >= 0)
                launch_user_prepare(a.name, p.launch_user);
        if (r >= 0 && a.now)
                r = enable_now(&a);
        if (r >= 0)
                print_next_steps(&a, &p);
        new_plan_done(&p);
        return r;
}
