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
 * copies right after inserting, and the launcher's close ends the entries. A third map, "next_seq", is the program's
 * own (where each socket's relayed bytes end: see verdict_prog). The program is loaded from a struct bpf_insn
 * array with bpf(2), as lockdown.c builds its seccomp filter: no compiler, no libbpf. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
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
static int next_seq_create(void) {
        return map_create("ember_next_seq", BPF_MAP_TYPE_LRU_HASH, sizeof(uint32_t), RELAY_MAP_ENTRIES);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
/* the two 8-byte halves of "reg = map": imm is a placeholder (MAP_*) that verdict_load replaces with the fd */
#define LD_MAP(reg, which) INSN(BPF_LD | BPF_IMM | BPF_DW, reg, BPF_PSEUDO_MAP_FD, 0, which), INSN(0, 0, 0, 0, 0)
#define MAP_PEERS 1
#define MAP_NEXT 2
/* skb_adjust_room takes at most 4095 bytes off at a time; up to 160 times (640 KiB, twice the largest skb seen here) */
#define TRIM_STEP 4095
#define TRIM_STEPS 160

/* The verdict on each skb read off a relayed socket (tcp_read_skb hands over whole skbs, in order):
 *
 *   if (len == 0) return SK_DROP;        the FIN's empty skb, see below
 *   key = bpf_get_socket_cookie(skb);
 *   end = cb[0] + len;                    cb[0]: the skb's TCP sequence number (TCP_SKB_CB(skb)->seq)
 *   next = lookup(next_seq, key);         where the bytes relayed so far from this socket end
 *   if (next) {
 *           d = *next - cb[0];            bytes at its head that were relayed already
 *           if (d >= len) return SK_DROP;
 *           if (d > 0) cut d bytes off its head: d / 4095 times 4095, then d % 4095 (bpf_skb_adjust_room takes
 *                      4095 at most), or return SK_DROP;
 *           *next = end;
 *   } else update(next_seq, key, end);
 *   bpf_sk_redirect_hash(skb, peers, &key, 0);   to the peer's egress; no peer (it is closing): stays with us
 *   return SK_PASS;                              a redirect counts only with SK_PASS; without one the skb stays
 *
 * Both drops are the kernel's (Linux 6.18) and would otherwise lose or repeat bytes:
 * - A retransmitted segment that overlaps what arrived before is queued whole (tcp_data_queue, "partial packet"),
 *   for readers to skip the overlap by copied_seq; tcp_read_skb does not skip it, so without the cut the peer would
 *   get those bytes twice. A peer's spurious retransmissions (tail loss probes under load) do this.
 * - The FIN's skb carries no byte and its meaning lives in the socket (RCV_SHUTDOWN, SOCK_DONE: recv() says EOF
 *   without it). Redirected, the peer's send path takes its zero length for an error; passed, it joins this
 *   socket's backlog whenever bytes redirected to this socket wait there for send space, and the backlog worker
 *   (sk_psock_backlog) takes the 0 its ingress returns for a hard error: EPIPE here, every byte redirected to this
 *   socket from then on dropped.
 * A cut that fails (no memory) drops the skb: the launcher finds the bytes missing and resets the connection. */
static const struct bpf_insn verdict_prog[] = {
        /*  0 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
        /*  1 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, len), 0),
        /*  2 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 2, 0),
        /*  3 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_DROP),
        /*  4 */ INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        /*  5 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
        /*  6 */ INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_0, -8, 0),
        /*  7 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_8, BPF_REG_6, offsetof(struct __sk_buff, cb), 0),
        /*  8 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, len), 0),
        /*  9 */ INSN(BPF_ALU | BPF_ADD | BPF_X, BPF_REG_8, BPF_REG_2, 0, 0),
        /* 10 */ INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_8, -16, 0),
        /* 11 */ LD_MAP(BPF_REG_1, MAP_NEXT),
        /* 13 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
        /* 14 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
        /* 15 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
        /* 16 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 9, 0),
        /* 17 */ LD_MAP(BPF_REG_1, MAP_NEXT),
        /* 19 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
        /* 20 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
        /* 21 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),
        /* 22 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -16),
        /* 23 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, BPF_ANY),
        /* 24 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem),
        /* 25 */ INSN(BPF_JMP | BPF_JA, 0, 0, 32, 0),
        /* 26 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_0, 0, 0),
        /* 27 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_9, BPF_REG_7, 0, 0),
        /* 28 */ INSN(BPF_ALU | BPF_SUB | BPF_X, BPF_REG_9, BPF_REG_8, 0, 0),
        /* 29 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, len), 0),
        /* 30 */ INSN(BPF_ALU | BPF_ADD | BPF_X, BPF_REG_9, BPF_REG_2, 0, 0),
        /* 31 */ INSN(BPF_JMP32 | BPF_JSLE | BPF_K, BPF_REG_9, 0, 25, 0),
        /* 32 */ INSN(BPF_JMP32 | BPF_JGE | BPF_X, BPF_REG_9, BPF_REG_2, 34, 0),
        /* 33 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_9, 0, 0),
        /* 34 */ INSN(BPF_ALU | BPF_DIV | BPF_K, BPF_REG_1, 0, 0, TRIM_STEP),
        /* 35 */ INSN(BPF_JMP | BPF_JGT | BPF_K, BPF_REG_1, 0, 31, TRIM_STEPS),
        /* 36 */ INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, -24, 0),
        /* 37 */ INSN(BPF_ALU | BPF_MOD | BPF_K, BPF_REG_9, 0, 0, TRIM_STEP),
        /* 38 */ INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_10, -24, 0),
        /* 39 */ INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 9, 0),
        /* 40 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, -1),
        /* 41 */ INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, -24, 0),
        /* 42 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
        /* 43 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, -TRIM_STEP),
        /* 44 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
        /* 45 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
        /* 46 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_adjust_room),
        /* 47 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 19, 0),
        /* 48 */ INSN(BPF_JMP | BPF_JA, 0, 0, -11, 0),
        /* 49 */ INSN(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_9, 0, 7, 0),
        /* 50 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
        /* 51 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_9, 0, 0),
        /* 52 */ INSN(BPF_ALU64 | BPF_NEG, BPF_REG_2, 0, 0, 0),
        /* 53 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
        /* 54 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
        /* 55 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_adjust_room),
        /* 56 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 10, 0),
        /* 57 */ INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_7, BPF_REG_8, 0, 0),
        /* 58 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
        /* 59 */ LD_MAP(BPF_REG_2, MAP_PEERS),
        /* 61 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),
        /* 62 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -8),
        /* 63 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
        /* 64 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash),
        /* 65 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_PASS),
        /* 66 */ INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        /* 67 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_DROP),
        /* 68 */ INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
};

static int prog_load(const struct bpf_insn *prog, size_t n, char *log, size_t log_size) {
        union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SK_SKB, .insns = (uintptr_t) prog, .insn_cnt = (uint32_t) n,
                             .license = (uintptr_t) "GPL", .log_buf = (uintptr_t) log, .log_size = (uint32_t) log_size,
                             .log_level = log ? 1 : 0 };
        snprintf(a.prog_name, sizeof(a.prog_name), "ember_relay");
        int fd = (int) sys_bpf(BPF_PROG_LOAD, &a);
        return fd < 0 ? -errno : fd;
}

/* The program holds the maps it names: next_seq lives as long as it does. */
static int verdict_load(int peers, int next) {
        struct bpf_insn prog[ELEMENTSOF(verdict_prog)];
        static char log[65536];

        memcpy(prog, verdict_prog, sizeof(prog));
        for (size_t i = 0; i < ELEMENTSOF(prog); i++)
                if (prog[i].code == (BPF_LD | BPF_IMM | BPF_DW) && prog[i].src_reg == BPF_PSEUDO_MAP_FD)
                        prog[i].imm = prog[i].imm == MAP_PEERS ? peers : next;
        int fd = prog_load(prog, ELEMENTSOF(prog), NULL, 0);
        if (fd < 0 && prog_load(prog, ELEMENTSOF(prog), log, sizeof(log)) < 0) /* again, for the verifier's word */
                log_debug("BPF verifier: %s", log);
        return fd;
}

static int verdict_attach(int map, int prog) {
        union bpf_attr a = { .target_fd = (uint32_t) map, .attach_bpf_fd = (uint32_t) prog,
                             .attach_type = BPF_SK_SKB_STREAM_VERDICT };
        return sys_bpf(BPF_PROG_ATTACH, &a) < 0 ? -errno : 0;
}

/* The maps and the program; -errno where BPF is unavailable or refused (no CAP_BPF, CAP_NET_ADMIN, old kernel). */
static int relay_maps_open(supervisor *s) {
        _cleanup_close_ int peers = -1, sources = -1, next = -1, prog = -1;
        int r;

        peers = sockhash_create("ember_peers");
        if (peers < 0)
                return peers;
        sources = sockhash_create("ember_sources");
        if (sources < 0)
                return sources;
        next = next_seq_create();
        if (next < 0)
                return next;
        prog = verdict_load(peers, next);
        if (prog < 0)
                return prog;
        r = verdict_attach(sources, prog);
        if (r < 0)
                return r;
        s->relay_peers = take_fd(&peers);
        s->relay_sources = take_fd(&sources);
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

        if (!arg_relay_kernel)
                return;
        r = relay_maps_open(s);
        if (r >= 0)
                r = relay_socket_open(s);
        if (r < 0) {
                kernel_relay_stop(s);
                closep(&s->relay_peers);
                closep(&s->relay_sources);
                s->relay_peers = s->relay_sources = -1;
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
        s->relay_fd = -1;
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

/* One request: a byte and the two sockets (client, backend); the answer is "1" (relayed in the kernel from now on)
 * or "0" (not: the launcher splices). */
static void serve_request(supervisor *s, int conn) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control;
        char c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct pollfd p = { .fd = conn, .events = POLLIN };
        int fd[2] = { -1, -1 }, r = -EBADMSG;

        if (poll(&p, 1, RELAY_REQUEST_MS) <= 0 || recvmsg(conn, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
                return;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len == CMSG_LEN(sizeof(fd))) {
                memcpy(fd, CMSG_DATA(h), sizeof(fd));
                r = relay_pair(s, fd);
        } else if (h && h->cmsg_type == SCM_RIGHTS) /* the wrong number of fds: close what came */
                for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                        close(((int *) CMSG_DATA(h))[i]);
        if (r < 0 && r != -EPROTOTYPE)
                log_debug("In-kernel relay refused a connection: %s", strerror(-r));
        (void) send(conn, r >= 0 ? "1" : "0", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
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
