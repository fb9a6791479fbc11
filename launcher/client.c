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

/* Waits until FD is readable or DEADLINE: 1 (*HUNG_UP if the peer also closed), 0 at the deadline, or -errno. */
static int readable_by(int fd, uint64_t deadline, bool *hung_up) {
        struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
        int r;

        for (;;) {
                r = poll(&p, 1, poll_ms_until(deadline));
                if (r > 0) {
                        *hung_up = p.revents & (POLLRDHUP | POLLHUP);
                        return 1;
                }
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return 0;
        }
}

int client_read_proxy_header(int fd, uint64_t deadline, proxy_header *ret, const char **why) {
        uint8_t buf[PROXY_HEADER_MAX];
        size_t seen = 0;

        for (;;) {
                bool hung_up = false;
                int r = readable_by(fd, deadline, &hung_up);
                if (r == 0) {
                        *why = "no complete PROXY header within the deadline";
                        return -ETIMEDOUT;
                }
                if (r < 0)
                        return r;
                /* peek: the client's own bytes after the header must stay for the relay */
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == ECONNRESET && seen == 0)
                        return 0; /* reset before a byte: nothing was asked */
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0; /* closed before a byte: nothing was asked */
                r = proxy_parse(buf, (size_t) n, ret, why);
                if (r < 0)
                        return r;
                if (r > 0)
                        return recv(fd, buf, (size_t) r, MSG_WAITALL) == r ? 1 : -EIO;
                if ((size_t) n == sizeof(buf)) {
                        *why = "PROXY header longer than the longest allowed";
                        return -EBADMSG;
                }
                if (hung_up) {
                        *why = "the connection closed in the middle of the PROXY header";
                        return -EBADMSG;
                }
                if ((size_t) n == seen) /* nothing new yet: the rest of the header is on its way */
                        (void) poll(NULL, 0, 5);
                seen = (size_t) n;
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
