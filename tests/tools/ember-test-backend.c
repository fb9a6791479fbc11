/* ember-test-backend: a configurable backend server for ember's tests.
 *
 *   ember-test-backend --listen=ADDR [--mode=echo|http|hold|count] [--ready-delay=DUR] [--notify] [--never-ready]
 *                      [--fail-start] [--crash-after-bytes=N] [--ignore-sigterm] [--pidfile=PATH]
 *                      [--pid-log=PATH] [--notify-delay=DUR] [--exit-on=PATH]
 *                      [--burn-cpu=DUR]
 *
 * One process per connection (fork); connection handlers die with the main process (PR_SET_PDEATHSIG), so the
 * backend behaves like a single-process server: killing its main pid ends every connection.
 *   echo  echoes every byte back; on the client's EOF it shuts down its write side (half-close passed on).
 *   http  reads one request head, answers "hello from PID\n" (PID = the main pid) as HTTP/1.0, closes.
 *   hold  reads and discards until EOF, never writes.
 *   tag   answers each chunk read with "TAG chunk" (--tag=TAG, default the main pid): which backend served.
 * --expect-proxy: each connection starts with a PROXY v1/v2 header, answered "proxy SRC\n" ("proxy local\n" for a
 *         LOCAL one, "proxy bad: WHY\n" and a close for a malformed one) before the mode serves the rest.
 *   count reads until EOF, then answers "N\n" (the number of bytes received) and closes: a reply that can only
 *         arrive after the client's half-close has come through.
 * --crash-after-bytes=N: after relaying N bytes on a connection the backend aborts (main process included).
 * --notify sends READY=1 to $NOTIFY_SOCKET once listening (after --notify-delay, which implies --notify).
 * --burn-cpu=DUR: before listening, use DUR of CPU time and touch 32 MiB (a run with a known bill).
 * --exit-on=PATH: exit 0 (after removing PATH) once PATH exists, as a server with an idle timeout of its own does.
 * --pidfile=PATH is replaced by each run; --pid-log=PATH gets one line "PID" appended per run (so tests can count
 * backend starts independently of ember's own bookkeeping). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "io.h"
#include "parse.h"
#include "proxy.h"

enum mode { MODE_ECHO, MODE_HTTP, MODE_HOLD, MODE_COUNT, MODE_TAG };

static ember_addr arg_listen;
static bool arg_listen_set;
static enum mode arg_mode = MODE_ECHO;
static uint64_t arg_ready_delay, arg_notify_delay;
static bool arg_notify, arg_never_ready, arg_fail_start, arg_ignore_sigterm;
static uint64_t arg_crash_after = UINT64_MAX;
static const char *arg_pidfile, *arg_pid_log, *arg_exit_on, *arg_tag;
static bool arg_expect_proxy;
static uint64_t arg_burn_cpu;
static pid_t main_pid;

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "ember-test-backend[%d]: ", (int) getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: ember-test-backend --listen=ADDR [--mode=echo|http|hold|count|tag] [--tag=TAG] [--ready-delay=DUR]\n"
                "                          [--notify]\n"
                "                          [--never-ready] [--fail-start] [--crash-after-bytes=N] [--ignore-sigterm]\n"
                "                          [--pidfile=PATH] [--pid-log=PATH] [--notify-delay=DUR] [--exit-on=PATH]\n");
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / 1000000), .tv_nsec = (long) (usec % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void crash(uint64_t relayed) {
        msg("crashing on purpose after %" PRIu64 " bytes", relayed);
        kill(main_pid, SIGABRT);
        abort();
}

static void serve_echo(int fd) {
        static char buf[65536];
        uint64_t total = 0;
        ssize_t n;

        while ((n = read_some(fd, buf, sizeof(buf))) > 0) {
                if (arg_crash_after != UINT64_MAX && total + (uint64_t) n >= arg_crash_after) {
                        (void) write_all(fd, buf, (size_t) (arg_crash_after - total));
                        crash(arg_crash_after);
                }
                if (write_all(fd, buf, (size_t) n) < 0)
                        return;
                total += (uint64_t) n;
        }
        shutdown(fd, SHUT_WR);
}

/* --expect-proxy: the header, read byte by byte so that nothing after it is taken; 0 to go on. */
static int read_proxy_header(int fd) {
        uint8_t buf[PROXY_HEADER_MAX];
        char line[256], src[160];
        const char *why = "closed";
        proxy_header h;
        size_t n = 0;
        int r = 0;

        while (n < sizeof(buf) && read_some(fd, (char *) buf + n, 1) == 1) {
                r = proxy_parse(buf, ++n, &h, &why);
                if (r != 0)
                        break;
        }
        if (r <= 0) {
                snprintf(line, sizeof(line), "proxy bad: %s\n", why ? why : "?");
                (void) write_all(fd, line, strlen(line));
                return -EBADMSG;
        }
        if (h.local)
                snprintf(src, sizeof(src), "local");
        else
                (void) proxy_format_source(&h, src, sizeof(src));
        snprintf(line, sizeof(line), "proxy v%d %s\n", h.version, src);
        return write_all(fd, line, strlen(line)) < 0 ? -EIO : 0;
}

static void serve_tag(int fd) {
        static char buf[65536];
        char tag[256];
        ssize_t n;

        snprintf(tag, sizeof(tag), "%s ", arg_tag ? arg_tag : "");
        if (!arg_tag)
                snprintf(tag, sizeof(tag), "%d ", (int) main_pid);
        while ((n = read_some(fd, buf, sizeof(buf))) > 0)
                if (write_all(fd, tag, strlen(tag)) < 0 || write_all(fd, buf, (size_t) n) < 0)
                        return;
        shutdown(fd, SHUT_WR);
}

static void serve_hold(int fd) {
        static char buf[65536];
        uint64_t total = 0;
        ssize_t n;

        while ((n = read_some(fd, buf, sizeof(buf))) > 0) {
                total += (uint64_t) n;
                if (total >= arg_crash_after)
                        crash(total);
        }
}

static void serve_count(int fd) {
        static char buf[65536];
        uint64_t total = 0;
        char reply[32];

        ssize_t n;

        while ((n = read_some(fd, buf, sizeof(buf))) > 0) {
                total += (uint64_t) n;
        }
        snprintf(reply, sizeof(reply), "%" PRIu64 "\n", total);
        (void) write_all(fd, reply, strlen(reply));
        shutdown(fd, SHUT_WR);
}

static void serve_http(int fd) {
        char req[16384], body[64], resp[256];
        size_t have = 0;
        int len;

        while (have < sizeof(req) - 1) {
                ssize_t n = read(fd, req + have, sizeof(req) - 1 - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                have += (size_t) n;
                req[have] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        len = snprintf(body, sizeof(body), "hello from %d\n", (int) main_pid);
        snprintf(resp, sizeof(resp),
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len,
                 body);
        if (write_all(fd, resp, strlen(resp)) < 0)
                return;
        shutdown(fd, SHUT_WR);
        /* drain what the client still sends so that close() does not turn into a RST; bounded */
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 5000) <= 0 || read(fd, req, sizeof(req)) <= 0)
                        break;
        }
}

static int notify_ready(void) {
        int r = notify_send("READY=1\nSTATUS=listening");
        if (r == 0)
                msg("--notify given but $NOTIFY_SOCKET is not set");
        else if (r < 0)
                msg("cannot send READY=1 to %s: %s", getenv("NOTIFY_SOCKET"), strerror(-r));
        return r;
}

/* --burn-cpu=DUR: spend DUR of CPU time (not wall time) before listening, and touch 32 MiB: a run with a known bill. */
static void burn_cpu(uint64_t usec) {
        static volatile unsigned char sink;
        size_t size = 32 << 20;
        unsigned char *mem = malloc(size);
        struct timespec ts;
        uint64_t spent;

        for (size_t i = 0; mem && i < size; i += 4096)
                mem[i] = (unsigned char) i;
        do {
                for (unsigned i = 0; i < 100000; i++)
                        sink += (unsigned char) i;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
                spent = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        } while (spent < usec);
        free(mem);
}

/* --exit-on=PATH: false once PATH exists, true once a connection waits. */
static bool wait_for_connection(int lfd) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };

        while (access(arg_exit_on, F_OK) < 0)
                if (poll(&p, 1, 50) > 0)
                        return true;
        return false;
}

static int parse_args(int argc, char **argv) {
        enum { ARG_LISTEN = 0x100, ARG_MODE, ARG_READY_DELAY, ARG_NOTIFY, ARG_NEVER_READY, ARG_FAIL_START,
               ARG_CRASH_AFTER, ARG_IGNORE_SIGTERM, ARG_PIDFILE, ARG_PID_LOG, ARG_NOTIFY_DELAY, ARG_EXIT_ON, ARG_BURN_CPU, ARG_TAG, ARG_EXPECT_PROXY };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "mode", required_argument, NULL, ARG_MODE },
                { "ready-delay", required_argument, NULL, ARG_READY_DELAY },
                { "notify", no_argument, NULL, ARG_NOTIFY },
                { "notify-delay", required_argument, NULL, ARG_NOTIFY_DELAY },
                { "never-ready", no_argument, NULL, ARG_NEVER_READY },
                { "fail-start", no_argument, NULL, ARG_FAIL_START },
                { "crash-after-bytes", required_argument, NULL, ARG_CRASH_AFTER },
                { "ignore-sigterm", no_argument, NULL, ARG_IGNORE_SIGTERM },
                { "pidfile", required_argument, NULL, ARG_PIDFILE },
                { "pid-log", required_argument, NULL, ARG_PID_LOG },
                { "exit-on", required_argument, NULL, ARG_EXIT_ON },
                { "burn-cpu", required_argument, NULL, ARG_BURN_CPU },
                { "tag", required_argument, NULL, ARG_TAG },
                { "expect-proxy", no_argument, NULL, ARG_EXPECT_PROXY },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        usage(stdout);
                        exit(0);
                case ARG_LISTEN:
                        if (parse_addr(optarg, &arg_listen) < 0) {
                                msg("bad --listen=%s", optarg);
                                return -EINVAL;
                        }
                        arg_listen_set = true;
                        break;
                case ARG_MODE:
                        if (strcmp(optarg, "echo") == 0)
                                arg_mode = MODE_ECHO;
                        else if (strcmp(optarg, "http") == 0)
                                arg_mode = MODE_HTTP;
                        else if (strcmp(optarg, "hold") == 0)
                                arg_mode = MODE_HOLD;
                        else if (strcmp(optarg, "count") == 0)
                                arg_mode = MODE_COUNT;
                        else if (strcmp(optarg, "tag") == 0)
                                arg_mode = MODE_TAG;
                        else {
                                msg("bad --mode=%s", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_READY_DELAY:
                        if (parse_duration(optarg, &arg_ready_delay) < 0 || arg_ready_delay == UINT64_MAX) {
                                msg("bad --ready-delay=%s", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_NOTIFY:
                        arg_notify = true;
                        break;
                case ARG_NOTIFY_DELAY:
                        if (parse_duration(optarg, &arg_notify_delay) < 0 || arg_notify_delay == UINT64_MAX) {
                                msg("bad --notify-delay=%s", optarg);
                                return -EINVAL;
                        }
                        arg_notify = true;
                        break;
                case ARG_NEVER_READY:
                        arg_never_ready = true;
                        break;
                case ARG_FAIL_START:
                        arg_fail_start = true;
                        break;
                case ARG_CRASH_AFTER:
                        if (parse_uint64(optarg, &arg_crash_after) < 0 || arg_crash_after == 0) {
                                msg("bad --crash-after-bytes=%s", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_IGNORE_SIGTERM:
                        arg_ignore_sigterm = true;
                        break;
                case ARG_PIDFILE:
                        arg_pidfile = optarg;
                        break;
                case ARG_TAG:
                        arg_tag = optarg;
                        break;
                case ARG_EXPECT_PROXY:
                        arg_expect_proxy = true;
                        break;
                case ARG_BURN_CPU:
                        if (parse_duration(optarg, &arg_burn_cpu) < 0 || arg_burn_cpu == USEC_INFINITY) {
                                msg("bad --burn-cpu=%s", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_EXIT_ON:
                        arg_exit_on = optarg;
                        break;
                case ARG_PID_LOG:
                        arg_pid_log = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                msg("unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        if (!arg_listen_set && !arg_never_ready && !arg_fail_start) {
                msg("--listen=ADDR is required");
                return -EINVAL;
        }
        return 0;
}

static int write_pidfile(void) {
        char tmp[4096];
        FILE *f;

        if (arg_pid_log) {
                int fd = open(arg_pid_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                int n = snprintf(tmp, sizeof(tmp), "%d\n", (int) getpid());
                if (fd < 0 || write(fd, tmp, (size_t) n) != n)
                        msg("cannot append to %s: %s", arg_pid_log, strerror(errno));
                if (fd >= 0)
                        close(fd);
        }
        if (!arg_pidfile)
                return 0;
        snprintf(tmp, sizeof(tmp), "%s.tmp", arg_pidfile);
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int) getpid());
        if (fclose(f) != 0 || rename(tmp, arg_pidfile) < 0)
                return -errno;
        return 0;
}

static int listen_on(const ember_addr *a) {
        int fd, one = 1;

        fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (a->sa.sa_family == AF_UNIX)
                (void) unlink(a->un.sun_path);
        else
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, &a->sa, a->len) < 0 || listen(fd, SOMAXCONN) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int main(int argc, char **argv) {
        struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
        char addr[128] = "?";
        int lfd;

        main_pid = getpid();
        if (parse_args(argc, argv) < 0) {
                usage(stderr);
                return 64;
        }
        (void) prctl(PR_SET_DUMPABLE, 0); /* crashes on purpose must not litter core dumps */
        sigaction(SIGCHLD, &sa, NULL);    /* connection handlers reap themselves */
        signal(SIGPIPE, SIG_IGN);
        if (arg_ignore_sigterm)
                signal(SIGTERM, SIG_IGN);
        if (write_pidfile() < 0)
                msg("cannot write pidfile %s: %s", arg_pidfile, strerror(errno));

        if (arg_ready_delay > 0)
                sleep_usec(arg_ready_delay);
        if (arg_burn_cpu > 0)
                burn_cpu(arg_burn_cpu);
        if (arg_fail_start) {
                msg("failing to start on purpose");
                return 3;
        }
        if (arg_never_ready) {
                msg("never becoming ready on purpose");
                for (;;)
                        pause();
        }

        lfd = listen_on(&arg_listen);
        format_addr(&arg_listen, addr, sizeof(addr));
        if (lfd < 0) {
                msg("cannot listen on %s: %s", addr, strerror(-lfd));
                return 71;
        }
        msg("listening on %s", addr);
        if (arg_notify) {
                if (arg_notify_delay > 0)
                        sleep_usec(arg_notify_delay); /* listening, but not ready yet: connections wait in the backlog */
                (void) notify_ready();
        }

        for (;;) {
                int cfd;
                pid_t pid;

                if (arg_exit_on && !wait_for_connection(lfd)) {
                        msg("%s exists: exiting 0", arg_exit_on);
                        (void) unlink(arg_exit_on);
                        return 0; /* the connections' children follow by their parent-death signal */
                }
                cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                                continue;
                        msg("accept: %s", strerror(errno));
                        return 71;
                }
                pid = fork();
                if (pid < 0) {
                        msg("fork: %s", strerror(errno));
                        close(cfd);
                        continue;
                }
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != main_pid)
                                _exit(0);
                        close(lfd);
                        if (arg_expect_proxy && read_proxy_header(cfd) < 0) {
                                close(cfd);
                                _exit(0);
                        }
                        switch (arg_mode) {
                        case MODE_ECHO:
                                serve_echo(cfd);
                                break;
                        case MODE_HTTP:
                                serve_http(cfd);
                                break;
                        case MODE_HOLD:
                                serve_hold(cfd);
                                break;
                        case MODE_COUNT:
                                serve_count(cfd);
                                break;
                        case MODE_TAG:
                                serve_tag(cfd);
                                break;
                        }
                        close(cfd);
                        _exit(0);
                }
                close(cfd);
        }
}
