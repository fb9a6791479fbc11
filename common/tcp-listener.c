#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
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

static bool v6only(const struct nlmsghdr *h, const struct inet_diag_msg *m) {
        const struct rtattr *a = (const struct rtattr *) (m + 1);
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*m));

        for (; len > 0 && RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
                        return *(const uint8_t *) RTA_DATA(a) != 0;
        return false; /* not said: taken as reaching IPv4 too, the stricter reading */
}

/* Whether a connection to T would be offered to this listener: its own address, or a wildcard that takes it. */
static bool reaches(const target *t, const struct nlmsghdr *h, const struct inet_diag_msg *m) {
        if (m->id.idiag_sport != t->port)
                return false;
        if (m->idiag_family == AF_INET) {
                uint32_t src = m->id.idiag_src[0];
                return t->is_v4 && (src == INADDR_ANY || src == t->v4.s_addr);
        }
        if (m->idiag_family != AF_INET6)
                return false;
        struct in6_addr src;
        memcpy(&src, m->id.idiag_src, sizeof(src));
        if (IN6_IS_ADDR_UNSPECIFIED(&src))
                return !t->is_v4 || !v6only(h, m);
        return IN6_ARE_ADDR_EQUAL(&src, &t->v6);
}

static int dump_family(int family, const target *t, tcp_listener *out, size_t n, size_t *found) {
        _cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        struct {
                struct nlmsghdr h;
                struct inet_diag_req_v2 r;
        } req = {
                .h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
                .r = { .sdiag_family = (uint8_t) family, .sdiag_protocol = IPPROTO_TCP,
                       .idiag_states = 1U << TCP_STATE_LISTEN },
        };
        union {
                struct nlmsghdr h;
                char buf[32768];
        } u;

        if (nl < 0)
                return -errno;
        if (send(nl, &req, sizeof(req), 0) < 0)
                return -errno;
        for (;;) {
                ssize_t len = recv(nl, &u, sizeof(u), 0);
                if (len < 0 && errno == EINTR)
                        continue;
                if (len <= 0)
                        return len < 0 ? -errno : -EPROTO;
                for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t) len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                /* a kernel without IPv6 has no table to dump: nobody listens there */
                                return e->error == -ENOENT && family == AF_INET6 ? 0 : e->error < 0 ? e->error : -EPROTO;
                        }
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                                continue;
                        const struct inet_diag_msg *m = NLMSG_DATA(h);
                        if (m->idiag_state != TCP_STATE_LISTEN || !reaches(t, h, m) || *found >= n)
                                continue;
                        out[(*found)++] = (tcp_listener){ .inode = m->idiag_inode, .uid = m->idiag_uid };
                }
        }
}

int tcp_listeners_find(const ember_addr *a, tcp_listener *out, size_t n) {
        size_t found = 0;
        target t;
        int r;

        r = target_of(a, &t);
        if (r < 0)
                return r;
        /* an IPv6 target is reached by IPv6 listeners only; an IPv4 one by both families */
        if (t.is_v4 && (r = dump_family(AF_INET, &t, out, n, &found)) < 0)
                return r;
        r = dump_family(AF_INET6, &t, out, n, &found);
        return r < 0 ? r : (int) found;
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

static int held_in(int pid_dir, tcp_listener *l, size_t n) {
        bool switched = as_owner_of(pid_dir), denied = false;
        _cleanup_close_ int fd = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t held = 0;
        struct dirent *de;
        DIR *d;
        int r;

        for (size_t i = 0; i < n; i++)
                held += l[i].held;
        if (fd < 0 || !(d = fdopendir(fd))) {
                r = -errno;
                as_ourselves(switched);
                return r;
        }
        fd = -1; /* the DIR owns it now */
        while (held < n && (de = readdir(d))) {
                uint64_t inode;
                if (de->d_name[0] == '.')
                        continue;
                r = socket_inode_of(dirfd(d), de->d_name, &inode);
                denied = denied || r == -EACCES;
                if (r < 0)
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (!l[i].held && l[i].inode == inode) {
                                l[i].held = true;
                                held++;
                        }
        }
        closedir(d);
        as_ourselves(switched);
        /* a process that is not dumpable (PR_SET_DUMPABLE 0, or changed its ids) shows its descriptors only to
         * CAP_SYS_PTRACE: its directory opens, its links do not */
        return held < n && denied ? -EACCES : (int) held;
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
