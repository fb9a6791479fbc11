/* ember-test-client: a client for ember's tests that does what curl and socat do not do precisely.
 *
 *   ember-test-client [OPTIONS] ADDR
 *     --send=STRING        bytes to send (escapes: \n \r \t \\ \xNN)
 *     --send-file=PATH     send a file's contents (streamed while replies are read: no deadlock on large data)
 *     --interval=DUR       send the --send bytes one line at a time, DUR apart (a slow, steady talker)
 *     --delay=DUR          wait DUR after connecting before the first byte (a client slow to start talking)
 *     --chunk=N            with --interval: N bytes at a time instead of a line (--chunk=1: a byte every DUR)
 *     --hold=DUR           after sending, keep the connection fully open for DUR ("infinity": until killed), or
 *                          until a SIGUSR1 ends the hold (a test's "now": e.g. once the sockets are where it wants)
 *     --no-shutdown        never half-close; wait for the server to end the connection
 *     --close              after sending (and --hold), close at once instead of reading until EOF
 *     --connect-only       connect and close at once, sending nothing
 *     --output=PATH        where received bytes go ("-": stdout, the default; "none": discarded)
 *     --timeout=DUR        overall deadline (default 30s)
 *     --parallel=N         N connections at once, released together; each one's reply is written to the output
 *                          with a single write()
 *     --repeat=K           make K connections one after the other (with --parallel: K per parallel worker)
 *     --expect-echo        compare what comes back with what was sent, byte for byte (exit 6 on a mismatch;
 *                          received bytes are then not written out)
 *     --report             print "sent=N received=N ms=N end=eof|reset|closed" on stderr per connection
 *     --port-free=PORT     exit 0 if 127.0.0.1:PORT can be bound for listening, 1 if not (no ADDR needed)
 *
 * Exit: 0 the connection ended normally (EOF from the server, or --close/--connect-only done); 1 connect failed;
 * 2 usage; 3 timeout; 4 connection reset; 5 other I/O error; 6 echo mismatch (--expect-echo); with --parallel or
 * --repeat: 0 if all connections succeeded, otherwise the first failing exit code, and a count on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "parse.h"

enum { EXIT_OK = 0, EXIT_CONNECT = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_RESET = 4, EXIT_IO = 5, EXIT_MISMATCH = 6 };

static ember_addr arg_addr;
static char *arg_send;
static size_t arg_send_len;
static const char *arg_send_file;
static uint64_t arg_hold, arg_interval, arg_chunk, arg_delay;
static volatile sig_atomic_t hold_released; /* SIGUSR1: --hold ends now */

static void release_hold(int sig) {
        hold_released = 1;
}
static bool arg_no_shutdown, arg_close, arg_connect_only, arg_report, arg_expect_echo;
static unsigned arg_repeat = 1;
static const char *arg_output = "-";
static uint64_t arg_timeout = 30 * USEC_PER_SEC;
static unsigned arg_parallel;

static uint64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: ember-test-client [--send=STRING|--send-file=PATH] [--hold=DUR] [--no-shutdown] [--close]\n"
                   "                         [--delay=DUR] [--interval=DUR [--chunk=N]] [--connect-only] [--output=PATH|-|none] [--timeout=DUR] [--parallel=N]\n"
                   "                         [--repeat=K] [--expect-echo] [--report] ADDR\n"
                   "       ember-test-client --port-free=PORT\n");
}

static int unescape(const char *s, char **ret, size_t *ret_len) {
        char *b = malloc(strlen(s) + 1), *p = b;

        if (!b)
                return -ENOMEM;
        for (; *s; s++) {
                if (*s != '\\') {
                        *p++ = *s;
                        continue;
                }
                switch (*++s) {
                case 'n': *p++ = '\n'; break;
                case 'r': *p++ = '\r'; break;
                case 't': *p++ = '\t'; break;
                case '\\': *p++ = '\\'; break;
                case 'x': {
                        unsigned v;
                        if (sscanf(s + 1, "%2x", &v) != 1) {
                                free(b);
                                return -EINVAL;
                        }
                        *p++ = (char) v;
                        s += 2;
                        break;
                }
                default:
                        free(b);
                        return -EINVAL;
                }
        }
        *ret = b;
        *ret_len = (size_t) (p - b);
        return 0;
}

static int port_free(const char *s) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        uint64_t port;
        int fd, one = 1, r;

        if (parse_uint64(s, &port) < 0 || port == 0 || port > 65535)
                return EXIT_USAGE;
        sin.sin_port = htons((uint16_t) port);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return EXIT_IO;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(fd, 1) == 0 ? 0 : 1;
        close(fd);
        return r;
}

/* One connection. buffer_out: collect the reply and write it with one write() at the end (for --parallel). */
static int run_one(int out, bool buffer_out) {
        static char rbuf[65536], sbuf[65536];
        uint64_t start = now(), deadline = arg_timeout == USEC_INFINITY ? UINT64_MAX : start + arg_timeout;
        uint64_t hold_end = 0, sent = 0, received = 0, next_line = start + arg_delay;
        size_t spos = 0, slen = 0;
        bool sending = !arg_connect_only, holding = false, wr_open = true, send_eof = false;
        const char *end = "eof";
        char *collect = NULL;
        size_t collected = 0, collect_size = 0;
        int fd, sfd = -1, vfd = -1, rc = EXIT_OK;
        static char vbuf[65536];

        fd = socket(arg_addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return EXIT_IO;
        if (connect(fd, &arg_addr.sa, arg_addr.len) < 0) {
                fprintf(stderr, "ember-test-client: connect: %s\n", strerror(errno));
                close(fd);
                return EXIT_CONNECT;
        }
        if (arg_connect_only) {
                close(fd);
                if (arg_report)
                        fprintf(stderr, "sent=0 received=0 ms=%" PRIu64 " end=closed\n", (now() - start) / 1000);
                return EXIT_OK;
        }
        if (arg_send_file) {
                sfd = open(arg_send_file, O_RDONLY | O_CLOEXEC);
                if (arg_expect_echo)
                        vfd = open(arg_send_file, O_RDONLY | O_CLOEXEC);
                if (sfd < 0 || (arg_expect_echo && vfd < 0)) {
                        fprintf(stderr, "ember-test-client: %s: %s\n", arg_send_file, strerror(errno));
                        close(fd);
                        return EXIT_IO;
                }
        } else if (arg_send) {
                memcpy(sbuf, arg_send, arg_send_len < sizeof(sbuf) ? arg_send_len : sizeof(sbuf));
                slen = arg_send_len < sizeof(sbuf) ? arg_send_len : sizeof(sbuf);
                send_eof = true;
        } else
                send_eof = true;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t t = now(), wake = deadline;
                int timeout_ms, n;

                /* refill the send buffer */
                if (sending && spos == slen && !send_eof && sfd >= 0) {
                        ssize_t k = read(sfd, sbuf, sizeof(sbuf));
                        if (k <= 0)
                                send_eof = true;
                        else {
                                spos = 0;
                                slen = (size_t) k;
                        }
                }
                if (sending && spos == slen && send_eof) {
                        sending = false;
                        if (arg_hold > 0) {
                                holding = true;
                                hold_end = arg_hold == USEC_INFINITY ? UINT64_MAX : t + arg_hold;
                        }
                }
                if (holding && (t >= hold_end || hold_released))
                        holding = false;
                if (!sending && !holding && wr_open) {
                        if (arg_close) {
                                end = "closed";
                                break;
                        }
                        if (!arg_no_shutdown)
                                shutdown(fd, SHUT_WR);
                        wr_open = false;
                }
                if (sending && t >= next_line)
                        p.events |= POLLOUT;
                else if (sending && next_line < wake)
                        wake = next_line;
                if (holding && hold_end < wake)
                        wake = hold_end;
                if (t >= deadline) {
                        end = "timeout";
                        rc = EXIT_TIMEOUT;
                        break;
                }
                timeout_ms = wake == UINT64_MAX ? -1 : (int) ((wake - t + 999) / 1000);
                n = poll(&p, 1, timeout_ms);
                if (n < 0 && errno != EINTR) {
                        rc = EXIT_IO;
                        break;
                }
                if (n <= 0)
                        continue;
                if (p.revents & POLLOUT) {
                        size_t len = slen - spos;
                        if (arg_interval > 0 && arg_chunk > 0) /* N bytes */
                                len = len < arg_chunk ? len : (size_t) arg_chunk;
                        else if (arg_interval > 0) { /* up to and including the next newline */
                                const char *nl = memchr(sbuf + spos, '\n', len);
                                if (nl)
                                        len = (size_t) (nl - (sbuf + spos)) + 1;
                        }
                        ssize_t k = send(fd, sbuf + spos, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (k > 0) {
                                spos += (size_t) k;
                                sent += (uint64_t) k;
                                if (arg_interval > 0 && (size_t) k == len)
                                        next_line = now() + arg_interval;
                        } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
                                /* the server stopped reading: stop sending, but read what it still says */
                                sending = false;
                                send_eof = true;
                                spos = slen;
                                wr_open = false;
                        }
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t k = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
                        if (k == 0)
                                break; /* EOF */
                        if (k < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                end = errno == ECONNRESET ? "reset" : "error";
                                rc = errno == ECONNRESET ? EXIT_RESET : EXIT_IO;
                                break;
                        }
                        if (arg_expect_echo) {
                                /* compare with the same span of what was sent */
                                if (vfd >= 0) {
                                        ssize_t m = pread(vfd, vbuf, (size_t) k, (off_t) received);
                                        if (m != k || memcmp(vbuf, rbuf, (size_t) k) != 0) {
                                                end = "mismatch";
                                                rc = EXIT_MISMATCH;
                                                break;
                                        }
                                } else if (received + (uint64_t) k > arg_send_len ||
                                           memcmp(arg_send + received, rbuf, (size_t) k) != 0) {
                                        end = "mismatch";
                                        rc = EXIT_MISMATCH;
                                        break;
                                }
                                received += (uint64_t) k;
                                continue;
                        }
                        received += (uint64_t) k;
                        if (buffer_out) {
                                if (collected + (size_t) k > collect_size) {
                                        collect_size = (collected + (size_t) k) * 2;
                                        collect = realloc(collect, collect_size);
                                        if (!collect)
                                                return EXIT_IO;
                                }
                                memcpy(collect + collected, rbuf, (size_t) k);
                                collected += (size_t) k;
                        } else if (out >= 0 && write_all(out, rbuf, (size_t) k) < 0) {
                                rc = EXIT_IO;
                                break;
                        }
                }
        }
        close(fd);
        if (sfd >= 0)
                close(sfd);
        if (vfd >= 0)
                close(vfd);
        if (rc == EXIT_OK && arg_expect_echo && received != sent) {
                end = "short";
                rc = EXIT_MISMATCH;
        }
        if (buffer_out && out >= 0 && collected > 0)
                (void) write_all(out, collect, collected);
        free(collect);
        if (arg_report)
                fprintf(stderr, "sent=%" PRIu64 " received=%" PRIu64 " ms=%" PRIu64 " end=%s\n", sent, received,
                        (now() - start) / 1000, end);
        return rc;
}

/* --repeat: K connections one after the other; the first failing exit code, or 0. */
static int run_repeated(int out, bool buffer_out, unsigned *failed) {
        int rc = EXIT_OK;

        for (unsigned i = 0; i < arg_repeat; i++) {
                int r = run_one(out, buffer_out);
                if (r != EXIT_OK) {
                        (*failed)++;
                        if (rc == EXIT_OK)
                                rc = r;
                }
        }
        return rc;
}

static int run_parallel(int out) {
        pid_t *pids = calloc(arg_parallel, sizeof(pid_t));
        int go[2], rc = EXIT_OK;
        unsigned failed = 0;

        if (!pids || pipe2(go, O_CLOEXEC) < 0)
                return EXIT_IO;
        for (unsigned i = 0; i < arg_parallel; i++) {
                pids[i] = fork();
                if (pids[i] < 0)
                        return EXIT_IO;
                if (pids[i] == 0) {
                        char c;
                        close(go[1]);
                        unsigned f = 0;
                        (void) !read(go[0], &c, 1); /* released when the parent closes its end */
                        int r = run_repeated(out, true, &f);
                        if (f > 0 && arg_repeat > 1)
                                fprintf(stderr, "ember-test-client: worker %u: %u of %u connections failed\n", i, f,
                                        arg_repeat);
                        _exit(r);
                }
        }
        close(go[0]);
        close(go[1]);
        for (unsigned i = 0; i < arg_parallel; i++) {
                int status = 0;
                while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
                        ;
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_IO;
                if (code != EXIT_OK) {
                        failed++;
                        if (rc == EXIT_OK)
                                rc = code;
                }
        }
        if (failed > 0)
                fprintf(stderr, "ember-test-client: %u of %u workers had failures\n", failed, arg_parallel);
        free(pids);
        return rc;
}

int main(int argc, char **argv) {
        enum { ARG_SEND = 0x100, ARG_SEND_FILE, ARG_HOLD, ARG_NO_SHUTDOWN, ARG_CLOSE, ARG_CONNECT_ONLY, ARG_OUTPUT,
               ARG_TIMEOUT, ARG_PARALLEL, ARG_REPORT, ARG_PORT_FREE, ARG_REPEAT, ARG_EXPECT_ECHO, ARG_INTERVAL,
               ARG_CHUNK, ARG_DELAY };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "send", required_argument, NULL, ARG_SEND },
                { "send-file", required_argument, NULL, ARG_SEND_FILE },
                { "hold", required_argument, NULL, ARG_HOLD },
                { "no-shutdown", no_argument, NULL, ARG_NO_SHUTDOWN },
                { "close", no_argument, NULL, ARG_CLOSE },
                { "connect-only", no_argument, NULL, ARG_CONNECT_ONLY },
                { "output", required_argument, NULL, ARG_OUTPUT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "parallel", required_argument, NULL, ARG_PARALLEL },
                { "report", no_argument, NULL, ARG_REPORT },
                { "port-free", required_argument, NULL, ARG_PORT_FREE },
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "expect-echo", no_argument, NULL, ARG_EXPECT_ECHO },
                { "interval", required_argument, NULL, ARG_INTERVAL },
                { "chunk", required_argument, NULL, ARG_CHUNK },
                { "delay", required_argument, NULL, ARG_DELAY },
                {}
        };
        uint64_t v;
        int c, out;

        signal(SIGPIPE, SIG_IGN);
        /* no SA_RESTART: the poll() of a hold returns EINTR, and the loop sees the flag */
        sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = release_hold }, NULL);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_SEND:
                        if (unescape(optarg, &arg_send, &arg_send_len) < 0) {
                                fprintf(stderr, "ember-test-client: bad escape in --send\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_SEND_FILE:
                        arg_send_file = optarg;
                        break;
                case ARG_HOLD:
                        if (parse_duration(optarg, &arg_hold) < 0) {
                                fprintf(stderr, "ember-test-client: bad --hold\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_NO_SHUTDOWN:
                        arg_no_shutdown = true;
                        break;
                case ARG_CLOSE:
                        arg_close = true;
                        break;
                case ARG_CONNECT_ONLY:
                        arg_connect_only = true;
                        break;
                case ARG_OUTPUT:
                        arg_output = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_duration(optarg, &arg_timeout) < 0) {
                                fprintf(stderr, "ember-test-client: bad --timeout\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_PARALLEL:
                        if (parse_uint64(optarg, &v) < 0 || v == 0 || v > 10000) {
                                fprintf(stderr, "ember-test-client: bad --parallel\n");
                                return EXIT_USAGE;
                        }
                        arg_parallel = (unsigned) v;
                        break;
                case ARG_REPORT:
                        arg_report = true;
                        break;
                case ARG_REPEAT:
                        if (parse_uint64(optarg, &v) < 0 || v == 0 || v > 1000000) {
                                fprintf(stderr, "ember-test-client: bad --repeat\n");
                                return EXIT_USAGE;
                        }
                        arg_repeat = (unsigned) v;
                        break;
                case ARG_INTERVAL:
                        if (parse_duration(optarg, &arg_interval) < 0 || arg_interval == USEC_INFINITY) {
                                fprintf(stderr, "ember-test-client: bad --interval\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_DELAY:
                        if (parse_duration(optarg, &arg_delay) < 0 || arg_delay == USEC_INFINITY) {
                                fprintf(stderr, "ember-test-client: bad --delay\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_CHUNK:
                        if (parse_uint64(optarg, &arg_chunk) < 0 || arg_chunk == 0 || arg_chunk > 65536) {
                                fprintf(stderr, "ember-test-client: bad --chunk\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_EXPECT_ECHO:
                        arg_expect_echo = true;
                        break;
                case ARG_PORT_FREE:
                        return port_free(optarg);
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        if (optind != argc - 1 || parse_addr(argv[optind], &arg_addr) < 0 || (arg_send && arg_send_file)) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(arg_output, "-") == 0)
                out = STDOUT_FILENO;
        else if (strcmp(arg_output, "none") == 0)
                out = -1;
        else {
                out = open(arg_output, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
                if (out < 0) {
                        fprintf(stderr, "ember-test-client: %s: %s\n", arg_output, strerror(errno));
                        return EXIT_IO;
                }
        }
        if (arg_parallel > 0)
                return run_parallel(out);
        if (arg_repeat > 1) {
                unsigned failed = 0;
                int r = run_repeated(out, false, &failed);
                if (failed > 0)
                        fprintf(stderr, "ember-test-client: %u of %u connections failed\n", failed, arg_repeat);
                return r;
        }
        return run_one(out, false);
}
