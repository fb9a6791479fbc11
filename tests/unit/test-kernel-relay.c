/* The in-kernel relay's count of what the kernel took from a socket (launcher/kernel-relay.c), on real loopback
 * TCP connections with nothing in between: then it took nothing, whatever the socket's state. In particular a FIN
 * that came after ours (FIN_WAIT2 to CLOSE, bytes still to read) counts as the FIN, not as a byte: taken for one,
 * it made the launcher take a healthy connection for damaged and reset it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel-relay.h"
#include "tap.h"

#if ENABLE_KERNEL_RELAY

/* A connected pair: *ours (accepted, as the launcher's client socket) and *peer */
static int pair(int *ours, int *peer) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (l < 0 || bind(l, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        *peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (*peer < 0 || connect(*peer, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        *ours = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        close(l);
        return *ours < 0 ? -errno : 0;
}

static void settle(void) {
        (void) poll(NULL, 0, 50);
}

static uint64_t took(int fd, bool detached) {
        kernel_relay_side s = { .fd = fd, .detached = detached };
        uint64_t n = 12345;
        int r = kernel_relay_took(&s, &n);
        return r < 0 ? (uint64_t) r : n;
}

static void check(const char *how, bool detached, bool our_fin_first) {
        static const char data[1000] = { 'x' };
        char buf[16];
        int ours = -1, peer = -1;

        if (pair(&ours, &peer) < 0) {
                ok(tap_fmt("%s: a loopback TCP connection", how), false);
                return;
        }
        (void) send(peer, data, sizeof(data), 0);
        settle();
        is_int(tap_fmt("%s: 1000 bytes waiting to be read: nothing taken", how), (long) took(ours, detached), 0);
        if (our_fin_first) {
                (void) shutdown(ours, SHUT_WR);
                settle();
                while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        ;
        }
        (void) shutdown(peer, SHUT_WR);
        settle();
        is_int(tap_fmt("%s: and the peer's FIN (%s): nothing taken", how,
                       our_fin_first ? "after ours: CLOSE" : "first: CLOSE_WAIT"),
               (long) took(ours, detached), 0);
        close(ours);
        close(peer);
}

int main(void) {
        plan(8);
        check("in the kernel's hands", false, false);
        check("in the kernel's hands", false, true);
        check("detached", true, false);
        check("detached", true, true);
        return done();
}
#else
int main(void) {
        printf("1..0 # SKIP this build has no in-kernel relay (experimental: ./configure --enable-kernel-relay)\n");
        return 0;
}
#endif
