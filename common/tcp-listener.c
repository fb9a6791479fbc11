#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include "macro.h"
#include "tcp-listener.h"

#define TCP_STATE_LISTEN 10 /* netinet/tcp.h has it in an enum only some libcs define */
#define LOOPBACK_IFINDEX 1  /* lo is the first device of every network namespace */

/* What a connection to the target reaches: its port, and its address as IPv4 (if it is one, or v4-mapped) and as
 * IPv6. */
typedef struct target {
        uint16_t port; /* network order, as sock_diag reports it */
        bool is_v4;
        struct in_addr v4;
        struct in6_addr v6; /* IPv4 targets as ::ffff:a.b.c.d */
} target;

static int target_of(const ember_addr *a, target *t) {
        *t = (target){};
        if (a->sa.sa_family == AF_INET) {
                t->port = a->in.sin_port;
                t->is_v4 = true;
                t->v4 = a->in.sin_addr;
                t->v6.s6_addr[10] = t->v6.s6_addr[11] = 0xff;
                memcpy(&t->v6.s6_addr[12], &t->v4, 4);
        } else if (a->sa.sa_family == AF_INET6) {
                t->port = a->in6.sin6_port;
                t->v6 = a->in6.sin6_addr;
                t->is_v4 = IN6_IS_ADDR_V4MAPPED(&t->v6);
                if (t->is_v4)
                        memcpy(&t->v4, &t->v6.s6_addr[12], 4);
        } else
                return -EAFNOSUPPORT;
        return t->port ? 0 : -EINVAL;
}

/* The kernel's own answer to "which socket would a connection to T get": a SOCK_DIAG_BY_FAMILY request for one
 * socket (not a dump) runs the lookup an arriving SYN runs (established sockets first, none of which has our
 * made-up peer, then the best listener: T's own address over a wildcard, IPv6 ones that are not IPV6_V6ONLY
 * included for IPv4), from loopback, where every local connection comes in. It costs a hash lookup; a dump of the
 * listeners walks every bucket of the listening hash (~100 us here). One socket is enough to judge: listeners that
 * could share a connection's address are either one reuseport group, which the kernel keeps to one user, or
 * cannot both listen (bind and listen refuse the overlap). */
static int lookup(const target *t, tcp_listener *out) {
        _cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        struct {
                struct nlmsghdr h;
                struct inet_diag_req_v2 r;
        } req = {
                .h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
                .r = { .sdiag_family = t->is_v4 ? AF_INET : AF_INET6, .sdiag_protocol = IPPROTO_TCP,
                       .idiag_states = ~0U,
                       .id = { .idiag_sport = t->port, .idiag_dport = htons(1), .idiag_if = LOOPBACK_IFINDEX,
                               .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
        };
        union {
                struct nlmsghdr h;
                char buf[4096];
        } u;
        ssize_t len;

        if (t->is_v4) {
                req.r.id.idiag_src[0] = t->v4.s_addr;
                req.r.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
        } else {
                memcpy(req.r.id.idiag_src, &t->v6, sizeof(t->v6));
                memcpy(req.r.id.idiag_dst, &in6addr_loopback, sizeof(in6addr_loopback));
        }
        if (nl < 0)
                return -errno;
        if (send(nl, &req, sizeof(req), 0) < 0)
                return -errno;
        do
                len = recv(nl, &u, sizeof(u), 0);
        while (len < 0 && errno == EINTR);
        if (len < 0)
                return -errno;
        if (!NLMSG_OK(&u.h, (size_t) len))
                return -EPROTO;
        if (u.h.nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(&u.h);
                return e->error == -ENOENT ? 0 : e->error < 0 ? e->error : -EPROTO; /* ENOENT: nobody listens */
        }
        if (u.h.nlmsg_type != SOCK_DIAG_BY_FAMILY || u.h.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                return -EPROTO;
        const struct inet_diag_msg *m = NLMSG_DATA(&u.h);
        if (m->idiag_state != TCP_STATE_LISTEN)
                return 0;
        *out = (tcp_listener){ .inode = m->idiag_inode, .uid = m->idiag_uid };
        return 1;
}

int tcp_listeners_find(const ember_addr *a, tcp_listener *out, size_t n) {
        target t;
        int r;

        r = target_of(a, &t);
        if (r < 0)
                return r;
        return n > 0 ? lookup(&t, out) : 0;
}

/* /proc/PID/fd's links are readable by whoever may ptrace-read PID (PTRACE_MODE_READ_FSCREDS): its own user, or
 * CAP_SYS_PTRACE, which the backend unit does not give the supervisor (systemd-analyze security counts it). Root has
 * CAP_SETUID and CAP_SETGID, so it takes the process's user's file system ids, which that check reads, for the one
 * scan: /proc/PID is owned by the process's effective ids while it is dumpable (and by root while it is not, which
 * only CAP_SYS_PTRACE may read). Returns whether it switched; as_ourselves() switches back. */
static bool as_owner_of(int pid_dir) {
        struct stat st;

        if (geteuid() != 0 || fstat(pid_dir, &st) < 0 || st.st_uid == 0)
                return false;
        (void) setfsgid(st.st_gid);
        (void) setfsuid(st.st_uid);
        return true;
}

static void as_ourselves(bool switched) {
        if (!switched)
                return;
        (void) setfsuid(0);
        (void) setfsgid(0);
}

static int socket_inode_of(int fd_dir, const char *name, uint64_t *ret) {
        char link[64];
        ssize_t n = readlinkat(fd_dir, name, link, sizeof(link) - 1);

        if (n < 0)
                return -errno;
        link[n] = '\0';
        return sscanf(link, "socket:[%" SCNu64 "]", ret) == 1 ? 0 : -ENOTSOCK;
}

/* One descriptor NAME of FD_DIR: marks the listener it is, if any. Returns -EACCES if it could not be read. */
static int check_fd(int fd_dir, const char *name, tcp_listener *l, size_t n, size_t *held) {
        uint64_t inode;
        int r = socket_inode_of(fd_dir, name, &inode);

        if (r < 0)
                return r == -EACCES ? r : 0;
        for (size_t i = 0; i < n; i++)
                if (!l[i].held && l[i].inode == inode) {
                        l[i].held = true;
                        (*held)++;
                }
        return 0;
}

/* A server opens its listener early: descriptors 0 to LOW_FDS - 1 are looked up by number first. Reading the
 * directory instead makes the kernel build an entry for every descriptor the process has (~4 us each here). */
#define LOW_FDS 16

static int scan_fds(int fd_dir, tcp_listener *l, size_t n, size_t *held) {
        struct dirent *de;
        bool denied = false;
        char name[16];
        DIR *d;

        for (int i = 0; i < LOW_FDS && *held < n; i++) {
                snprintf(name, sizeof(name), "%d", i);
                denied = check_fd(fd_dir, name, l, n, held) == -EACCES || denied;
        }
        if (*held == n || denied)
                return denied ? -EACCES : 0;
        _cleanup_close_ int dup_fd = fcntl(fd_dir, F_DUPFD_CLOEXEC, 3); /* closedir() closes it, not the caller's */
        if (dup_fd < 0 || !(d = fdopendir(dup_fd)))
                return -errno;
        dup_fd = -1;
        while (*held < n && (de = readdir(d))) {
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                if (*end || fd < LOW_FDS)
                        continue;
                denied = check_fd(dirfd(d), de->d_name, l, n, held) == -EACCES || denied;
        }
        closedir(d);
        return denied ? -EACCES : 0;
}

static int held_in(int pid_dir, tcp_listener *l, size_t n) {
        bool switched = as_owner_of(pid_dir);
        _cleanup_close_ int fd = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t held = 0;
        int r;

        for (size_t i = 0; i < n; i++)
                held += l[i].held;
        r = fd < 0 ? -errno : scan_fds(fd, l, n, &held);
        as_ourselves(switched);
        /* a process that is not dumpable (PR_SET_DUMPABLE 0, or changed its ids) shows its descriptors only to
         * CAP_SYS_PTRACE: its directory opens, its links do not */
        if (r == -EACCES)
                return held < n ? -EACCES : (int) held;
        return r < 0 ? r : (int) held;
}

static int open_pid_dir(pid_t pid) {
        char path[32];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd >= 0 ? fd : -errno;
}

int tcp_listeners_held_by(pid_t pid, tcp_listener *l, size_t n) {
        _cleanup_close_ int dir = open_pid_dir(pid);

        return dir < 0 ? dir : held_in(dir, l, n);
}

static void read_comm(int pid_dir, char comm[static 16]) {
        _cleanup_close_ int fd = openat(pid_dir, "comm", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, comm, 15) : -1;

        comm[n > 0 ? n : 0] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
}

int tcp_listener_holder(uint64_t inode, uid_t uid, pid_t *ret_pid, char comm[static 16]) {
        _cleanup_close_ int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;
        int r = -ESRCH;

        if (proc < 0)
                return -errno;
        d = fdopendir(proc);
        if (!d)
                return -errno;
        proc = -1;
        while (r == -ESRCH && (de = readdir(d))) {
                _cleanup_close_ int pid_dir = -1;
                tcp_listener l = { .inode = inode };
                struct stat st;
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 0)
                        continue;
                pid_dir = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* the socket's maker is, nearly always, its holder: look at that user's processes only (/proc/PID is
                 * owned by the process's effective uid, by root's while it is not dumpable) */
                if (pid_dir < 0 || fstat(pid_dir, &st) < 0 || st.st_uid != uid)
                        continue;
                if (held_in(pid_dir, &l, 1) == 1) {
                        *ret_pid = (pid_t) pid;
                        read_comm(pid_dir, comm);
                        r = 0;
                }
        }
        closedir(d);
        return r;
}
