#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "macro.h"
#include "unix-socket.h"

#ifndef __NR_openat2
#  define __NR_openat2 437 /* the same number on every architecture */
#endif

/* The states sock_diag reports for unix sockets are TCP's (netinet/tcp.h names them in an enum only some libcs
 * have): a listening one, and one bound but neither listening nor connected. */
#define UNIX_STATE_CLOSE 7
#define UNIX_STATE_LISTEN 10

/* Where openat2() is missing (Linux < 5.6) or refused by an outer filter: one component at a time, none followed. */
static int open_walk(const char *path) {
        _cleanup_close_ int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        char name[NAME_MAX + 1];
        struct stat st;

        if (dir < 0)
                return -errno;
        for (const char *p = path;;) {
                size_t n;
                int fd;

                p += strspn(p, "/");
                if (!*p)
                        return take_fd(&dir);
                n = strcspn(p, "/");
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = '\0';
                p += n;
                fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                closep(&dir);
                dir = fd;
                if (fstat(dir, &st) < 0)
                        return -errno;
                if (S_ISLNK(st.st_mode))
                        return -ELOOP;
        }
}

static int open_no_symlinks(const char *path) {
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        long fd;

        if (path[0] != '/')
                return -EINVAL;
        fd = syscall(__NR_openat2, AT_FDCWD, path, &how, sizeof(how));
        if (fd >= 0)
                return (int) fd;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        return open_walk(path);
}

int unix_socket_open(const char *path, struct stat *ret_st) {
        _cleanup_close_ int fd = open_no_symlinks(path);
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (ret_st)
                *ret_st = st;
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        return take_fd(&fd);
}

int unix_socket_connect_fd(int path_fd, uint64_t timeout_usec) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = (time_t) (timeout_usec / 1000000),
                              .tv_usec = (suseconds_t) (timeout_usec % 1000000) };
        _cleanup_close_ int fd = -1;
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", path_fd);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (timeout_usec > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + (size_t) n + 1);
        if (connect(fd, (const struct sockaddr *) &sa, len) < 0)
                return -errno;
        return take_fd(&fd);
}

/* sock_diag's device numbers are the kernel's own encoding (12 bits major << 20 | 20 bits minor), stat's are not. */
static bool same_file(const struct unix_diag_vfs *v, const struct stat *st) {
        return v->udiag_vfs_ino == st->st_ino &&
               makedev(v->udiag_vfs_dev >> 20, v->udiag_vfs_dev & 0xfffff) == st->st_dev;
}

/* One socket of the dump: its state if it is bound to ST's file, else -ESRCH. */
static int diag_match(const struct nlmsghdr *h, const struct stat *st) {
        const struct unix_diag_msg *m = NLMSG_DATA(h);
        const struct rtattr *a = (const struct rtattr *) (m + 1);
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*m));

        if (len < 0)
                return -ESRCH;
        for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == UNIX_DIAG_VFS && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_vfs) &&
                    same_file(RTA_DATA(a), st))
                        return m->udiag_state == UNIX_STATE_LISTEN ? 1 : 0;
        return -ESRCH;
}

/* Reads the dump up to its end, or to a listener on ST's file. */
static int dump_find(int nl, const struct stat *st) {
        union {
                struct nlmsghdr h;
                char buf[32768];
        } u;
        int found = -ESRCH;

        for (;;) {
                ssize_t n = recv(nl, &u, sizeof(u), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EPROTO;
                for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return found;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error < 0 ? e->error : -EPROTO;
                        }
                        int r = diag_match(h, st);
                        if (r == 1)
                                return 1;
                        if (r > found)
                                found = r;
                }
        }
}

int unix_socket_listening(const struct stat *st) {
        _cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        struct {
                struct nlmsghdr h;
                struct unix_diag_req req;
        } msg = {
                .h = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
                .req = { .sdiag_family = AF_UNIX, .udiag_states = 1U << UNIX_STATE_LISTEN | 1U << UNIX_STATE_CLOSE,
                         .udiag_show = UDIAG_SHOW_VFS },
        };

        if (nl < 0)
                return -errno;
        if (send(nl, &msg, sizeof(msg), 0) < 0)
                return -errno;
        return dump_find(nl, st);
}
