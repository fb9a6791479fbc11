/* systemd's daemon protocols without libsystemd (common/daemon.c): LISTEN_* as sd_listen_fds(3) reads them and
 * the datagram sd_notify(3) sends, received here on real sockets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

static void set_listen_env(const char *pid, const char *fds, const char *names) {
        char self[24];
        snprintf(self, sizeof(self), "%d", (int) getpid());
        setenv("LISTEN_PID", pid ? pid : self, 1);
        setenv("LISTEN_FDS", fds, 1);
        if (names)
                setenv("LISTEN_FDNAMES", names, 1);
        else
                unsetenv("LISTEN_FDNAMES");
}

static bool listen_env_gone(void) {
        return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

static void check_listen_fds(void) {
        char name[16];

        set_listen_env(NULL, "2", "ember-launch:other");
        is_int("LISTEN_PID is us: LISTEN_FDS=2", listen_fds_take(name, sizeof(name)), 2);
        is_str("the first LISTEN_FDNAMES entry", name, "ember-launch");
        ok("the variables are unset for the children", listen_env_gone());

        set_listen_env(NULL, "1", NULL);
        is_int("LISTEN_FDS=1 without names", listen_fds_take(name, sizeof(name)), 1);
        is_str("no name", name, "");

        set_listen_env("1", "1", "x");
        is_int("LISTEN_PID of another process: none for us", listen_fds_take(name, sizeof(name)), 0);
        ok("and the variables are unset all the same", listen_env_gone());

        set_listen_env(NULL, "3x", NULL);
        is_int("a garbled LISTEN_FDS is -EBADMSG", listen_fds_take(name, sizeof(name)), -EBADMSG);
        set_listen_env(NULL, "-1", NULL);
        is_int("a negative LISTEN_FDS is -EBADMSG", listen_fds_take(name, sizeof(name)), -EBADMSG);

        set_listen_env(NULL, "1", "a-name-longer-than-the-buffer");
        is_int("a name longer than the buffer", listen_fds_take(name, sizeof(name)), 1);
        is_str("is not truncated into a wrong one", name, "");
        is_int("nothing set: 0", listen_fds_take(NULL, 0), 0);
}

/* Binds a datagram socket at PATH ('@' for abstract), sends MESSAGE through notify_send(), returns what arrived. */
static int notify_roundtrip(const char *path, const char *message, char *got, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

        memcpy(sa.sun_path, path, n);
        if (path[0] == '@')
                sa.sun_path[0] = '\0';
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n)) < 0)
                abort();
        setenv("NOTIFY_SOCKET", path, 1);
        r = notify_send(message);
        ssize_t k = r > 0 ? recv(fd, got, size - 1, MSG_DONTWAIT) : 0;
        got[k > 0 ? k : 0] = '\0';
        close(fd);
        if (path[0] == '/')
                unlink(path);
        return r;
}

static void check_notify(void) {
        char got[256], path[64], abstract[64];

        unsetenv("NOTIFY_SOCKET");
        is_int("no NOTIFY_SOCKET: nothing sent, not an error", notify_send("READY=1"), 0);
        snprintf(path, sizeof(path), "/tmp/ember-test-notify.%d", (int) getpid());
        is_int("a path NOTIFY_SOCKET: sent", notify_roundtrip(path, "READY=1\nSTATUS=x", got, sizeof(got)), 1);
        is_str("one datagram, the message as given", got, "READY=1\nSTATUS=x");
        snprintf(abstract, sizeof(abstract), "@ember-test-notify.%d", (int) getpid());
        is_int("an abstract NOTIFY_SOCKET: sent", notify_roundtrip(abstract, "STOPPING=1", got, sizeof(got)), 1);
        is_str("and received", got, "STOPPING=1");
        setenv("NOTIFY_SOCKET", "relative/path", 1);
        is_int("a relative NOTIFY_SOCKET is -EINVAL", notify_send("READY=1"), -EINVAL);
        char longpath[200];
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        setenv("NOTIFY_SOCKET", longpath, 1);
        is_int("a NOTIFY_SOCKET too long for sun_path is -EINVAL", notify_send("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "/nonexistent/ember/notify", 1);
        is_int("a missing socket is -ENOENT", notify_send("READY=1"), -ENOENT);
}

int main(void) {
        check_listen_fds();
        check_notify();
        return done();
}
