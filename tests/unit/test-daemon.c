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
        is_int(listen_fds_take(name, sizeof(name)), 2, "LISTEN_PID is us: LISTEN_FDS=2");
        is_str(name, "ember-launch", "the first LISTEN_FDNAMES entry");
        ok(listen_env_gone(), "the variables are unset for the children");

        set_listen_env(NULL, "1", NULL);
        is_int(listen_fds_take(name, sizeof(name)), 1, "LISTEN_FDS=1 without names");
        is_str(name, "", "no name");

        set_listen_env("1", "1", "x");
        is_int(listen_fds_take(name, sizeof(name)), 0, "LISTEN_PID of another process: none for us");
        ok(listen_env_gone(), "and the variables are unset all the same");

        set_listen_env(NULL, "3x", NULL);
        is_int(listen_fds_take(name, sizeof(name)), -EBADMSG, "a garbled LISTEN_FDS is -EBADMSG");
        set_listen_env(NULL, "-1", NULL);
        is_int(listen_fds_take(name, sizeof(name)), -EBADMSG, "a negative LISTEN_FDS is -EBADMSG");

        set_listen_env(NULL, "1", "a-name-longer-than-the-buffer");
        is_int(listen_fds_take(name, sizeof(name)), 1, "a name longer than the buffer");
        is_str(name, "", "is not truncated into a wrong one");
        is_int(listen_fds_take(NULL, 0), 0, "nothing set: 0");
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
        is_int(notify_send("READY=1"), 0, "no NOTIFY_SOCKET: nothing sent, not an error");
        snprintf(path, sizeof(path), "/tmp/ember-test-notify.%d", (int) getpid());
        is_int(notify_roundtrip(path, "READY=1\nSTATUS=x", got, sizeof(got)), 1, "a path NOTIFY_SOCKET: sent");
        is_str(got, "READY=1\nSTATUS=x", "one datagram, the message as given");
        snprintf(abstract, sizeof(abstract), "@ember-test-notify.%d", (int) getpid());
        is_int(notify_roundtrip(abstract, "STOPPING=1", got, sizeof(got)), 1, "an abstract NOTIFY_SOCKET: sent");
        is_str(got, "STOPPING=1", "and received");
        setenv("NOTIFY_SOCKET", "relative/path", 1);
        is_int(notify_send("READY=1"), -EINVAL, "a relative NOTIFY_SOCKET is -EINVAL");
        char longpath[200];
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        setenv("NOTIFY_SOCKET", longpath, 1);
        is_int(notify_send("READY=1"), -EINVAL, "a NOTIFY_SOCKET too long for sun_path is -EINVAL");
        setenv("NOTIFY_SOCKET", "/nonexistent/ember/notify", 1);
        is_int(notify_send("READY=1"), -ENOENT, "a missing socket is -ENOENT");
}

int main(void) {
        check_listen_fds();
        check_notify();
        return done();
}
