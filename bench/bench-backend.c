/* bench-backend: the one backend every side of `make bench` talks to. A single process, one epoll loop, no fork
 * per connection, so that what the benchmark sees of the backend is a few system calls and nothing else.
 *
 *   bench-backend --listen=HOST:PORT|/unix/path [--notify] [--ready-delay=MS]
 *
 * Readiness: it binds and listens, then, with --notify and $NOTIFY_SOCKET set, sends "READY=1" as one datagram to
 * $NOTIFY_SOCKET (sd_notify's protocol: a unix datagram socket, '@' for the abstract namespace; no libsystemd).
 * --ready-delay sleeps before binding, to stand for a backend with real start-up work.
 *
 * Per connection, the first byte picks what it does:
 *   'P'         answers "PID\n" (its own pid) and closes: tells a client which backend run served it;
 *   'D' N '\n'  sends N bytes (download), then closes;
 *   'U' N '\n'  reads N more bytes, then answers "N\n" (the bytes it got) and closes (upload; no half-close
 *               needed, as systemd-socket-proxyd does not pass one on);
 *   other       echoes everything, that first byte included, and closes once the client has closed and all is
 *               echoed (like /bin/cat).
 * SIGTERM/SIGINT end it at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

#define BUF_SIZE (64 * 1024)
#define SRC_SIZE (1024 * 1024)

enum mode { MODE_NEW, MODE_ECHO, MODE_HEAD, MODE_DOWNLOAD, MODE_UPLOAD, MODE_REPLY };

typedef struct conn {
        int fd;
        enum mode mode;
        bool in_eof;
        char *buf;            /* echo: bytes read, not yet written back; reply: the answer */
        size_t len, off;
        uint64_t remaining;   /* download: bytes still to send; upload: still to receive */
        uint64_t received;    /* upload: bytes counted */
        char head[32];        /* "D<digits>\n" or "U<digits>\n" */
        size_t head_len;
} conn;

static const char *arg_listen;
static bool arg_notify;
static unsigned arg_ready_delay_ms;
static char source[SRC_SIZE];
static int epfd;

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        if (s[0] == '/') {
                struct sockaddr_un *un = (struct sockaddr_un *) ss;
                if (strlen(s) >= sizeof(un->sun_path))
                        return -1;
                memset(un, 0, sizeof(*un));
                un->sun_family = AF_UNIX;
                strcpy(un->sun_path, s);
                *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(s) + 1);
                return 0;
        }
        const char *colon = strrchr(s, ':');
        char host[64] = "127.0.0.1";
        if (colon) {
                size_t n = (size_t) (colon - s);
                if (n >= sizeof(host))
                        return -1;
                memcpy(host, s, n);
                host[n] = '\0';
                s = colon + 1;
        }
        char *end;
        unsigned long port = strtoul(s, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -1;
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        memset(in, 0, sizeof(*in));
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) port);
        if (strcmp(host, "localhost") == 0)
                strcpy(host, "127.0.0.1");
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                return -1;
        *len = sizeof(*in);
        return 0;
}

static void conn_free(conn *c) {
        close(c->fd);
        free(c->buf);
        free(c);
}

static void conn_want(conn *c, uint32_t ev) {
        struct epoll_event e = { .events = ev, .data.ptr = c };
        (void) epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

static void start_reply(conn *c, const char *text) {
        size_t n = strlen(text);
        free(c->buf);
        c->buf = malloc(n + 1);
        if (!c->buf)
                abort();
        memcpy(c->buf, text, n + 1);
        c->len = n;
        c->off = 0;
        c->mode = MODE_REPLY;
}

/* Writes out c->buf[off..len). Returns 1 when all is written, 0 if it must wait, -1 on error. */
static int flush_buf(conn *c) {
        while (c->off < c->len) {
                ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN ? 0 : -1;
                c->off += (size_t) n;
        }
        c->off = c->len = 0;
        return 1;
}

/* Returns false when the connection is finished and must be freed. */
static bool conn_step(conn *c) {
        ssize_t n;
        int r;

        for (;;) {
                switch (c->mode) {
                case MODE_NEW: {
                        char b;
                        n = recv(c->fd, &b, 1, MSG_PEEK);
                        if (n == 0)
                                return false;
                        if (n < 0)
                                return errno == EAGAIN;
                        if (b == 'P') {
                                char t[24];
                                (void) recv(c->fd, &b, 1, 0);
                                snprintf(t, sizeof(t), "%d\n", (int) getpid());
                                start_reply(c, t);
                        } else if (b == 'D' || b == 'U')
                                c->mode = MODE_HEAD;
                        else
                                c->mode = MODE_ECHO;
                        continue;
                }
                case MODE_ECHO:
                        if (c->len > 0) {
                                r = flush_buf(c);
                                if (r < 0)
                                        return false;
                                if (r == 0) {
                                        conn_want(c, EPOLLOUT);
                                        return true;
                                }
                        }
                        if (c->in_eof)
                                return false; /* all echoed and the client is done: close, as cat exits */
                        n = recv(c->fd, c->buf, BUF_SIZE, 0);
                        if (n == 0) {
                                c->in_eof = true;
                                continue;
                        }
                        if (n < 0) {
                                if (errno != EAGAIN)
                                        return false;
                                conn_want(c, EPOLLIN);
                                return true;
                        }
                        c->len = (size_t) n;
                        c->off = 0;
                        continue;
                case MODE_HEAD: {
                        /* one byte at a time: an upload's data follows the header at once */
                        char b;
                        n = recv(c->fd, &b, 1, 0);
                        if (n == 0)
                                return false;
                        if (n < 0)
                                return errno == EAGAIN;
                        c->head[c->head_len++] = b;
                        c->head[c->head_len] = '\0';
                        if (b == '\n') {
                                c->remaining = strtoull(c->head + 1, NULL, 10);
                                if (c->head[0] == 'D') {
                                        c->mode = MODE_DOWNLOAD;
                                        conn_want(c, EPOLLOUT);
                                } else
                                        c->mode = MODE_UPLOAD;
                                continue;
                        }
                        if (c->head_len >= sizeof(c->head) - 1)
                                return false;
                        continue;
                }
                case MODE_DOWNLOAD:
                        while (c->remaining > 0) {
                                size_t want = c->remaining < SRC_SIZE ? (size_t) c->remaining : SRC_SIZE;
                                n = send(c->fd, source, want, MSG_NOSIGNAL);
                                if (n < 0)
                                        return errno == EAGAIN;
                                c->remaining -= (uint64_t) n;
                        }
                        return false;
                case MODE_UPLOAD:
                        while (c->remaining > 0) {
                                n = recv(c->fd, c->buf, c->remaining < BUF_SIZE ? (size_t) c->remaining : BUF_SIZE, 0);
                                if (n < 0)
                                        return errno == EAGAIN;
                                if (n == 0)
                                        break;
                                c->received += (uint64_t) n;
                                c->remaining -= (uint64_t) n;
                        }
                        {
                                char t[32];
                                snprintf(t, sizeof(t), "%" PRIu64 "\n", c->received);
                                start_reply(c, t);
                                conn_want(c, EPOLLOUT);
                        }
                        continue;
                case MODE_REPLY:
                        r = flush_buf(c);
                        if (r == 0) {
                                conn_want(c, EPOLLOUT);
                                return true;
                        }
                        return false;
                }
        }
}

static void accept_all(int lfd) {
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return;
                conn *c = calloc(1, sizeof(*c));
                if (!c || !(c->buf = malloc(BUF_SIZE)))
                        abort();
                c->fd = fd;
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
                        conn_free(c);
                        continue;
                }
                /* Most requests are already there: serve them without another trip through epoll. */
                if (!conn_step(c))
                        conn_free(c);
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },
                { "notify", no_argument, NULL, 'n' },
                { "ready-delay", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct sockaddr_storage ss;
        socklen_t len;
        int c, lfd, one = 1;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        arg_listen = optarg;
                        break;
                case 'n':
                        arg_notify = true;
                        break;
                case 'd':
                        arg_ready_delay_ms = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'h':
                        printf("Usage: bench-backend --listen=HOST:PORT|/path [--notify] [--ready-delay=MS]\n");
                        return 0;
                default:
                        return 64;
                }
        if (!arg_listen || parse_listen(arg_listen, &ss, &len) < 0) {
                fprintf(stderr, "bench-backend: need --listen=HOST:PORT or an absolute unix path\n");
                return 64;
        }
        signal(SIGPIPE, SIG_IGN);
        if (arg_ready_delay_ms > 0) {
                struct timespec ts = { .tv_sec = arg_ready_delay_ms / 1000,
                                       .tv_nsec = (long) (arg_ready_delay_ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (lfd < 0)
                return 71;
        (void) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_UNIX)
                (void) unlink(arg_listen);
        if (bind(lfd, (struct sockaddr *) &ss, len) < 0 || listen(lfd, 4096) < 0) {
                fprintf(stderr, "bench-backend: cannot listen on %s: %s\n", arg_listen, strerror(errno));
                return 71;
        }
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
                return 71;
        struct epoll_event le = { .events = EPOLLIN, .data.ptr = NULL };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) < 0)
                return 71;
        if (arg_notify)
                (void) notify_send("READY=1");

        for (;;) {
                struct epoll_event ev[64];
                int n = epoll_wait(epfd, ev, 64, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 71;
                }
                for (int i = 0; i < n; i++) {
                        conn *k = ev[i].data.ptr;
                        if (!k)
                                accept_all(lfd);
                        else if (!conn_step(k))
                                conn_free(k);
                }
        }
}
