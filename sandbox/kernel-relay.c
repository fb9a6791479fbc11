/* The in-kernel relay (--relay=kernel): a BPF sk_skb verdict program that hands every skb arriving on one socket of
 * a connection to the send path of the other, and relay.sock, where launchers hand us their two sockets.
 *
 * Two socket hashes, both keyed by socket cookies. "peers" holds each socket under its peer's cookie, so that the
 * program finds where an skb goes by its own socket's cookie, with no second lookup. "sources" carries the program:
 * a socket inserted there starts being relayed. Both sockets go into peers first, so that neither can be relayed
 * before its peer can be found; then into sources. Data that arrived before that sits in the receive queue, which the
 * verdict path reads only when more arrives: SO_RCVLOWAT wakes it at once (tcp_set_rcvlowat calls sk_data_ready).
 *
 * The kernel takes a socket out of every socket map when it is closed, so nothing is ever deleted here: we close our
 * copies right after inserting, and the launcher's close ends the entries. A third map, "flows", is the program's
 * own (where each socket's relayed bytes end: see relay-prog.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "launchers.h"
#include "log.h"
#include "macro.h"
#include "options.h"
#include "relay-prog.h"
#include "state.h"
#include "supervisor.h"

#define RELAY_MAP_ENTRIES 65536
/* How long a launcher that connected may take to send its sockets (it sends them right after its connect), and how
 * many are served before the supervisor's loop goes on: a silent one costs that wait, then it is closed and its
 * launcher splices, so a hundred of them stall the loop for a moment, never for seconds. */
#define RELAY_REQUEST_MS 20
#define RELAY_REQUESTS_PER_TURN 16

static long sys_bpf(int cmd, union bpf_attr *attr) {
        return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int map_create(const char *name, uint32_t type, uint32_t value_size, uint32_t entries) {
        union bpf_attr a = { .map_type = type, .key_size = sizeof(uint64_t), .value_size = value_size,
                             .max_entries = entries };
        snprintf(a.map_name, sizeof(a.map_name), "%s", name);
        int fd = (int) sys_bpf(BPF_MAP_CREATE, &a);
        return fd < 0 ? -errno : fd;
}

static int sockhash_create(const char *name) {
        return map_create(name, BPF_MAP_TYPE_SOCKHASH, sizeof(uint64_t), RELAY_MAP_ENTRIES);
}

/* Keyed by socket cookie, which the kernel never reuses. Nobody deletes: the entries of closed sockets are the least
 * recently used and go first, and there is room for as many sockets as "peers" can hold. */
static int flows_create(void) {
        uint32_t entries = RELAY_MAP_ENTRIES;
#ifdef EMBER_TEST_HOOKS
        /* Test builds only: EMBER_TEST_RELAY_FLOWS=N makes it N entries, fewer than live sockets, to show that an
         * entry the LRU takes from a live socket costs nothing (tests/inetd/kernel-lru.sh). */
        const char *n = getenv("EMBER_TEST_RELAY_FLOWS");
        if (n && atoi(n) > 0)
                entries = (uint32_t) atoi(n);
#endif
        return map_create("ember_flows", BPF_MAP_TYPE_LRU_HASH, sizeof(uint32_t), entries);
}

static int verdict_attach(int map, int prog) {
        union bpf_attr a = { .target_fd = (uint32_t) map, .attach_bpf_fd = (uint32_t) prog,
                             .attach_type = BPF_SK_SKB_STREAM_VERDICT };
        return sys_bpf(BPF_PROG_ATTACH, &a) < 0 ? -errno : 0;
}

/* The maps and the program; -errno where BPF is unavailable or refused (no CAP_BPF, CAP_NET_ADMIN, old kernel). */
static int relay_maps_open(supervisor *s) {
        _cleanup_close_ int peers = -1, sources = -1, flows = -1, prog = -1;
        int r;

        peers = sockhash_create("ember_peers");
        if (peers < 0)
                return peers;
        sources = sockhash_create("ember_sources");
        if (sources < 0)
                return sources;
        flows = flows_create();
        if (flows < 0)
                return flows;
        prog = relay_prog_load(peers, flows); /* it holds the maps it names: flows lives as long as it does */
        if (prog < 0)
                return prog;
        r = verdict_attach(sources, prog);
        if (r < 0)
                return r;
        s->relay_peers = take_fd(&peers);
        s->relay_sources = take_fd(&sources);
        s->relay_flows = take_fd(&flows);
        return 0; /* the program lives as long as the map it is attached to */
}

/* relay.sock is root's and the launchers' group's (launch_group()), 0660, from the moment it exists: bound with that
 * group as the file system group, never chown'ed by name. */
static int bind_for_launchers(int fd, const struct sockaddr_un *sa) {
        mode_t old_umask;
        int r;

        old_umask = umask(launch_group() == 0 ? 0177 : 0117);
        (void) setfsgid(launch_group());
        r = bind(fd, (const struct sockaddr *) sa, sizeof(*sa)) < 0 ? -errno : 0;
        (void) setfsgid(getegid());
        umask(old_umask);
        return r;
}

static int relay_socket_open(supervisor *s) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r;

        if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" STATE_RELAY_SOCK, s->dir_path) >= (int) sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        (void) unlinkat(s->dirfd, STATE_RELAY_SOCK, 0);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = bind_for_launchers(fd, &sa);
        if (r < 0)
                return r;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        s->relay_fd = take_fd(&fd);
        return 0;
}

void kernel_relay_open(supervisor *s) {
        int r;

        if (!s->opt->relay_kernel)
                return;
        r = relay_maps_open(s);
        if (r >= 0)
                r = relay_socket_open(s);
        if (r < 0) {
                kernel_relay_stop(s);
                closep(&s->relay_peers);
                closep(&s->relay_sources);
                closep(&s->relay_flows);
                log_warning_errno(r, "In-kernel relay unavailable (BPF sockmap: needs CAP_BPF and CAP_NET_ADMIN); "
                                  "connections are relayed with splice");
                return;
        }
        log_info("In-kernel relay ready: connections are relayed by a BPF sockmap");
}

/* The maps stay until we exit: what the kernel is still sending of a connection that ends gets there. */
void kernel_relay_stop(supervisor *s) {
        if (s->relay_fd >= 0)
                (void) unlinkat(s->dirfd, STATE_RELAY_SOCK, 0);
        closep(&s->relay_fd);
}

static int map_insert(int map, uint64_t key, int fd) {
        uint64_t value = (uint64_t) fd;
        union bpf_attr a = { .map_fd = (uint32_t) map, .key = (uintptr_t) &key, .value = (uintptr_t) &value,
                             .flags = BPF_ANY };
        return sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? -errno : 0;
}

static void map_delete(int map, uint64_t key) {
        union bpf_attr a = { .map_fd = (uint32_t) map, .key = (uintptr_t) &key };
        (void) sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

static int socket_cookie(int fd, uint64_t *ret) {
        socklen_t len = sizeof(*ret);
        return getsockopt(fd, SOL_SOCKET, SO_COOKIE, ret, &len) < 0 ? -errno : 0;
}

/* Only connected TCP sockets are relayed: the keys come from the sockets themselves, never from the launcher. */
static int check_tcp(int fd) {
        int v = 0;
        socklen_t len = sizeof(v);

        if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) < 0)
                return -errno;
        return v == IPPROTO_TCP ? 0 : -EPROTOTYPE;
}

/* Peers first (both findable), then sources (relayed from now on), then the wake-up for what was queued before. */
static int relay_pair(supervisor *s, const int fd[2]) {
        static const int one = 1;
        uint64_t cookie[2];
        int r;

        for (int i = 0; i < 2; i++) {
                r = check_tcp(fd[i]);
                if (r < 0)
                        return r;
                r = socket_cookie(fd[i], &cookie[i]);
                if (r < 0)
                        return r;
        }
        for (int i = 0; i < 2; i++)
                if ((r = map_insert(s->relay_peers, cookie[1 - i], fd[i])) < 0)
                        return r;
        r = map_insert(s->relay_sources, cookie[0], fd[0]);
        if (r < 0)
                return r;
        r = map_insert(s->relay_sources, cookie[1], fd[1]);
        if (r < 0) { /* the launcher splices then: the first must not be relayed by us as well */
                map_delete(s->relay_sources, cookie[0]);
                return r;
        }
        for (int i = 0; i < 2; i++)
                (void) setsockopt(fd[i], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
        return 0;
}

/* A socket of a connection out of "sources": the program no longer reads it, its bytes stay in its receive queue for
 * the launcher, and TCP's window closes when the launcher stops taking them. It stays in "peers": what is redirected
 * to it still gets there. */
static int relay_detach(supervisor *s, int fd) {
        uint64_t cookie;
        int r = check_tcp(fd);

        if (r >= 0)
                r = socket_cookie(fd, &cookie);
        if (r < 0)
                return r;
        union bpf_attr a = { .map_fd = (uint32_t) s->relay_sources, .key = (uintptr_t) &cookie };
        return sys_bpf(BPF_MAP_DELETE_ELEM, &a) < 0 ? -errno : 0;
}

/* One request (protocol.h): RELAY_REQUEST_PAIR and the two sockets (client, backend), or RELAY_REQUEST_DETACH and
 * one. The answer is RELAY_ANSWER_DONE or RELAY_ANSWER_NOT. */
static void serve_request(supervisor *s, int conn) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control;
        char c = 0;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct pollfd p = { .fd = conn, .events = POLLIN };
        int fd[2] = { -1, -1 }, r = -EBADMSG;

        if (poll(&p, 1, RELAY_REQUEST_MS) <= 0 || recvmsg(conn, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
                return;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        size_t n = h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS ?
                           (h->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
        if (n > 0 && n <= 2)
                memcpy(fd, CMSG_DATA(h), n * sizeof(int));
        else /* the wrong number of fds: close what came */
                for (size_t i = 0; i < n; i++)
                        close(((int *) CMSG_DATA(h))[i]);
        if (c == RELAY_REQUEST_PAIR && n == 2)
                r = relay_pair(s, fd);
        else if (c == RELAY_REQUEST_DETACH && n == 1)
                r = relay_detach(s, fd[0]);
        if (r < 0 && r != -EPROTOTYPE)
                log_debug("In-kernel relay refused a request (0x%02x, %zu fds): %s", (unsigned char) c, n, strerror(-r));
        (void) send(conn, &(char){ r >= 0 ? RELAY_ANSWER_DONE : RELAY_ANSWER_NOT }, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        closep(&fd[0]);
        closep(&fd[1]);
}

void accept_relays(supervisor *s) {
        for (unsigned n = 0; n < RELAY_REQUESTS_PER_TURN; n++) {
                _cleanup_close_ int conn = accept4(s->relay_fd, NULL, NULL, SOCK_CLOEXEC);
                if (conn < 0)
                        return;
                serve_request(s, conn);
        }
}
