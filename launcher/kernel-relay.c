/* --relay=kernel: the supervisor's BPF sockmap relays the bytes (sandbox/kernel-relay.c); we hand it our two sockets
 * over relay.sock and only wait for the end. The kernel does not pass a FIN on, so we do: when one side says EOF and
 * all it sent has left through the other (the kernel sends redirected data from a work queue, later), we shut the
 * other's write side, as the splice relay does. "All it sent" is counted by TCP itself: the bytes received on one
 * socket (TCP_INFO, less the FIN and what we read ourselves before) against those written into the other since.
 *
 * The kernel's queue towards a side (its psock's) has no bound: a side that does not read would let the other send
 * all it likes into kernel memory. So we look at each direction's backlog, counted the same way, every 10-100 ms,
 * and past BACKLOG_MAX ask the supervisor to take its source socket out of the program's map: its bytes then stay
 * in its receive queue and TCP's window closes as for any reader that does not keep up. We relay that direction
 * ourselves from then on, as we do bytes the kernel leaves to us when the other side closed or the supervisor is
 * gone: each chunk only after all the kernel redirected before it is in the other's send queue, and no more taken
 * from one side than the other accepts.
 *
 * The same counters tell when the kernel got it wrong: more bytes written than received (repeated), or fewer while
 * TCP has nothing left to send and the kernel nothing more for a while (lost), or the kernel's EPIPE on a socket (its
 * worker gave up and drops what comes). Then the connection is reset, never ended with a FIN, so that neither side
 * takes a damaged stream for a complete one. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>

#include "kernel-relay.h"
#include "log.h"
#include "macro.h"
#include "protocol.h"
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
/* Bytes that may wait in the kernel for a side that does not take them, and how often we look: what arrives between
 * two looks adds to it. 64 MiB: above what waits there in a transfer at full speed (up to 48 MB on loopback, in the
 * kernel's one-jiffy stalls), so that only a side really behind is detached, for the detach itself can lose an skb
 * (see detach()). */
#define BACKLOG_MAX (64u << 20)
#define BACKLOG_CHECK_MIN_USEC (10 * USEC_PER_MSEC)
#define BACKLOG_CHECK_MAX_USEC (100 * USEC_PER_MSEC)
/* A quieted sender's socket leaves the kernel's hands once no more than QUIET_TRICKLE bytes came in QUIET_USEC, or
 * after QUIET_MAX_USEC (see detach()) */
#define QUIET_USEC (5 * USEC_PER_MSEC)
#define QUIET_TRICKLE (16u << 10)
#define QUIET_MAX_USEC (200 * USEC_PER_MSEC)
#define DETACH_RETRY_USEC USEC_PER_SEC
/* tcpi_state values (netinet/tcp.h's TCP_*): closed, and those after the peer's FIN */
enum { TCPI_CLOSE = 7, TCPI_CLOSE_WAIT = 8, TCPI_LAST_ACK = 9, TCPI_CLOSING = 11 };
#define CHUNK_SIZE (64 * 1024)

static char chunks[2][CHUNK_SIZE]; /* what we took from each side and write on to the other */

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

/* A socket whose FIN came after ours went from FIN_WAIT2 to CLOSE, its bytes still there to read (its place in
 * TIME_WAIT is another socket); a reset one is CLOSE too, but then nothing is delivered on anyway. */
static bool fin_received(const side *s, const struct tcp_info *ti) {
        return s->eof || ti->tcpi_state == TCPI_CLOSE_WAIT || ti->tcpi_state == TCPI_LAST_ACK ||
               ti->tcpi_state == TCPI_CLOSING || ti->tcpi_state == TCPI_CLOSE;
}

/* Bytes queued for us to read on S. FIONREAD counts the psock's queue only (Linux 6.18's tcp_bpf_ioctl); a detached
 * socket's bytes are in its receive queue, which a peek that copies nothing (MSG_TRUNC) counts. */
static int queued_on(const side *s, uint64_t *ret) {
        int n = 0;

        if (!s->detached) {
                if (ioctl(s->fd, FIONREAD, &n) < 0)
                        return -errno;
                *ret = (uint64_t) n;
                return 0;
        }
        ssize_t k = recv(s->fd, NULL, SSIZE_MAX, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
        if (k < 0 && errno != EAGAIN)
                return -errno;
        *ret = k < 0 ? 0 : (uint64_t) k;
        return 0;
}

/* What the kernel took from FROM: received, less its FIN, what we read before and since, and what waits for us. */
int kernel_relay_took(const kernel_relay_side *from, uint64_t *ret) {
        struct tcp_info a, b;
        uint64_t queued = 0;
        int r;

        do {
                if ((r = tcp_info_of(from->fd, &a)) < 0 || (r = queued_on(from, &queued)) < 0 ||
                    (r = tcp_info_of(from->fd, &b)) < 0)
                        return r;
        } while (a.tcpi_bytes_received != b.tcpi_bytes_received); /* something arrived in between: again */
        *ret = b.tcpi_bytes_received - fin_received(from, &b) - from->read_before - from->taken - queued;
        return 0;
}

/* What the kernel took from FROM (*got) and put into TO's send queue (*put), and TO's TCP_INFO. */
static int kernel_counts(const side *from, const side *to, uint64_t *got, uint64_t *put, struct tcp_info *out) {
        int r;

        *got = 0;
        if ((r = kernel_relay_took(from, got)) < 0 || (r = tcp_info_of(to->fd, out)) < 0)
                return r;
        *put = written(out) - to->wrote_before - to->given;
        return 0;
}

/* Has all the kernel took from FROM left through TO? 1 yes, 0 not yet, -EPROTO if the kernel repeated bytes or lost
 * them (TO has sent all it was given and had it acked, and nothing more came for LOSS_GRACE_USEC). */
static int delivered(const side *from, side *to) {
        struct tcp_info out;
        uint64_t got, put;
        int r = kernel_counts(from, to, &got, &put, &out);

        if (r < 0)
                return r;
        if (put > got) {
                log_debug("The kernel put %" PRIu64 " bytes where it took %" PRIu64 " (repeated)", put, got);
                return -EPROTO;
        }
        if (put == got)
                return 1;
        if (out.tcpi_notsent_bytes > 0 || out.tcpi_unacked > 0 || put != to->short_at || to->short_since == 0) {
                to->short_at = put;
                to->short_since = now_usec(CLOCK_MONOTONIC);
                return 0;
        }
        if (now_usec(CLOCK_MONOTONIC) - to->short_since < LOSS_GRACE_USEC)
                return 0;
        log_debug("The kernel put %" PRIu64 " bytes where it took %" PRIu64 ", and no more came (lost)", put, got);
        return -EPROTO;
}

/* One request to the supervisor over relay.sock: WHAT (RELAY_REQUEST_*) and N sockets. 1 done, 0 not (not offered:
 * --relay=splice, no BPF, an older supervisor; or refused), -ETIMEDOUT if it did not answer. */
static int request(const char *app, char what, const int *fds, size_t n) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = &what, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
        _cleanup_close_ int fd = -1;
        char answer = 0;
        int r;

        assert(n >= 1 && n <= 2);
        fd = state_socket_connect(app, STATE_RELAY_SOCK, SOCK_SEQPACKET);
        if (fd < 0)
                return 0;
        control.h = (struct cmsghdr){ .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS, .cmsg_len = CMSG_LEN(n * sizeof(int)) };
        memcpy(CMSG_DATA(&control.h), fds, n * sizeof(int));
        if (sendmsg(fd, &m, MSG_NOSIGNAL) != 1)
                return 0; /* nothing was received, nothing was done */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        do
                r = poll(&p, 1, HANDOVER_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return -ETIMEDOUT;
        if (r < 0 || recv(fd, &answer, 1, 0) != 1)
                return 0; /* the supervisor went away before it read us: it did nothing */
        return answer == RELAY_ANSWER_DONE;
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
        ret->app = app;
        ret->check_every = BACKLOG_CHECK_MIN_USEC;
        ret->next_check = deadline_in(ret->check_every);
        return request(app, RELAY_REQUEST_PAIR, (int[2]){ client, backend }, 2);
}

/* Takes what the kernel passed to us from FROM into its chunk. 1 on data or nothing, 0 at EOF (marked), -errno. */
static int take(side *from, int i) {
        ssize_t n = recv(from->fd, chunks[i], CHUNK_SIZE, MSG_DONTWAIT);

        if (n == 0)
                from->eof = true;
        if (n <= 0)
                return n == 0 ? 0 : errno == EAGAIN ? 1 : -errno;
        from->len = (size_t) n;
        from->off = 0;
        from->taken += (uint64_t) n;
        return 1;
}

/* Writes FROM's chunk on into TO, once the kernel's part is through. 0 when written, 1 while it waits for the
 * kernel, 2 while it waits for TO's send space, -errno. */
static int give(side *from, side *to, int i) {
        if (!from->in_order) {
                int r = delivered(from, to);
                if (r <= 0)
                        return r < 0 ? r : 1;
                from->in_order = true; /* the kernel redirects nothing more from FROM */
        }
        while (from->off < from->len) {
                ssize_t w = send(to->fd, chunks[i] + from->off, from->len - from->off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0)
                        return errno == EAGAIN ? 2 : -errno;
                from->off += (size_t) w;
                to->given += (uint64_t) w;
        }
        from->len = from->off = 0;
        return 0;
}

/* A side at EOF whose bytes all left: pass the half-close on. Returns 1 if one still waits for the kernel. */
static int pass_eofs(kernel_relay *k) {
        bool waiting = false;

        for (int i = 0; i < 2; i++) {
                side *from = &k->s[i], *to = &k->s[1 - i];
                if (!from->eof || from->done || from->len > 0)
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

/* Some traffic since the last look at *SEEN, either way, received or taken by a reader (acked)? For the idle
 * timeout, which sees no byte go by, and for how often to look at the backlogs. */
static bool traffic(const kernel_relay *k, uint64_t *seen) {
        struct tcp_info a, b;
        uint64_t total;

        if (tcp_info_of(k->s[0].fd, &a) < 0 || tcp_info_of(k->s[1].fd, &b) < 0)
                return true;
        total = a.tcpi_bytes_received + b.tcpi_bytes_received + a.tcpi_bytes_acked + b.tcpi_bytes_acked;
        bool moved = total != *seen;
        *seen = total;
        return moved;
}

/* Bytes the kernel took from FROM that are not in TO's send queue yet: they wait in TO's psock queue, which has no
 * bound of its own. */
static int backlog(const side *from, const side *to, uint64_t *ret) {
        struct tcp_info out;
        uint64_t got, put;
        int r = kernel_counts(from, to, &got, &put, &out);

        if (r < 0)
                return r;
        *ret = got > put ? got - put : 0;
        return 0;
}

/* Out of the kernel's hands (the supervisor takes it out of the program's map). Taken out while the program reads
 * it, an skb is dropped (Linux 6.18: sk_psock_verdict_recv() finds no program any more and drops it, after TCP acked
 * it), so the sender is first quieted: its window clamped to the least TCP allows until what it sent before has
 * come and no more than a trickle arrives (QUIET_TRICKLE in QUIET_USEC; at most QUIET_MAX_USEC). That makes the loss
 * rare (none in 60 detached downloads of 1 GiB, against 1 in 10 without), not impossible; then the launcher finds
 * the bytes missing and resets the connection: it never ends a damaged stream as a whole one. */
static void unquiet(side *from) {
        if (from->clamp_before > 0)
                (void) setsockopt(from->fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &from->clamp_before, sizeof(from->clamp_before));
        from->quiet_since = 0;
}

static void detach(kernel_relay *k, int i, uint64_t waiting) {
        static const char *const name[2] = { "client", "backend" };
        side *from = &k->s[i];
        int r = request(k->app, RELAY_REQUEST_DETACH, &from->fd, 1);

        unquiet(from);
        if (r > 0) {
                from->detached = true;
                log_debug("The %s sends faster than the %s takes (%" PRIu64 " bytes waited in the kernel): "
                          "relaying that direction ourselves", name[i], name[1 - i], waiting);
                return;
        }
        /* the supervisor is gone (then the kernel relays no more either) or busy: again in a while */
        from->retry_at = deadline_in(DETACH_RETRY_USEC);
        if (!from->refused)
                log_warning("Could not take the %s's bytes out of the in-kernel relay (%" PRIu64 " bytes wait there): "
                            "%s; trying again every second", name[i], waiting,
                            r < 0 ? "the supervisor did not answer" : "the supervisor refused or is gone");
        from->refused = true;
}

static void quiet(side *from) {
        static const int least = 1;
        socklen_t len = sizeof(from->clamp_before);
        struct tcp_info ti;

        from->clamp_before = 0;
        (void) getsockopt(from->fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &from->clamp_before, &len);
        (void) setsockopt(from->fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &least, sizeof(least));
        from->quiet_since = now_usec(CLOCK_MONOTONIC);
        from->quiet_received = tcp_info_of(from->fd, &ti) < 0 ? 0 : ti.tcpi_bytes_received;
}

/* Quiet enough to detach: a trickle since the last look, or quieted for long enough */
static bool quieted(side *from) {
        struct tcp_info ti;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (tcp_info_of(from->fd, &ti) < 0 || now - from->quiet_since >= QUIET_MAX_USEC)
                return true;
        bool trickle = ti.tcpi_bytes_received - from->quiet_received <= QUIET_TRICKLE;
        from->quiet_received = ti.tcpi_bytes_received;
        return trickle;
}

/* A side that sends faster than the other takes, past BACKLOG_MAX: quieted, then detached, so that TCP stops it as
 * it would any sender whose reader does not keep up, and we relay that direction ourselves. One that sent its FIN
 * can send no more: what it sent stays the kernel's to deliver. */
static void check_backlogs(kernel_relay *k) {
        for (int i = 0; i < 2; i++) {
                side *from = &k->s[i], *to = &k->s[1 - i];
                uint64_t waiting = 0;
                if (from->detached)
                        continue;
                if (from->eof) {
                        if (from->quiet_since)
                                unquiet(from);
                        continue;
                }
                if (now_usec(CLOCK_MONOTONIC) < from->retry_at || backlog(from, to, &waiting) < 0)
                        continue;
                if (from->quiet_since) {
                        if (quieted(from))
                                detach(k, i, waiting);
                } else if (waiting > BACKLOG_MAX)
                        quiet(from);
        }
}

/* From every 10 ms while bytes move to every 100 ms while none do */
static void schedule_check(kernel_relay *k) {
        if (k->s[0].detached && k->s[1].detached) {
                k->next_check = USEC_INFINITY;
                return;
        }
        bool moved = traffic(k, &k->check_seen);
        k->check_every = moved ? BACKLOG_CHECK_MIN_USEC
                               : k->check_every * 2 > BACKLOG_CHECK_MAX_USEC ? BACKLOG_CHECK_MAX_USEC : k->check_every * 2;
        k->next_check = deadline_in(k->check_every);
        for (int i = 0; i < 2; i++)
                if (k->s[i].quiet_since && QUIET_USEC < k->check_every)
                        k->next_check = deadline_in(QUIET_USEC);
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
        return e == EPIPE && ti.tcpi_state != TCPI_CLOSE ? -EPROTO : -ECONNRESET;
}

/* Until an event or UNTIL (CLOCK_MONOTONIC µs). 0 on a timeout, 1 when the connection is over, 2 with REV set,
 * -errno. */
static int wait_events(kernel_relay *k, uint64_t until, short rev[2]) {
        struct pollfd p[2];
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        for (int i = 0; i < 2; i++) {
                const side *s = &k->s[i], *other = &k->s[1 - i];
                p[i] = (struct pollfd){ .fd = s->fd, .events = s->eof || s->len > 0 ? 0 : POLLIN | POLLRDHUP };
                if (other->len > 0 && other->in_order) /* its chunk waits for our send space */
                        p[i].events |= POLLOUT;
                /* POLLHUP comes whatever we ask: on a side not done yet it would wake us at once, again and again */
                if (p[i].events == 0 && !s->done)
                        p[i].fd = -1;
        }
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

/* Chunks written on where they can be: 1 if one waits for the kernel's part, -errno. */
static int give_all(kernel_relay *k) {
        bool waiting = false;

        for (int i = 0; i < 2; i++) {
                if (k->s[i].len == 0)
                        continue;
                int r = give(&k->s[i], &k->s[1 - i], i);
                if (r < 0)
                        return r;
                waiting = waiting || r == 1;
        }
        return waiting;
}

static uint64_t next_step(uint64_t step, bool waiting) {
        if (!waiting)
                return 0;
        return step == 0 ? DELIVERY_STEP_MIN_USEC : step * 2 > DELIVERY_STEP_MAX_USEC ? DELIVERY_STEP_MAX_USEC : step * 2;
}

static int wait_end(kernel_relay *k, uint64_t idle_timeout, volatile sig_atomic_t *stop) {
        uint64_t idle_deadline = deadline_in(idle_timeout), step = 0;
        int r;

        (void) traffic(k, &k->seen);
        for (;;) {
                int chunk_waiting = give_all(k);
                if (chunk_waiting < 0)
                        return chunk_waiting;
                int eof_waiting = pass_eofs(k);
                if (eof_waiting < 0)
                        return eof_waiting;
                step = next_step(step, chunk_waiting || eof_waiting);
                if (k->s[0].done && k->s[1].done)
                        return 0;
                if (*stop)
                        return -EINTR;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= k->next_check) {
                        check_backlogs(k);
                        schedule_check(k);
                }
                uint64_t until = idle_deadline < k->next_check ? idle_deadline : k->next_check;
                if (step && usec_add(now, step) < until)
                        until = usec_add(now, step);
                short rev[2] = { 0, 0 };
                r = wait_events(k, until, rev);
                if (r < 0 || r == 1)
                        return r < 0 ? r : 0;
                if (now_usec(CLOCK_MONOTONIC) >= idle_deadline) {
                        if (!traffic(k, &k->seen))
                                return -ETIMEDOUT;
                        idle_deadline = deadline_in(idle_timeout);
                }
                for (int i = 0; i < 2; i++)
                        if (!k->s[i].eof && k->s[i].len == 0 && (rev[i] & (POLLIN | POLLRDHUP | POLLHUP)) &&
                            (r = take(&k->s[i], i)) < 0)
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
