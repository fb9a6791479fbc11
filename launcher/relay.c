#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse.h"
#include "relay.h"
#include "timeutil.h"

/* Pipes start at the kernel's default and grow while a direction keeps them full, up to PIPE_BYTES: a bulk
 * transfer gets big pipes (1 MiB measured ~40% less relay CPU per GiB than 256 KiB), while the many small
 * request/response connections stay small. That matters because pipe buffers of processes without
 * CAP_SYS_RESOURCE count against one per-user budget (fs.pipe-user-pages-soft), beyond which new pipes are tiny. */
#define PIPE_BYTES (1024 * 1024)
/* A splice from a socket that brings this much is taken as part of a stream rather than a message. */
#define STREAMING_BYTES (32 * 1024)

typedef struct direction {
        int in, out;
        int pipe[2];
        size_t capacity, buffered;
        bool in_eof, done, at_max;
        bool reset; /* a side was reset (in: after its last bytes were taken; out: what was left is dropped) */
        bool full; /* the pipe took no more although bytes were waiting: wait for the out side, not the in side */
        /* Worth a splice without asking poll first. Out: poll said so and no splice since came back short. In:
         * the same, except that after a short splice the in side is tried again at once while the direction is
         * streaming: request/response traffic then goes straight back to poll (no failing splice per message),
         * while a bulk transfer, whose data keeps arriving during the out splice, needs no poll per chunk. */
        bool in_ready, out_ready;
        bool probing;   /* this in splice follows a short one, without poll's word */
        bool streaming; /* the last such probe found data */
} direction;

static int direction_init(direction *d, int in, int out) {
        int sz;

        *d = (direction){ .in = in, .out = out, .pipe = { -1, -1 }, .in_ready = true, .out_ready = true,
                          .streaming = true };
        if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
        d->capacity = sz > 0 ? (size_t) sz : 4096;
        return 0;
}

/* The pipe ran full: this direction is moving bulk data, give it room (best effort; data in the pipe stays). */
static void direction_grow(direction *d) {
        size_t want = d->capacity * 4 > PIPE_BYTES ? PIPE_BYTES : d->capacity * 4;
        int sz;

        if (d->at_max)
                return;
        sz = fcntl(d->pipe[1], F_SETPIPE_SZ, (int) want);
        if (sz > 0)
                d->capacity = (size_t) sz;
        d->at_max = sz < 0 || d->capacity >= PIPE_BYTES; /* refused (budget, limit): stop asking */
}

static void direction_done(direction *d) {
        closep(&d->pipe[0]);
        closep(&d->pipe[1]);
}

/* A peer's reset, or a peer gone: the connection's end, not the relay's failure. */
static bool peer_gone(int error) {
        return error == ECONNRESET || error == EPIPE || error == ETIMEDOUT;
}

/* The in side was reset. A peer that closes with bytes of ours unread resets (an RST on TCP, ECONNRESET on a unix
 * socket), and the kernel gives us all it sent first: a backend that answers and closes before reading the whole
 * request has its answer taken up to here, and passed on like any end. */
static void direction_in_reset(direction *d) {
        d->in_eof = true;
        d->reset = true;
}

/* The out side cannot take more: what is still in the pipe is for nobody. */
static void direction_out_gone(direction *d) {
        d->buffered = 0;
        d->in_eof = d->done = d->reset = true;
}

/* One step: fill the pipe from in, drain it to out. Returns >0 if bytes moved, 0 if it must wait, -errno. */
static int direction_pump(direction *d) {
        bool moved = false;
        ssize_t n;

        if (d->in_ready && !d->in_eof && !d->full && d->buffered < d->capacity) {
                size_t room = d->capacity - d->buffered;
                n = splice(d->in, NULL, d->pipe[1], NULL, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n > 0) {
                        d->buffered += (size_t) n;
                        if (d->probing)
                                d->streaming = true;
                        /* a big splice probes even when not streaming, or a stream could never be noticed again */
                        d->in_ready = (size_t) n == room || d->streaming || (size_t) n >= STREAMING_BYTES;
                        d->probing = (size_t) n < room && d->in_ready;
                        moved = true;
                } else if (n == 0)
                        d->in_eof = true;
                else if (peer_gone(errno))
                        direction_in_reset(d);
                else if (errno != EAGAIN)
                        return -errno;
                else {
                        if (d->probing)
                                d->streaming = false;
                        d->probing = false;
                        d->in_ready = false;
                        if (d->buffered > 0)
                                d->full = true; /* a pipe holding data refused more: its slots are used up */
                }
                if (d->buffered == d->capacity)
                        d->full = true;
                if (d->full && !d->at_max) {
                        direction_grow(d);
                        d->full = false; /* try the bigger pipe at once */
                        d->in_ready = true;
                }
        }
        if (d->out_ready && d->buffered > 0) {
                n = splice(d->pipe[0], NULL, d->out, NULL, d->buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n > 0) {
                        d->buffered -= (size_t) n;
                        d->out_ready = d->buffered == 0;
                        if (d->full)
                                d->in_ready = true; /* room again: the in side may still hold data */
                        d->full = false;
                        moved = true;
                } else if (n < 0 && peer_gone(errno))
                        direction_out_gone(d);
                else if (n < 0 && errno != EAGAIN)
                        return -errno;
                else
                        d->out_ready = false;
        }
        if (d->in_eof && d->buffered == 0 && !d->done) {
                /* Pass the half-close on; the other direction keeps going. */
                if (shutdown(d->out, SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
                d->done = true;
        }
        return moved;
}

/* POLLERR too: the error is found, and the bytes before it taken, by the next splice. */
static void direction_mark_ready(direction *d, int fd, short revents) {
        if (d->in == fd && (revents & (POLLIN | POLLHUP | POLLERR))) {
                d->in_ready = true;
                d->probing = false;
        }
        if (d->out == fd && (revents & (POLLOUT | POLLHUP | POLLERR)))
                d->out_ready = true;
}

/* Nothing more to read from FD nor to write to it: poll would only report its hang-up (or error) again and again,
 * while the other side still takes what FD sent. */
static bool fd_settled(const direction d[2], int fd) {
        for (int k = 0; k < 2; k++)
                if ((d[k].in == fd && !d[k].in_eof) || (d[k].out == fd && !d[k].done))
                        return false;
        return true;
}

static short wants(const direction *d, int fd) {
        short ev = 0;
        if (d->in == fd && !d->in_eof && !d->full && d->buffered < d->capacity)
                ev |= POLLIN;
        if (d->out == fd && d->buffered > 0)
                ev |= POLLOUT;
        return ev;
}

/* A clean end, or -ECONNRESET if a side was reset (what it sent before is through all the same). */
static int relay_end(const direction d[2]) {
        return d[0].reset || d[1].reset ? -ECONNRESET : 0;
}

static int relay_loop(direction d[2], uint64_t idle_timeout, volatile sig_atomic_t *stop) {
        uint64_t idle_deadline = deadline_in(idle_timeout);

        while (!(d[0].done && d[1].done)) {
                struct pollfd p[2] = { { .fd = d[0].in }, { .fd = d[0].out } };
                int r;

                for (int i = 0; i < 2; i++) {
                        r = direction_pump(&d[i]);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                i = -1; /* keep pumping while anything moves */
                        if (d[0].done && d[1].done)
                                return relay_end(d);
                }
                for (int i = 0; i < 2; i++) {
                        p[i].events = wants(&d[0], p[i].fd) | wants(&d[1], p[i].fd);
                        if (fd_settled(d, p[i].fd))
                                p[i].fd = -1; /* poll skips it */
                }
                if (*stop)
                        return -EINTR;
                r = poll(p, 2, poll_ms_until(idle_deadline));
                if (r == 0 && now_usec(CLOCK_MONOTONIC) >= idle_deadline)
                        return -ETIMEDOUT;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        idle_deadline = deadline_in(idle_timeout);
                for (int i = 0; r > 0 && i < 2; i++) {
                        if (p[i].revents & POLLNVAL)
                                return -EBADF;
                        /* Fully closed peer: once all it sent is through, nothing more can reach it. */
                        if ((p[i].revents & POLLHUP) && d[i].done)
                                return relay_end(d);
                        for (int k = 0; k < 2; k++)
                                direction_mark_ready(&d[k], p[i].fd, p[i].revents);
                }
        }
        return relay_end(d);
}

/* The relay passes bytes on as they arrive, so it must not add Nagle's wait: a client's two small writes in a row
 * (a PostgreSQL startup packet, HTTP headers then body) would otherwise reach the backend only after its delayed
 * ACK, ~40 ms later. Best effort; a unix socket has no such option (EOPNOTSUPP). */
static void socket_nodelay(int fd, const char *side) {
        static const int one = 1;

        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 && errno != EOPNOTSUPP)
                log_full(LOG_DEBUG, -errno, NULL, "Could not set TCP_NODELAY on the %s connection", side);
}

void relay_nodelay(int client, int backend) {
        socket_nodelay(client, "client");
        socket_nodelay(backend, "backend");
}

int relay(int client, int backend, uint64_t idle_timeout, volatile sig_atomic_t *stop) {
        direction d[2];
        int r;

        relay_nodelay(client, backend);
        if (fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) < 0 ||
            fcntl(backend, F_SETFL, fcntl(backend, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        r = direction_init(&d[0], client, backend);
        if (r < 0)
                return r;
        r = direction_init(&d[1], backend, client);
        if (r >= 0)
                r = relay_loop(d, idle_timeout, stop);
        direction_done(&d[0]);
        direction_done(&d[1]);
        return r;
}
