/* bench-client: the measuring side of `make bench`. Every mode takes several sides (NAME=HOST:PORT) and
 * measures them interleaved, sample by sample, in a fresh random order each round, so that whatever else the machine
 * does falls on every side alike. Results are key=value lines (MODE_SIDE_STAT=VALUE) on stdout.
 *
 *   bench-client connect SIDE... [--samples=N] [--warmup=N] [--gap-ms=MS]
 *       connect + send 1 byte + receive its echo + close, on a fresh connection each time.
 *   bench-client rr SIDE... [--samples=N] [--warmup=N]
 *       1-byte request/response round trips on one open connection per side.
 *   bench-client bulk SIDE... [--bytes=N] [--rounds=N] [--dir=down|up]
 *       N bytes through one connection per sample (down: "D<N>\n", the backend sends N bytes; up: "U<N>\n" and
 *       N bytes, the backend answers its byte count).
 *   bench-client cold SIDE=RESET-SCRIPT... [--samples=N] [--settle-ms=MS] [--exec-ready=BACKEND --exec-listen=ADDR]
 *       per sample and side: run RESET-SCRIPT (it must leave the side cold), then connect, send 1 byte and time
 *       until the first byte comes back. With --exec-ready, each round also measures BACKEND's own exec -> ready
 *       alone (fork+exec with NOTIFY_SOCKET, until READY=1: exec_ready_notify; until its port accepts:
 *       exec_ready_connect).
 *   bench-client storm HOST:PORT [--conns=N] [--timeout-ms=MS]
 *       N connections at once, each sends "P" and reads the pid of the backend run that answered.
 * --verbose prints every sample on stderr as it is taken.
 * Times are microseconds (_us), milliseconds (_ms) or MiB/s (_mibps). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIDES 48 /* the settings phase measures ~30 unit variants side by side */
#define IO_TIMEOUT_MS 30000

typedef struct side {
        char name[64];
        struct sockaddr_in addr;
        const char *reset;   /* cold: script that makes the side cold */
        double *v;           /* samples */
        size_t n, fails;
        int fd;              /* rr: the open connection */
} side;

static side sides[MAX_SIDES];
static size_t n_sides;
static unsigned arg_samples = 200, arg_warmup = 20, arg_rounds = 5, arg_gap_ms = 0, arg_settle_ms = 0;
static unsigned arg_conns = 500, arg_timeout_ms = 30000;
static uint64_t arg_bytes = 1ULL << 30;
static bool arg_up;
static const char *arg_exec_ready, *arg_exec_listen;
static bool arg_verbose;

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int parse_inet(const char *s, struct sockaddr_in *in) {
        char host[64] = "127.0.0.1";
        const char *colon = strrchr(s, ':');
        char *end;

        if (colon) {
                size_t n = (size_t) (colon - s);
                if (n == 0 || n >= sizeof(host))
                        return -1;
                memcpy(host, s, n);
                host[n] = '\0';
                s = colon + 1;
        }
        unsigned long port = strtoul(s, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -1;
        *in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        return inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &in->sin_addr) == 1 ? 0 : -1;
}

/* NAME=HOST:PORT[=RESET-SCRIPT] */
static int add_side(const char *spec, bool with_reset) {
        side *s = &sides[n_sides];
        const char *eq = strchr(spec, '=');
        char addr[128];

        if (n_sides >= MAX_SIDES || !eq || (size_t) (eq - spec) >= sizeof(s->name))
                return -1;
        memcpy(s->name, spec, (size_t) (eq - spec));
        s->name[eq - spec] = '\0';
        const char *rest = eq + 1, *eq2 = strchr(rest, '=');
        size_t alen = eq2 ? (size_t) (eq2 - rest) : strlen(rest);
        if (alen >= sizeof(addr) || (with_reset && !eq2))
                return -1;
        memcpy(addr, rest, alen);
        addr[alen] = '\0';
        if (parse_inet(addr, &s->addr) < 0)
                return -1;
        s->reset = eq2 ? strdup(eq2 + 1) : NULL;
        if (eq2 && !s->reset)
                return -1;
        s->fd = -1;
        n_sides++;
        return 0;
}

static void record(side *s, double v) {
        if (arg_verbose)
                fprintf(stderr, "sample %s %.3f\n", s->name, v);
        if (s->n % 1024 == 0) {
                s->v = realloc(s->v, (s->n + 1024) * sizeof(double));
                if (!s->v)
                        abort();
        }
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p) {
        if (n == 0)
                return NAN;
        double r = p / 100.0 * (double) (n - 1);
        size_t lo = (size_t) r;
        if (lo + 1 >= n)
                return sorted[n - 1];
        return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (r - (double) lo);
}

/* Prints MODE_SIDE_{p10,p50,p90,p99,min,mean}_UNIT, _n and _fail; values are divided by scale. */
static void report(const char *mode, const side *s, const char *unit, double scale) {
        double *v = malloc((s->n + 1) * sizeof(double)), sum = 0;
        if (!v)
                abort();
        memcpy(v, s->v, s->n * sizeof(double));
        qsort(v, s->n, sizeof(double), cmp_double);
        for (size_t i = 0; i < s->n; i++)
                sum += v[i];
        printf("%s_%s_p50_%s=%.3f\n", mode, s->name, unit, pct(v, s->n, 50) / scale);
        printf("%s_%s_p10_%s=%.3f\n", mode, s->name, unit, pct(v, s->n, 10) / scale);
        printf("%s_%s_p90_%s=%.3f\n", mode, s->name, unit, pct(v, s->n, 90) / scale);
        printf("%s_%s_p99_%s=%.3f\n", mode, s->name, unit, pct(v, s->n, 99) / scale);
        printf("%s_%s_min_%s=%.3f\n", mode, s->name, unit, s->n ? v[0] / scale : NAN);
        printf("%s_%s_mean_%s=%.3f\n", mode, s->name, unit, s->n ? sum / (double) s->n / scale : NAN);
        printf("%s_%s_n=%zu\n", mode, s->name, s->n);
        printf("%s_%s_fail=%zu\n", mode, s->name, s->fails);
        free(v);
}

static int tcp_connect(const struct sockaddr_in *a) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0)
                return -1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (const struct sockaddr *) a, sizeof(*a)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Waits for readable, up to ms. 1 ready, 0 timeout, -1 error. */
static int wait_in(int fd, int ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r;
        do
                r = poll(&p, 1, ms);
        while (r < 0 && errno == EINTR);
        return r;
}

static int read_byte(int fd, char *c) {
        if (wait_in(fd, IO_TIMEOUT_MS) <= 0)
                return -1;
        return recv(fd, c, 1, 0) == 1 ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The order of the sides in a round: a fresh random permutation each round (fixed seed, so runs are reproducible),
 * so that no side always follows the same other side and inherits, say, the tail of its teardown. */
static size_t order[MAX_SIDES];
static void shuffle_round(size_t n) {
        static unsigned long long x = 0x9E3779B97F4A7C15ULL;
        for (size_t k = 0; k < n; k++)
                order[k] = k;
        for (size_t k = n; k > 1; k--) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
                size_t j = (size_t) (x % k), t = order[k - 1];
                order[k - 1] = order[j];
                order[j] = t;
        }
}

/* ---- connect: fresh connection, one echo, close ------------------------------------------------------------- */

/* Connect, send one byte, read its echo; the close is timed too unless CLOSE_UNTIMED. */
static int echo_once(side *s, double *us, bool close_untimed) {
        double t0 = now_us();
        char c;
        int fd = tcp_connect(&s->addr);
        if (fd < 0)
                return -1;
        if (write_all(fd, "x", 1) < 0 || read_byte(fd, &c) < 0 || c != 'x') {
                close(fd);
                return -1;
        }
        if (close_untimed)
                *us = now_us() - t0;
        close(fd);
        if (!close_untimed)
                *us = now_us() - t0;
        return 0;
}

static int one_connect(side *s, double *us) {
        return echo_once(s, us, false);
}

static int mode_connect(void) {
        for (unsigned i = 0; i < arg_warmup + arg_samples; i++)
                for (size_t k = (shuffle_round(n_sides), 0); k < n_sides; k++) {
                        side *s = &sides[order[k]];
                        double us;
                        if (one_connect(s, &us) < 0) {
                                if (i >= arg_warmup)
                                        s->fails++;
                        } else if (i >= arg_warmup)
                                record(s, us);
                        if (arg_gap_ms)
                                sleep_ms(arg_gap_ms);
                }
        for (size_t k = 0; k < n_sides; k++)
                report("connect", &sides[k], "us", 1);
        return 0;
}

/* ---- rr: round trips on one open connection ----------------------------------------------------------------- */

static int mode_rr(void) {
        for (size_t k = 0; k < n_sides; k++) {
                sides[k].fd = tcp_connect(&sides[k].addr);
                if (sides[k].fd < 0) {
                        fprintf(stderr, "bench-client: rr: cannot connect to %s: %m\n", sides[k].name);
                        return 1;
                }
        }
        for (unsigned i = 0; i < arg_warmup + arg_samples; i++)
                for (size_t k = (shuffle_round(n_sides), 0); k < n_sides; k++) {
                        side *s = &sides[order[k]];
                        char c;
                        double t0 = now_us();
                        if (write_all(s->fd, "r", 1) < 0 || read_byte(s->fd, &c) < 0 || c != 'r') {
                                fprintf(stderr, "bench-client: rr: %s broke after %u round trips\n", s->name, i);
                                return 1;
                        }
                        if (i >= arg_warmup)
                                record(s, now_us() - t0);
                }
        for (size_t k = 0; k < n_sides; k++) {
                close(sides[k].fd);
                report("rr", &sides[k], "us", 1);
        }
        return 0;
}

/* ---- bulk: N bytes through one connection ------------------------------------------------------------------- */

static int one_bulk(side *s, double *mibps) {
        static char buf[256 * 1024];
        uint64_t got = 0;
        double t0 = now_us();
        int fd = tcp_connect(&s->addr);
        ssize_t n;

        if (fd < 0)
                return -1;
        if (!arg_up) {
                char head[32];
                snprintf(head, sizeof(head), "D%" PRIu64 "\n", arg_bytes);
                if (write_all(fd, head, strlen(head)) < 0)
                        goto fail;
                while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
                        got += (uint64_t) n;
                if (n < 0 || got != arg_bytes) {
                        fprintf(stderr, "bench-client: bulk: %s delivered %" PRIu64 " of %" PRIu64 " bytes\n", s->name,
                                got, arg_bytes);
                        goto fail;
                }
        } else {
                char reply[32] = "", head[32];
                size_t rl = 0;
                snprintf(head, sizeof(head), "U%" PRIu64 "\n", arg_bytes);
                if (write_all(fd, head, strlen(head)) < 0)
                        goto fail;
                for (uint64_t left = arg_bytes; left > 0;) {
                        size_t k = left < sizeof(buf) ? (size_t) left : sizeof(buf);
                        if (write_all(fd, buf, k) < 0)
                                goto fail;
                        left -= k;
                }
                while (rl < sizeof(reply) - 1 && (n = recv(fd, reply + rl, sizeof(reply) - 1 - rl, 0)) > 0)
                        rl += (size_t) n;
                reply[rl] = '\0';
                if (strtoull(reply, NULL, 10) != arg_bytes) {
                        fprintf(stderr, "bench-client: bulk: %s counted '%s' of %" PRIu64 " bytes\n", s->name, reply,
                                arg_bytes);
                        goto fail;
                }
        }
        close(fd);
        *mibps = (double) arg_bytes / (1024.0 * 1024.0) / ((now_us() - t0) / 1e6);
        return 0;
fail:
        close(fd);
        return -1;
}

static int mode_bulk(void) {
        const char *mode = arg_up ? "bulk_up" : "bulk";
        for (unsigned i = 0; i < arg_rounds; i++)
                for (size_t k = (shuffle_round(n_sides), 0); k < n_sides; k++) {
                        side *s = &sides[order[k]];
                        double v;
                        if (one_bulk(s, &v) < 0)
                                s->fails++;
                        else
                                record(s, v);
                }
        for (size_t k = 0; k < n_sides; k++)
                report(mode, &sides[k], "mibps", 1);
        return 0;
}

/* ---- cold: reset, then connect -> first byte ---------------------------------------------------------------- */

static int run_reset(const side *s) {
        int r = system(s->reset);
        if (r != 0) {
                fprintf(stderr, "bench-client: cold: reset of %s failed (%d): %s\n", s->name, r, s->reset);
                return -1;
        }
        return 0;
}

/* connect -> first echoed byte: the close is not part of a cold start */
static int one_cold(side *s, double *us) {
        return echo_once(s, us, true);
}

/* The backend alone: fork + exec until READY=1 on our NOTIFY_SOCKET (notify), or until its port accepts (connect). */
static int one_exec_ready(bool notify, double *us) {
        char path[108], listen_arg[160];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct sockaddr_in a;
        int nfd = -1, r = -1;
        pid_t pid;
        double t0;

        if (parse_inet(arg_exec_listen, &a) < 0)
                return -1;
        snprintf(listen_arg, sizeof(listen_arg), "--listen=%s", arg_exec_listen);
        if (notify) {
                snprintf(path, sizeof(path), "/tmp/bench-client-notify.%d", (int) getpid());
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
                (void) unlink(path);
                nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        goto out;
        }
        t0 = now_us();
        pid = fork();
        if (pid < 0)
                goto out;
        if (pid == 0) {
                char *argv[] = { (char *) arg_exec_ready, listen_arg, notify ? "--notify" : NULL, NULL };
                if (notify)
                        setenv("NOTIFY_SOCKET", path, 1);
                execv(arg_exec_ready, argv);
                _exit(127);
        }
        if (notify) {
                char buf[64];
                if (wait_in(nfd, IO_TIMEOUT_MS) > 0 && recv(nfd, buf, sizeof(buf), 0) >= 7 &&
                    memcmp(buf, "READY=1", 7) == 0)
                        r = 0;
        } else {
                double deadline = t0 + IO_TIMEOUT_MS * 1000.0;
                while (now_us() < deadline) {
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof(a)) == 0) {
                                close(fd);
                                r = 0;
                                break;
                        }
                        if (fd >= 0)
                                close(fd);
                        struct timespec ts = { .tv_nsec = 20000 };
                        nanosleep(&ts, NULL);
                }
        }
        if (r == 0)
                *us = now_us() - t0;
        kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
out:
        if (nfd >= 0) {
                close(nfd);
                (void) unlink(path);
        }
        return r;
}

static int mode_cold(void) {
        side exec_sides[2] = { { .name = "exec_ready_notify" }, { .name = "exec_ready_connect" } };

        for (unsigned i = 0; i < arg_warmup + arg_samples; i++) {
                for (size_t k = (shuffle_round(n_sides), 0); k < n_sides; k++) {
                        side *s = &sides[order[k]];
                        double us;
                        if (run_reset(s) < 0) {
                                s->fails++;
                                continue;
                        }
                        if (arg_settle_ms)
                                sleep_ms(arg_settle_ms);
                        if (one_cold(s, &us) < 0) {
                                fprintf(stderr, "bench-client: cold: %s: no echo\n", s->name);
                                if (i >= arg_warmup)
                                        s->fails++;
                        } else if (i >= arg_warmup)
                                record(s, us);
                }
                for (int e = 0; arg_exec_ready && e < 2; e++) {
                        double us;
                        if (arg_settle_ms)
                                sleep_ms(arg_settle_ms);
                        if (one_exec_ready(e == 0, &us) < 0)
                                exec_sides[e].fails += i >= arg_warmup;
                        else if (i >= arg_warmup)
                                record(&exec_sides[e], us);
                }
        }
        for (size_t k = 0; k < n_sides; k++)
                report("cold", &sides[k], "ms", 1000);
        for (int e = 0; arg_exec_ready && e < 2; e++)
                report("cold", &exec_sides[e], "ms", 1000);
        return 0;
}

/* ---- storm: N connections at once --------------------------------------------------------------------------- */

typedef struct sconn {
        int fd;
        bool sent, done, ok;
        char reply[32];
        size_t len;
        double t0, t1;
        long pid;
} sconn;

static int mode_storm(void) {
        struct rlimit rl = { .rlim_cur = arg_conns + 64, .rlim_max = arg_conns + 64 };
        sconn *cs = calloc(arg_conns, sizeof(sconn));
        long *pids = calloc(arg_conns, sizeof(long));
        size_t n_pids = 0, ok = 0, done = 0;
        double *lat = calloc(arg_conns, sizeof(double)), t_start, deadline;
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (!cs || !pids || !lat || ep < 0 || n_sides != 1)
                return 1;
        struct rlimit cur;
        if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max > rl.rlim_max)
                rl.rlim_max = cur.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);

        t_start = now_us();
        deadline = t_start + arg_timeout_ms * 1000.0;
        for (unsigned i = 0; i < arg_conns; i++) {
                sconn *c = &cs[i];
                c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                c->t0 = now_us();
                if (c->fd < 0 ||
                    (connect(c->fd, (struct sockaddr *) &sides[0].addr, sizeof(sides[0].addr)) < 0 && errno != EINPROGRESS)) {
                        c->done = true;
                        done++;
                        continue;
                }
                struct epoll_event e = { .events = EPOLLOUT | EPOLLIN, .data.u32 = i };
                (void) epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
        }
        while (done < arg_conns) {
                struct epoll_event ev[256];
                double t = now_us();
                if (t >= deadline)
                        break;
                int n = epoll_wait(ep, ev, 256, (int) ((deadline - t) / 1000) + 1);
                for (int j = 0; j < n; j++) {
                        sconn *c = &cs[ev[j].data.u32];
                        if (c->done)
                                continue;
                        if (!c->sent && (ev[j].events & EPOLLOUT)) {
                                if (send(c->fd, "P", 1, MSG_NOSIGNAL) != 1) {
                                        c->done = true;
                                        done++;
                                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                                        continue;
                                }
                                c->sent = true;
                                struct epoll_event e = { .events = EPOLLIN, .data.u32 = ev[j].data.u32 };
                                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                        }
                        if (ev[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                                ssize_t k = recv(c->fd, c->reply + c->len, sizeof(c->reply) - 1 - c->len, 0);
                                if (k > 0) {
                                        c->len += (size_t) k;
                                        if (c->len < sizeof(c->reply) - 1)
                                                continue;
                                } else if (k < 0 && errno == EAGAIN)
                                        continue;
                                /* EOF (the reply is complete), error, or an overlong reply */
                                c->reply[c->len] = '\0';
                                c->t1 = now_us();
                                char *end;
                                c->pid = strtol(c->reply, &end, 10);
                                c->ok = k == 0 && c->len > 0 && *end == '\n' && c->pid > 0;
                                c->done = true;
                                done++;
                                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        }
                }
        }
        double t_end = now_us();
        size_t nl = 0;
        for (unsigned i = 0; i < arg_conns; i++) {
                sconn *c = &cs[i];
                if (c->fd >= 0)
                        close(c->fd);
                if (!c->ok)
                        continue;
                ok++;
                lat[nl++] = (c->t1 - c->t0) / 1000.0;
                bool seen = false;
                for (size_t p = 0; p < n_pids; p++)
                        seen = seen || pids[p] == c->pid;
                if (!seen)
                        pids[n_pids++] = c->pid;
        }
        qsort(lat, nl, sizeof(double), cmp_double);
        printf("storm_conns=%u\n", arg_conns);
        printf("storm_ok=%zu\n", ok);
        printf("storm_failed=%zu\n", (size_t) arg_conns - ok);
        printf("storm_backend_pids=%zu\n", n_pids);
        printf("storm_total_ms=%.1f\n", (t_end - t_start) / 1000.0);
        printf("storm_p50_ms=%.1f\n", pct(lat, nl, 50));
        printf("storm_max_ms=%.1f\n", nl ? lat[nl - 1] : NAN);
        return 0;
}

/* ---- main --------------------------------------------------------------------------------------------------- */

static uint64_t parse_size(const char *s) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);
        switch (*end) {
        case 'G': return v << 30;
        case 'M': return v << 20;
        case 'K': return v << 10;
        default: return v;
        }
}

int main(int argc, char *argv[]) {
        enum { O_SAMPLES = 0x100, O_WARMUP, O_ROUNDS, O_GAP, O_SETTLE, O_BYTES, O_DIR, O_CONNS, O_TIMEOUT, O_EXEC,
               O_EXEC_LISTEN, O_VERBOSE };
        static const struct option options[] = {
                { "samples", required_argument, NULL, O_SAMPLES },
                { "warmup", required_argument, NULL, O_WARMUP },
                { "rounds", required_argument, NULL, O_ROUNDS },
                { "gap-ms", required_argument, NULL, O_GAP },
                { "settle-ms", required_argument, NULL, O_SETTLE },
                { "bytes", required_argument, NULL, O_BYTES },
                { "dir", required_argument, NULL, O_DIR },
                { "conns", required_argument, NULL, O_CONNS },
                { "timeout-ms", required_argument, NULL, O_TIMEOUT },
                { "exec-ready", required_argument, NULL, O_EXEC },
                { "exec-listen", required_argument, NULL, O_EXEC_LISTEN },
                { "verbose", no_argument, NULL, O_VERBOSE },
                {}
        };
        const char *mode;
        int c;

        if (argc < 2) {
                fprintf(stderr, "Usage: bench-client connect|rr|bulk|cold|storm SIDE... [OPTIONS]\n");
                return 64;
        }
        mode = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case O_SAMPLES: arg_samples = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_WARMUP: arg_warmup = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_ROUNDS: arg_rounds = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_GAP: arg_gap_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_SETTLE: arg_settle_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_BYTES: arg_bytes = parse_size(optarg); break;
                case O_DIR: arg_up = strcmp(optarg, "up") == 0; break;
                case O_CONNS: arg_conns = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_TIMEOUT: arg_timeout_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case O_EXEC: arg_exec_ready = optarg; break;
                case O_EXEC_LISTEN: arg_exec_listen = optarg; break;
                case O_VERBOSE: arg_verbose = true; break;
                default: return 64;
                }
        for (int i = optind; i < argc; i++) {
                bool storm = strcmp(mode, "storm") == 0;
                char spec[512];
                if (storm)
                        snprintf(spec, sizeof(spec), "storm=%s", argv[i]);
                else
                        snprintf(spec, sizeof(spec), "%s", argv[i]);
                if (add_side(spec, strcmp(mode, "cold") == 0) < 0) {
                        fprintf(stderr, "bench-client: bad side '%s' (NAME=HOST:PORT%s)\n", argv[i],
                                strcmp(mode, "cold") == 0 ? "=RESET-SCRIPT" : "");
                        return 64;
                }
        }
        if (n_sides == 0) {
                fprintf(stderr, "bench-client: no sides given\n");
                return 64;
        }
        if (arg_exec_ready && !arg_exec_listen) {
                fprintf(stderr, "bench-client: --exec-ready needs --exec-listen\n");
                return 64;
        }
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(mode, "connect") == 0)
                return mode_connect();
        if (strcmp(mode, "rr") == 0)
                return mode_rr();
        if (strcmp(mode, "bulk") == 0)
                return mode_bulk();
        if (strcmp(mode, "cold") == 0)
                return mode_cold();
        if (strcmp(mode, "storm") == 0)
                return mode_storm();
        fprintf(stderr, "bench-client: unknown mode '%s'\n", mode);
        return 64;
}
