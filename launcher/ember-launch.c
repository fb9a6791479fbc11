/* ember-launch: one per client connection. Joins the app's refcount, reuses the warm backend or wakes it,
 * relays the bytes, and leaves; the last one out starts the idle clock. See ember-launch(8). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "macro.h"
#include "usage.h"
#include "parse.h"
#include "relay.h"
#include "state.h"
#include "timeutil.h"
#include "session.h"
#include "lockdown.h"
#include "client.h"
#include "kernel-relay.h"

static const char *arg_app;
static ember_addr arg_backend;
static uint64_t arg_start_timeout = 30 * USEC_PER_SEC;
static uint64_t arg_idle_timeout = USEC_INFINITY;
static bool arg_start_on_data;
static bool arg_confine = true;
static char **arg_command;
static int arg_proxy_version;  /* --proxy-protocol=v1|v2: 1 or 2; 0: none */
static bool arg_accept_proxy;  /* --accept-proxy-protocol */
static bool arg_relay_kernel;  /* --relay=kernel (refused as it is parsed where not built in) */
static uid_t arg_backend_owner = (uid_t) -1; /* --backend-owner=UID; unset: our own euid */

/* how long an upstream balancer may take to send its PROXY header, from the launcher's start */
#define PROXY_HEADER_TIMEOUT_USEC (3 * USEC_PER_SEC)

static volatile sig_atomic_t terminating;

/* --relay in --help: the in-kernel relay is experimental and built only on request */
#if ENABLE_KERNEL_RELAY
#define HELP_RELAY \
        "  --relay=splice|kernel  relay with splice (default), or in the kernel where the supervisor offers\n" \
        "                         it (ember-sandbox --relay=kernel; TCP on both sides), else splice\n" \
        "                         (experimental)\n"
#else
#define HELP_RELAY \
        "  --relay=splice         relay with splice (the experimental in-kernel relay, --relay=kernel, is\n" \
        "                         not in this build: ./configure --enable-kernel-relay)\n"
#endif

static void help(FILE *f) {
        fprintf(f,
                "Usage: ember-launch --app=NAME --backend=ADDR [OPTIONS] [-- COMMAND [ARG...]]\n"
                "Relay one client connection (fd 3 from systemd, or fd 0 from inetd) to the app's backend,\n"
                "waking the backend first if it is cold.\n\n"
                "  --app=NAME             application name, [A-Za-z0-9_.-]+\n"
                "  --backend=ADDR         HOST:PORT, [V6]:PORT, PORT or /unix/path of the backend\n"
                "  --start-timeout=DUR    how long to wait for a cold backend (default 30s)\n"
                "  --start-on=connect|data  wake on connect (default) or on the client's first byte\n"
                "  --idle-timeout=DUR     close the connection after DUR without traffic (default infinity)\n"
                "  --proxy-protocol=v1|v2 tell the backend the client's address in a PROXY header first\n"
                "  --accept-proxy-protocol  expect a PROXY v1 or v2 header from an upstream balancer first\n"
                HELP_RELAY
                "  --backend-owner=UID    a unix backend's socket must be this uid's (default: the launcher's own)\n"
                "  --no-confine           skip the built-in seccomp and Landlock confinement (debugging)\n"
                "  -h, --help             show this help\n"
                "With COMMAND (inetd mode) a cold backend is started by running COMMAND detached;\n"
                "without it the backend is woken through $EMBER_RUNTIME_DIR/NAME/wake.sock.\n");
}

/* What the options say together, and the optional COMMAND after "--". */
static int check_argv(int argc, char *argv[], bool have_backend) {
        if (!arg_app)
                return usage_error("%s", "--app=NAME is required");
        if (!have_backend)
                return usage_error("%s", "--backend=ADDR is required");
        if (optind < argc) {
                if (strcmp(argv[optind - 1], "--") != 0)
                        return usage_error("unexpected argument '%s' (put the backend command after --)", argv[optind]);
                arg_command = argv + optind;
        } else if (optind > 0 && strcmp(argv[optind - 1], "--") == 0)
                return usage_error("%s", "'--' must be followed by a COMMAND");
        return 1;
}

enum { ARG_START_ON = USAGE_ARG_OWN, ARG_IDLE_TIMEOUT, ARG_NO_CONFINE, ARG_PROXY_PROTOCOL, ARG_ACCEPT_PROXY_PROTOCOL,
       ARG_RELAY, ARG_BACKEND_OWNER };

/* A numeric uid only: no user database on the per-connection path (emberctl new resolves --user once). */
static int parse_backend_owner(const char *arg) {
        uint64_t v;

        if (parse_uint64(arg, &v) < 0 || v >= (uid_t) -1)
                return usage_error("invalid --backend-owner '%s': a numeric uid", arg);
        arg_backend_owner = (uid_t) v;
        return 0;
}

/* One of ember-launch's own options: 0 or usage_error()'s -EINVAL. */
static int parse_option(int c, const char *arg) {
        switch (c) {
        case ARG_IDLE_TIMEOUT:
                return usage_parse_duration("idle-timeout", arg, false, &arg_idle_timeout);
        case ARG_START_ON:
                if (strcmp(arg, "connect") != 0 && strcmp(arg, "data") != 0)
                        return usage_error("invalid --start-on '%s': use connect or data", arg);
                arg_start_on_data = strcmp(arg, "data") == 0;
                return 0;
        case ARG_NO_CONFINE:
                arg_confine = false;
                return 0;
        case ARG_PROXY_PROTOCOL:
                if (strcmp(arg, "v1") != 0 && strcmp(arg, "v2") != 0)
                        return usage_error("invalid --proxy-protocol '%s': use v1 or v2", arg);
                arg_proxy_version = arg[1] - '0';
                return 0;
        case ARG_ACCEPT_PROXY_PROTOCOL:
                arg_accept_proxy = true;
                return 0;
        case ARG_RELAY:
                return usage_parse_relay(arg, &arg_relay_kernel);
        case ARG_BACKEND_OWNER:
                return parse_backend_owner(arg);
        }
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "app", required_argument, NULL, USAGE_ARG_APP },
                { "backend", required_argument, NULL, USAGE_ARG_BACKEND },
                { "start-timeout", required_argument, NULL, USAGE_ARG_START_TIMEOUT },
                { "start-on", required_argument, NULL, ARG_START_ON },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "no-confine", no_argument, NULL, ARG_NO_CONFINE },
                { "proxy-protocol", required_argument, NULL, ARG_PROXY_PROTOCOL },
                { "accept-proxy-protocol", no_argument, NULL, ARG_ACCEPT_PROXY_PROTOCOL },
                { "relay", required_argument, NULL, ARG_RELAY },
                { "backend-owner", required_argument, NULL, ARG_BACKEND_OWNER },
                {}
        };
        bool have_backend = false;
        const usage_options u = { help, parse_option, &arg_app, &arg_backend, &have_backend, &arg_start_timeout };
        int r = usage_parse_options(argc, argv, options, &u);

        return r <= 0 ? r : check_argv(argc, argv, have_backend);
}

static bool fd_is_stream_socket(int fd) {
        int type;
        socklen_t len = sizeof(type);
        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Accept=yes hands the connection over as fd 3 with LISTEN_FDS=1, or as fd 0 with StandardInput=socket/inetd. */
static int client_fd(void) {
        int n = listen_fds_take(NULL, 0);

        if (n < 0 || n > 1)
                return -EBADF;
        if (n == 1) {
                if (!fd_is_stream_socket(LISTEN_FDS_START))
                        return -ENOTSOCK;
                (void) fcntl(LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
                return LISTEN_FDS_START;
        }
        if (fd_is_stream_socket(STDIN_FILENO))
                return STDIN_FILENO;
        return -ENOTSOCK;
}

/* --start-on=data: a client that connects and closes without a byte costs nothing. */
static int wait_first_byte(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        uint64_t deadline = deadline_in(arg_idle_timeout);
        char c;
        int r;

        do
                r = poll(&p, 1, poll_ms_until(deadline));
        while ((r < 0 && errno == EINTR && !terminating) || (r == 0 && now_usec(CLOCK_MONOTONIC) < deadline));
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        r = (int) recv(fd, &c, 1, MSG_PEEK);
        if (r < 0 && errno == ECONNRESET)
                return 0; /* a balancer's health check often ends in a reset: nothing was asked either */
        if (r < 0)
                return -errno;
        return r; /* 0: closed before sending anything */
}

/* Once locked down the launcher can touch nothing but its state directory and the backend. Failing to is logged,
 * not fatal: the unit's own settings still apply, as systemd does on kernels without seccomp. */
static void confine(int dirfd, const ember_addr *backend) {
        if (!arg_confine)
                return;
#ifdef __SANITIZE_ADDRESS__
        /* LeakSanitizer stops the world with clone() and ptrace() at exit, which the allow-list forbids. */
        log_debug("Not confining: built with AddressSanitizer");
#else
        lockdown_result res;
        int r = lockdown_apply(dirfd, backend, &res);
        if (r < 0)
                log_warning_errno(r, "Could not confine ember-launch (seccomp %s, Landlock ABI %d)",
                                  res.seccomp ? "on" : "off", res.landlock_abi);
        else
                log_debug("Confined: seccomp allow-list, Landlock ABI %d", res.landlock_abi);
#endif
}

static void on_terminate(int sig) {
        terminating = 1;
}

/* In the kernel where asked for and offered, else with splice. */
static int relay_connection(int client, int backend) {
#if ENABLE_KERNEL_RELAY
        kernel_relay k;
        int r = 0;

        if (arg_relay_kernel) {
                relay_nodelay(client, backend);
                r = kernel_relay_begin(arg_app, client, backend, &k);
        }
        if (r > 0) {
                r = kernel_relay_wait(&k, arg_idle_timeout, &terminating);
                if (r == -EPROTO)
                        log_error_errno(r, "The in-kernel relay lost or repeated bytes of this connection; "
                                        "resetting it");
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "The supervisor did not take the connection for the in-kernel relay; "
                                       "closing it");
#endif
        return relay(client, backend, arg_idle_timeout, &terminating);
}

/* In inetd mode a cold backend is started by fork and exec, and a HOST:auto backend's port is known only once it is
 * reached: confine then. Otherwise at once, before a byte of the client's is read. */
static bool confine_early(void) {
        return !arg_command && !arg_backend.port_auto;
}

static int session_run(int dirfd, int client, const proxy_header *who) {
        _cleanup_close_ int lease = -1;
        backend_conn backend = { .fd = -1, .lease = -1 };
        int r;

        /* one deadline for everything before the relay: waiting for the lock counts against the start timeout */
        uint64_t deadline = deadline_in(arg_start_timeout);

        r = session_join(dirfd, deadline, &lease);
        if (r == -ETIMEDOUT)
                return log_error_errno(r, "The state lock of %s/%s was held by someone for longer than the start "
                                       "timeout; closing the client", runtime_dir(), arg_app);
        if (r < 0)
                return log_error_errno(r, "Failed to join the session count in %s/%s", runtime_dir(), arg_app);

        r = backend_acquire(dirfd, arg_app, &arg_backend, arg_backend_owner, arg_command, arg_start_timeout, deadline,
                            &backend);
        if (r >= 0) {
                if (!confine_early())
                        confine(dirfd, &backend.address);
                if (arg_proxy_version)
                        r = client_send_proxy_header(backend.fd, who, arg_proxy_version);
                if (r < 0)
                        log_error_errno(r, "Failed to send the PROXY header to the backend");
                else
                        r = relay_connection(client, backend.fd);
                closep(&backend.fd);
                closep(&backend.lease); /* this generation may stop now, as far as we are concerned */
                if (r == -ETIMEDOUT || r == -EINTR)
                        r = 0; /* closing an idle client, or being told to stop, is a normal end */
        }

        int q = session_leave(dirfd, take_fd(&lease));
        if (q < 0)
                log_error_errno(q, "Failed to leave the session count");
        return r;
}

/* Who the client is, for the logs (EMBER_CLIENT=) and for --proxy-protocol: under --accept-proxy-protocol what the
 * balancer's header says, read by HEADER_DEADLINE, before anything is woken. 1 to go on, 0 if the client closed
 * before a byte, -errno (said) for a bad or late header. A LOCAL header (a health check) means the connection's own
 * addresses. */
static int identify_client(int client, uint64_t header_deadline, proxy_header *who, bool *health_check) {
        char addr[160] = "unknown", f[192];
        proxy_header upstream;
        const char *why = NULL;
        int r;

        (void) client_socket_addresses(client, who);
        if (arg_accept_proxy) {
                r = client_read_proxy_header(client, header_deadline, &upstream, &why);
                if (r == 0)
                        return 0;
                (void) proxy_format_source(who, addr, sizeof(addr));
                if (r < 0)
                        return log_error_errno(r, "Invalid PROXY protocol header from %s: %s; closing the connection",
                                               addr, why ? why : "unreadable");
                if (!upstream.local)
                        *who = upstream;
                *health_check = upstream.local; /* passed on, it is the connection's own addresses */
        }
        (void) proxy_format_source(who, addr, sizeof(addr));
        snprintf(f, sizeof(f), "EMBER_CLIENT=%s", addr);
        log_set_field(f);
        return 1;
}

/* Under systemd the state directory is made by the wake socket's unit, and, for launchers that are not root, the
 * files they write by its ExecStartPost= right after: missing, it is that unit being (re)started. Wait as for a cold
 * start; for the files, only as long as making them can take. *RET_DIRFD is set only on success: a directory opened
 * and found unprepared is closed here, and the caller's own cleanup never sees its number. */
#define PREPARE_WAIT_USEC (2 * USEC_PER_SEC)
static int open_state_dir(int *ret_dirfd) {
        uint64_t deadline = deadline_in(arg_start_timeout), prepared_by = USEC_INFINITY;
        int r;

        for (;;) {
                _cleanup_close_ int dirfd = -1;

                r = state_open(arg_app, true, &dirfd);
                if (r >= 0 && !arg_command && geteuid() != 0 && !state_launchers_prepared(dirfd)) {
                        closep(&dirfd); /* not held while we wait */
                        if (prepared_by == USEC_INFINITY && (prepared_by = deadline_in(PREPARE_WAIT_USEC)) < deadline)
                                deadline = prepared_by;
                        r = -EAGAIN;
                }
                if (r >= 0) {
                        *ret_dirfd = take_fd(&dirfd);
                        return 0;
                }
                if (arg_command || (r != -ENOENT && r != -EAGAIN) || now_usec(CLOCK_MONOTONIC) >= deadline)
                        return r;
                (void) poll(NULL, 0, 20);
        }
}

int main(int argc, char *argv[]) {
        /* the client's bound counts from its launcher's start: no wait of ours before the read (the state directory,
         * confining) gives it more */
        uint64_t header_deadline = deadline_in(PROXY_HEADER_TIMEOUT_USEC);
        _cleanup_close_ int dirfd = -1;
        proxy_header who;
        bool health_check = false;
        int client, r;

        /* First: all apps' launchers share one user (a unix backend's, the backend's own: ember-launch(8), USER), and
         * none of them, nor that backend, may ptrace, pidfd_getfd or read /proc of a launcher. */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        log_setup("ember-launch", NULL); /* usage errors too go to the journal where the unit has no stderr */
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        log_setup("ember-launch", arg_app);
        if (arg_backend_owner == (uid_t) -1)
                arg_backend_owner = geteuid();

        client = client_fd();
        if (client < 0) {
                log_error_errno(client, "No client connection: expected a stream socket on fd 3 (LISTEN_FDS=1) or on fd 0 (inetd)");
                return EXIT_USAGE;
        }

        signal(SIGPIPE, SIG_IGN);
        struct sigaction sa = { .sa_handler = on_terminate };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        r = open_state_dir(&dirfd);
        if (r == -ENOENT || r == -EAGAIN) {
                log_error_errno(r, "State directory %s/%s %s%s", runtime_dir(), arg_app,
                                r == -ENOENT ? "missing" : "has no files made for this launcher's user",
                                arg_command ? "" : "; is its wake socket unit active?");
                return EXIT_CANTCREAT;
        }
        if (r < 0) {
                log_error_errno(r, "Refusing state directory %s/%s", runtime_dir(), arg_app);
                return state_refused(r) ? EXIT_NOPERM : EXIT_CANTCREAT;
        }

        if (confine_early())
                confine(dirfd, &arg_backend);

        r = identify_client(client, header_deadline, &who, &health_check);
        if (r <= 0)
                return r < 0 ? EXIT_DATAERR : 0;
        if (arg_start_on_data || health_check) {
                r = wait_first_byte(client);
                if (r == 0 || r == -ETIMEDOUT || terminating)
                        return 0; /* nothing was asked, nothing is started */
                if (r < 0)
                        return log_error_errno(r, "Failed to wait for the client's first byte"), EXIT_OSERR;
        }

        r = session_run(dirfd, client, &who);
        if (r == -ETIMEDOUT || r == -EHOSTDOWN)
                return EXIT_UNAVAILABLE;
        if (r == -EPERM)
                return EXIT_NOPERM; /* a unix backend's socket refused */
        return r < 0 && r != -ECONNRESET && r != -EPIPE ? EXIT_OSERR : 0;
}
