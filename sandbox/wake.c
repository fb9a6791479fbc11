/* The wake socket, where launchers wait for the backend's readiness, and the backend's own notify socket. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "macro.h"
#include "state.h"
#include "supervisor.h"

void tell_waiters(supervisor *s, bool ready) {
        for (size_t i = 0; i < s->n_waiters; i++) {
                if (ready)
                        (void) send(s->waiters[i], "1", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(s->waiters[i]); /* EOF without the byte: this backend failed */
        }
        s->n_waiters = 0;
}

void accept_waiters(supervisor *s) {
        for (;;) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return;
                if (supervisor_ready(s)) {
                        (void) send(fd, "1", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        close(fd);
                } else if (s->n_waiters < WAITERS_MAX)
                        s->waiters[s->n_waiters++] = fd;
                else
                        close(fd); /* it will retry */
        }
}

/* wake.sock comes from NAME-backend.socket (systemd) or from ember-launch (inetd mode, which names it). */
int open_wake_socket(supervisor *s) {
        char name[sizeof(s->wake_unit)];
        int n = listen_fds_take(name, sizeof(name));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[sizeof(sa.sun_path)];
        _cleanup_close_ int fd = -1;

        if (n > 1 || n < 0)
                return n < 0 ? n : -E2BIG;
        if (n == 1) {
                s->listen_fd = LISTEN_FDS_START;
                s->owns_wake = strcmp(name, "ember-launch") == 0;
                if (!s->owns_wake)
                        snprintf(s->wake_unit, sizeof(s->wake_unit), "%s", name);
                if (fcntl(s->listen_fd, F_SETFD, FD_CLOEXEC) < 0 ||
                    fcntl(s->listen_fd, F_SETFL, fcntl(s->listen_fd, F_GETFL) | O_NONBLOCK) < 0)
                        return -errno;
                return 0;
        }
        /* Started by hand: bind wake.sock ourselves, but never over one that exists: it may be NAME-backend.socket's,
         * and taking it would leave that unit listening on an unlinked socket that no launcher can reach. */
        if (state_dir_path(s->opt->app, dir, sizeof(dir)) < 0 ||
            snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" STATE_WAKE_SOCK, dir) >= (int) sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return errno == EADDRINUSE ? -EEXIST : -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        s->listen_fd = take_fd(&fd);
        s->owns_wake = true;
        return 0;
}

int open_notify_socket(supervisor *s, char *path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[sizeof(sa.sun_path)];
        _cleanup_close_ int fd = -1;

        if (state_dir_path(s->opt->app, dir, sizeof(dir)) < 0 ||
            snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, s->notify_name) >= (int) sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        (void) unlinkat(s->dirfd, s->notify_name, 0);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (s->confine.drop_user &&
            fchownat(s->dirfd, s->notify_name, s->confine.uid, s->confine.gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        snprintf(path, size, "%s", sa.sun_path);
        s->notify_fd = take_fd(&fd);
        return 0;
}
