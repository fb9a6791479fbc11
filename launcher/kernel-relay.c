/* --relay=kernel: the supervisor's BPF sockmap relays the bytes (sandbox/kernel-relay.c); we hand it our two sockets
 * over relay.sock and only wait for the end. The kernel does not pass a FIN on, so we do: when one side says EOF and
 * all it sent has left through the other (the kernel sends redirected data from a work queue, later), we shut the
 * other's write side, as the splice relay does. "All it sent" is counted by TCP itself: the bytes received on one
 * socket (TCP_INFO, less the FIN and what we read ourselves before) against those written into the other since.
 *
 * The same counters tell when the kernel got it wrong: more bytes written than received (repeated), or fewer while
 * TCP has nothing left to send and the kernel nothing more for a while (lost), or the kernel's EPIPE on a socket (its
 * worker gave up and drops what comes). Then the connection is reset, never ended with a FIN, so that neither side
 * takes a damaged stream for a complete one. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>

#include "kernel-relay.h"
#include "macro.h"
#include "session.h"
#include "state.h"
#include "timeutil.h"

/* How long the supervisor may take to answer: it answers at once unless it is stuck. We do not splice after a
 * timeout, as the kernel might relay the same bytes: the connection ends instead. */
#define HANDOVER_TIMEOUT_MS 5000
/* Between two looks at a direction whose EOF waits for the kernel to send the rest: from 200 µs (the kernel's worker
 * is usually done by then), doubling up to 50 ms while a slow reader holds the rest back. */
#define DELIVERY_STEP_MIN_USEC 200
#define DELIVERY_STEP_MAX_USEC (50 * USEC_PER_MSEC)
/* How long a direction may stay short of bytes while TCP has sent and had acked all it was given */
#define LOSS_GRACE_USEC (2 * USEC_PER_SEC)
#define TCPI_STATE_CLOSE 7 /* tcpi_state of a closed socket (TCP_CLOSE in netinet/tcp.h) */

typedef kernel_relay_side side;

static int tcp_info_of(int fd, struct tcp_info *ti) {
        socklen_t len = sizeof(*ti);

        *ti = (struct tcp_info){};
        return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0 ? -errno : 0;
}

/* Bytes put into the socket's send queue so far, sent or not. */
static uint64_t written(const struct tcp_info *ti) {
        return ti->tcpi_bytes_sent - ti->tcpi_bytes_retrans + ti->tcpi_notsent_bytes;
}

static bool is_tcp(int fd) {
        int v = 0;
        socklen_t len = sizeof(v);
        return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_TCP;
}

/* Before the hand-over nobody else reads: what was received and is not queued any more, we read. */
static int side_init(side *s, int fd) {
        struct tcp_info a, b;
        int queued, r;

        *s = (side){ .fd = fd };
        do {
                if ((r = tcp_info_of(fd, &a)) < 0 || ioctl(fd, FIONREAD, &queued) < 0 || (r = tcp_info_of(fd, &b)) < 0)
                        return r < 0 ? r : -errno;
        } while (a.tcpi_bytes_received != b.tcpi_bytes_received); /* something arrived in between: again */
        s->read_before = b.tcpi_bytes_received - (uint64_t) queued;
        s->wrote_before = written(&b);
        return 0;
}

/* Has everything FROM received (less its FIN) left through TO? 1 yes, 0 not yet, -EPROTO if the kernel repeated
 * bytes or lost them (TO has sent all it was given and had it acked, and nothing more came for LOSS_GRACE_USEC). */
static int delivered(const side *from, side *to) {
        struct tcp_info in, out;
        int r;

        if ((r = tcp_info_of(from->fd, &in)) < 0 || (r = tcp_info_of(to->fd, &out)) < 0)
                return r;
        uint64_t got = in.tcpi_bytes_received - 1 - from->read_before, put = written(&out) - to->wrote_before;
        if (put > got)
                return -EPROTO;
        if (put == got)
                return 1;
        if (out.tcpi_notsent_bytes > 0 || out.tcpi_unacked > 0 || put != to->short_at || to->short_since == 0) {
                to->short_at = put;
                to->short_since = now_usec(CLOCK_MONOTONIC);
                return 0;
        }
        return now_usec(CLOCK_MONOTONIC) - to->short_since >= LOSS_GRACE_USEC ? -EPROTO : 0;
}

static int handover(const char *app, int client, int backend) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (char *) "r", .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        _cleanup_close_ int fd = -1;
        char answer = 0;
        int r;

        fd = state_socket_connect(app, STATE_RELAY_SOCK, SOCK_SEQPACKET);
        if (fd < 0)
                return 0; /* not offered (--relay=splice, no BPF, an older supervisor) */
        control.h = (struct cmsghdr){ .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS, .cmsg_len = CMSG_LEN(2 * sizeof(int)) };
        memcpy(CMSG_DATA(&control.h), (int[2]){ client, backend }, 2 * sizeof(int));
        if (sendmsg(fd, &m, MSG_NOSIGNAL) != 1)
                return 0; /* nothing was received, nothing is relayed */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        do
                r = poll(&p, 1, HANDOVER_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return -ETIMEDOUT;
        if (r < 0 || recv(fd, &answer, 1, 0) != 1)
                return 0; /* the supervisor went away before it read us: it did not insert */
        return answer == '1';
}

int kernel_relay_begin(const char *app, int client, int backend, kernel_relay *ret) {
        int r;

        if (!is_tcp(client) || !is_tcp(backend))
                return 0;
        r = side_init(&ret->s[0], client);
        if (r >= 0)
                r = side_init(&ret->s[1], backend);
        if (r < 0)
                return 0;
        /* The kernel relays whole skbs from where it first sees a socket: one we took a PROXY header from may still
         * hold an skb we read part of, which it would relay again. */
        if (ret->s[0].read_before > 0 || ret->s[1].read_before > 0)
                return 0;
        return handover(app, client, backend);
}

/* Bytes the kernel left to us (it relays no more: the supervisor is gone, or the other side left the map as it
 * closed): written on by hand. Returns 0 at EOF (marked), 1 on data or nothing, -errno. */
static int side_read(side *from, const side *to, volatile sig_atomic_t *stop) {
        char buf[16384];
        ssize_t n = recv(from->fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n == 0)
                from->eof = true;
        if (n <= 0)
                return n == 0 ? 0 : errno == EAGAIN ? 1 : -errno;
        for (ssize_t off = 0, w; off < n; off += w) {
                struct pollfd p = { .fd = to->fd, .events = POLLOUT };
                w = send(to->fd, buf + off, (size_t) (n - off), MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN)
                        return -errno;
                if (w < 0) {
                        w = 0;
                        if (*stop || (poll(&p, 1, -1) < 0 && errno != EINTR))
                                return -EINTR;
                }
        }
        return 1;
}

/* A side at EOF whose bytes all left: pass the half-close on. Returns 1 if one still waits for the kernel. */
static int pass_eofs(kernel_relay *k) {
        bool waiting = false;

        for (int i = 0; i < 2; i++) {
                side *from = &k->s[i], *to = &k->s[1 - i];
                if (!from->eof || from->done)
                        continue;
                int r = delivered(from, to);
                if (r < 0)
                        return r;
                if (r == 0) {
                        waiting = true;
                        continue;
                }
                if (shutdown(to->fd, SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
                from->done = true;
        }
        return waiting;
}

/* Some traffic since the last look, either way, received or taken by a reader (acked)? For the idle timeout, which
 * sees no byte go by. */
static bool traffic(kernel_relay *k) {
        struct tcp_info a, b;
        uint64_t total;

        if (tcp_info_of(k->s[0].fd, &a) < 0 || tcp_info_of(k->s[1].fd, &b) < 0)
                return true;
        total = a.tcpi_bytes_received + b.tcpi_bytes_received + a.tcpi_bytes_acked + b.tcpi_bytes_acked;
        bool moved = total != k->seen;
        k->seen = total;
        return moved;
}

/* -EPROTO for the EPIPE the kernel sets on a socket it stops relaying to (sk_psock_report_error: what comes for it
 * from then on is dropped); anything else, a peer's reset among them (EPIPE too, in CLOSE_WAIT, but that closes the
 * socket), -ECONNRESET as before. */
static int socket_error(int fd) {
        struct tcp_info ti;
        int e = 0;
        socklen_t len = sizeof(e);

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || tcp_info_of(fd, &ti) < 0)
                return -ECONNRESET;
        return e == EPIPE && ti.tcpi_state != TCPI_STATE_CLOSE ? -EPROTO : -ECONNRESET;
}

/* Until an event, the idle deadline or, with STEP, STEP µs at most. 0 on a timeout, 1 when the connection is
 * over, 2 with REV set, -errno. */
static int wait_events(kernel_relay *k, uint64_t step, uint64_t idle_deadline, short rev[2]) {
        struct pollfd p[2];
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t until = step && usec_add(now, step) < idle_deadline ? usec_add(now, step) : idle_deadline;
        int r;

        for (int i = 0; i < 2; i++)
                p[i] = (struct pollfd){ .fd = k->s[i].fd, .events = k->s[i].eof ? 0 : POLLIN | POLLRDHUP };
        if (until == USEC_INFINITY)
                r = ppoll(p, 2, NULL, NULL);
        else {
                uint64_t left = until > now ? until - now : 0;
                struct timespec ts = { .tv_sec = (time_t) (left / USEC_PER_SEC),
                                       .tv_nsec = (long) (left % USEC_PER_SEC) * 1000 };
                r = ppoll(p, 2, &ts, NULL);
        }
        if (r < 0)
                return errno == EINTR ? 2 : -errno;
        for (int i = 0; i < 2 && r > 0; i++) {
                rev[i] = p[i].revents;
                if (p[i].revents & POLLNVAL)
                        return -EBADF;
                if (p[i].revents & POLLERR)
                        return socket_error(k->s[i].fd);
                /* Fully closed peer: once all it sent is through, nothing more can reach it. */
                if ((p[i].revents & POLLHUP) && k->s[i].done)
                        return 1;
        }
        return r == 0 ? 0 : 2;
}

static int wait_end(kernel_relay *k, uint64_t idle_timeout, volatile sig_atomic_t *stop) {
        uint64_t idle_deadline = deadline_in(idle_timeout), step = 0;
        int r;

        (void) traffic(k);
        for (;;) {
                int waiting = pass_eofs(k);
                if (waiting < 0)
                        return waiting;
                step = !waiting ? 0 : step == 0 ? DELIVERY_STEP_MIN_USEC
                                     : step * 2 > DELIVERY_STEP_MAX_USEC ? DELIVERY_STEP_MAX_USEC : step * 2;
                if (k->s[0].done && k->s[1].done)
                        return 0;
                if (*stop)
                        return -EINTR;
                short rev[2] = { 0, 0 };
                r = wait_events(k, step, idle_deadline, rev);
                if (r < 0 || r == 1)
                        return r < 0 ? r : 0;
                if (r == 0 && now_usec(CLOCK_MONOTONIC) >= idle_deadline) {
                        if (!traffic(k))
                                return -ETIMEDOUT;
                        idle_deadline = deadline_in(idle_timeout);
                }
                for (int i = 0; i < 2; i++)
                        if (!k->s[i].eof && (rev[i] & (POLLIN | POLLRDHUP | POLLHUP)) &&
                            (r = side_read(&k->s[i], &k->s[1 - i], stop)) < 0)
                                return r;
        }
}

int kernel_relay_wait(kernel_relay *k, uint64_t idle_timeout, volatile sig_atomic_t *stop) {
        static const struct linger reset = { .l_onoff = 1, .l_linger = 0 };
        int r = wait_end(k, idle_timeout, stop);

        if (r == -EPROTO) /* closed with a reset, not a FIN */
                for (int i = 0; i < 2; i++)
                        (void) setsockopt(k->s[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        return r;
}
