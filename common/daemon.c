#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "macro.h"
#include "parse.h"

int notify_send(const char *message) {
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        size_t n;

        if (!e || !*e)
                return 0;
        n = strlen(e);
        if ((e[0] != '/' && e[0] != '@') || n >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, e, n);
        if (e[0] == '@')
                sa.sun_path[0] = '\0';
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
        if (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
                return -errno;
        return 1;
}

int listen_fds_take(char *first_name, size_t size) {
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
        uint64_t p, n = 0;
        int r = 0;

        if (size > 0)
                first_name[0] = '\0';
        if (pid && fds && parse_uint64(pid, &p) >= 0 && p == (uint64_t) getpid()) {
                if (parse_uint64(fds, &n) < 0 || n > 1024)
                        r = -EBADMSG;
                else
                        r = (int) n;
                if (r > 0 && names && size > 0) {
                        size_t len = strcspn(names, ":");
                        if (len < size) {
                                memcpy(first_name, names, len);
                                first_name[len] = '\0';
                        }
                }
        }
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        return r;
}
