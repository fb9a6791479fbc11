/* The client's side before the relay: who it really is (the socket's peer, or what an upstream balancer's PROXY
 * header says), and, under --accept-proxy-protocol, that header read strictly before anything is woken. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client.h"
#include "timeutil.h"

int client_socket_addresses(int fd, proxy_header *ret) {
        socklen_t src_len = sizeof(ret->src), dst_len = sizeof(ret->dst);

        *ret = (proxy_header){ .version = 0, .family = AF_UNSPEC };
        if (getpeername(fd, (struct sockaddr *) &ret->src, &src_len) < 0 ||
            getsockname(fd, (struct sockaddr *) &ret->dst, &dst_len) < 0)
                return -errno;
        ret->family = ret->src.ss_family;
        ret->src_len = src_len;
        ret->dst_len = dst_len;
        return 0;
}

/* Waits in poll(), costing no CPU, until FD is readable or DEADLINE: 1, 0 once DEADLINE has passed (checked first, so
 * that a client whose bytes keep coming cannot stretch it), or -errno. The caller consumes what it has looked at,
 * so readable means new bytes, end-of-file or an error: never the same bytes again. */
static int readable_by(int fd, uint64_t deadline) {
        struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

        for (;;) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return 0;
                int r = poll(&p, 1, poll_ms_until(deadline));
                if (r > 0)
                        return 1;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

/* The header is read as it arrives, each piece peeked, parsed with all before it, and consumed: bytes of a header
 * that is not complete yet are all the header's (it goes on past them), and a header that is complete is taken to
 * its last byte, so the client's own bytes after it are never read here. */
int client_read_proxy_header(int fd, uint64_t deadline, proxy_header *ret, const char **why) {
        uint8_t buf[PROXY_HEADER_MAX];
        size_t taken = 0; /* bytes of the header consumed so far */

        for (;;) {
                int r = readable_by(fd, deadline);
                if (r == 0) {
                        *why = "no complete PROXY header within the deadline";
                        return -ETIMEDOUT;
                }
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, buf + taken, sizeof(buf) - taken, MSG_PEEK | MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0 && errno == ECONNRESET && taken == 0)
                        return 0; /* reset before a byte: nothing was asked */
                if (n < 0)
                        return -errno;
                if (n == 0 && taken == 0)
                        return 0; /* closed before a byte: nothing was asked */
                if (n == 0) {
                        *why = "the connection closed in the middle of the PROXY header";
                        return -EBADMSG;
                }
                r = proxy_parse(buf, taken + (size_t) n, ret, why);
                if (r < 0)
                        return r;
                /* complete: up to its end, which lies in what was peeked; else all of it */
                size_t take = r > 0 ? (size_t) r - taken : (size_t) n;
                if (recv(fd, buf + taken, take, MSG_WAITALL) != (ssize_t) take)
                        return -EIO;
                if (r > 0)
                        return 1;
                taken += take;
                if (taken == sizeof(buf)) {
                        *why = "PROXY header longer than the longest allowed";
                        return -EBADMSG;
                }
        }
}

int client_send_proxy_header(int backend, const proxy_header *client, int version) {
        uint8_t buf[PROXY_HEADER_MAX];
        int n = proxy_encode(client, version, buf, sizeof(buf));

        if (n < 0)
                return n;
        /* in one piece, as the spec asks: a fresh socket's buffer takes a few hundred bytes */
        ssize_t w = send(backend, buf, (size_t) n, MSG_NOSIGNAL);
        return w == n ? 0 : w < 0 ? -errno : -EIO;
}
