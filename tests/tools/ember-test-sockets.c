/* ember-test-sockets: what another process's connected stream sockets are set to, seen from inside: each socket
 * fd of PID is copied here with pidfd_getfd(2) (Linux 5.6; needs ptrace access to PID, e.g. root) and described.
 *
 *   ember-test-sockets PID
 *
 * One line per connected stream socket (listening and datagram sockets are left out):
 *   fd=3 tcp 127.0.0.1:20001 -> 127.0.0.1:45678 nodelay=1
 *   fd=5 unix - -> /run/app/backend.sock
 *
 * Exit: 0 listed (perhaps nothing); 1 PID or its fds could not be read; 2 usage; 77 the kernel does not let us
 * copy PID's fds (no pidfd_getfd, or no ptrace access): the caller skips. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"

#ifndef __NR_pidfd_open
#  define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#  define __NR_pidfd_getfd 438
#endif

enum { EXIT_LISTED = 0, EXIT_FAILED = 1, EXIT_BAD_USAGE = 2, EXIT_NOT_HERE = 77 };

static int sockopt_int(int fd, int level, int name, int *ret) {
        socklen_t len = sizeof(*ret);
        return getsockopt(fd, level, name, ret, &len) < 0 ? -errno : 0;
}

static void format_end(int fd, bool peer, char *buf, size_t size) {
        ember_addr a = { .len = sizeof(a.storage) };

        if ((peer ? getpeername(fd, &a.sa, &a.len) : getsockname(fd, &a.sa, &a.len)) < 0 ||
            (a.sa.sa_family == AF_UNIX && a.len <= offsetof(struct sockaddr_un, sun_path)) ||
            format_addr(&a, buf, size) < 0 || !buf[0])
                snprintf(buf, size, "-"); /* unnamed (a unix client end), or gone */
}

/* Prints the line for one of PID's fds, if it is a connected stream socket. */
static int describe(int pidfd, int target) {
        _cleanup_close_ int fd = -1;
        int domain, type, listening, nodelay;
        char local[128], peer[128];

        fd = (int) syscall(__NR_pidfd_getfd, pidfd, target, 0);
        if (fd < 0)
                return -errno;
        if (sockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) < 0 || sockopt_int(fd, SOL_SOCKET, SO_TYPE, &type) < 0 ||
            sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening) < 0)
                return 0; /* not a socket */
        if (type != SOCK_STREAM || listening)
                return 0;
        format_end(fd, false, local, sizeof(local));
        format_end(fd, true, peer, sizeof(peer));
        if (domain == AF_UNIX) {
                printf("fd=%d unix %s -> %s\n", target, local, peer);
                return 0;
        }
        if (domain != AF_INET && domain != AF_INET6)
                return 0;
        int r = sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay);
        if (r < 0)
                return r;
        printf("fd=%d tcp %s -> %s nodelay=%d\n", target, local, peer, nodelay);
        return 0;
}

static bool link_is_socket(const char *dir, const char *name) {
        char path[300], target[64];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        n = readlink(path, target, sizeof(target) - 1);
        return n > 0 && (target[n] = 0, strncmp(target, "socket:", 7) == 0);
}

int main(int argc, char *argv[]) {
        _cleanup_close_ int pidfd = -1;
        char dir[32];
        DIR *d;
        int r;

        if (argc != 2 || atoi(argv[1]) <= 0) {
                fprintf(stderr, "Usage: ember-test-sockets PID\n");
                return EXIT_BAD_USAGE;
        }
        pidfd = (int) syscall(__NR_pidfd_open, atoi(argv[1]), 0);
        if (pidfd < 0) {
                fprintf(stderr, "ember-test-sockets: pidfd_open(%s): %s\n", argv[1], strerror(errno));
                return errno == ENOSYS ? EXIT_NOT_HERE : EXIT_FAILED;
        }
        snprintf(dir, sizeof(dir), "/proc/%s/fd", argv[1]);
        d = opendir(dir);
        if (!d) {
                fprintf(stderr, "ember-test-sockets: %s: %s\n", dir, strerror(errno));
                return errno == EACCES ? EXIT_NOT_HERE : EXIT_FAILED;
        }
        r = 0;
        for (struct dirent *e; r >= 0 && (e = readdir(d));)
                if (e->d_name[0] != '.' && link_is_socket(dir, e->d_name)) {
                        r = describe(pidfd, atoi(e->d_name));
                        if (r == -EBADF)
                                r = 0; /* closed since readdir saw it */
                }
        closedir(d);
        if (r == -EPERM || r == -ENOSYS) {
                fprintf(stderr, "ember-test-sockets: pidfd_getfd: %s\n", strerror(-r));
                return EXIT_NOT_HERE;
        }
        if (r < 0) {
                fprintf(stderr, "ember-test-sockets: a socket of %s: %s\n", argv[1], strerror(-r));
                return EXIT_FAILED;
        }
        return EXIT_LISTED;
}
