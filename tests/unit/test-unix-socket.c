/* Unix sockets by a path someone else controls (common/unix-socket.c): opened without following symlinks, reached
 * through the descriptor, and seen listening without a connection (the readiness probe of a unix backend). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "macro.h"
#include "tap.h"
#include "unix-socket.h"

static char dir[256];

static const char *at(const char *name) {
        static char buf[4][PATH_MAX];
        static int i;
        char *b = buf[i++ % 4];
        snprintf(b, PATH_MAX, "%s/%s", dir, name);
        return b;
}

/* A stream socket bound to NAME in the test's directory; listening if asked. */
static int bound(const char *name, bool listening) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); /* accept() answers at once */

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at(name));
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (listening && listen(fd, 4) < 0)) {
                perror("socket");
                exit(99);
        }
        return fd;
}

static int listening_at(const char *name) {
        struct stat st;
        _cleanup_close_ int fd = unix_socket_open(at(name), &st);
        return fd < 0 ? fd : unix_socket_listening(&st);
}

static void check_listening(void) {
        _cleanup_close_ int l = bound("listening.sock", true), b = bound("bound.sock", false);

        is_int("a listening socket is seen listening", listening_at("listening.sock"), 1);
        is_int("a socket bound but not listening (yet) is seen so", listening_at("bound.sock"), 0);
        close(bound("stale.sock", true));
        is_int("a file whose socket was closed is no socket of ours", listening_at("stale.sock"), -ESRCH);
        ok("looking made no connection to the listener", accept4(l, NULL, NULL, SOCK_CLOEXEC) < 0 && errno == EAGAIN);
}

static void check_open(void) {
        _cleanup_close_ int l = bound("real.sock", true);
        struct stat st;
        int fd;

        if (symlink(at("real.sock"), at("link.sock")) < 0 || mkdir(at("d"), 0700) < 0 ||
            symlink(at("d"), at("dlink")) < 0 || symlinkat(at("real.sock"), AT_FDCWD, at("d/in.sock")) < 0)
                exit(99);
        close(open(at("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        fd = unix_socket_open(at("real.sock"), &st);
        ok("a socket opens, with its owner", fd >= 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid());
        closep(&fd);
        is_int("a symlink to a socket is refused", unix_socket_open(at("link.sock"), NULL), -ELOOP);
        is_int("a symlink among the directories is refused", unix_socket_open(at("dlink/in.sock"), NULL), -ELOOP);
        char magic[64];
        snprintf(magic, sizeof(magic), "/proc/%d/cwd/real.sock", (int) getpid());
        if (chdir(dir) < 0)
                exit(99);
        is_int(tap_fmt("a /proc magic link (%s) is refused", magic), unix_socket_open(magic, NULL), -ELOOP);
        is_int("a regular file is not a socket", unix_socket_open(at("file"), NULL), -ENOTSOCK);
        is_int("a missing path is ENOENT", unix_socket_open(at("none.sock"), NULL), -ENOENT);
        is_int("a relative path is refused", unix_socket_open("relative.sock", NULL), -EINVAL);
}

/* The inode opened is the one connected to, even once another socket has taken its name. */
static void check_connect_fd(void) {
        _cleanup_close_ int first = bound("first.sock", true), second = bound("second.sock", true);
        _cleanup_close_ int path_fd = unix_socket_open(at("first.sock"), NULL), c = -1, a = -1;

        if (path_fd < 0 || rename(at("second.sock"), at("first.sock")) < 0)
                exit(99);
        c = unix_socket_connect_fd(path_fd, 0);
        ok("connected through /proc/self/fd", c >= 0);
        a = accept4(first, NULL, NULL, SOCK_CLOEXEC);
        ok("to the socket that was opened", a >= 0);
        ok("not to the one that took its name since", accept4(second, NULL, NULL, SOCK_CLOEXEC) < 0 && errno == EAGAIN);
}

/* openat2() refused as a kernel before 5.6 (or an outer filter) would: the walk one component at a time holds the
 * same. In a child, whose checks count as one. */
static void check_open_without_openat2(void) {
        struct sock_filter insn[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 437 /* openat2 */, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insn), .filter = insn };
        int status = 0;
        pid_t pid = fork();

        if (pid == 0) {
                _cleanup_close_ int l = bound("walk.sock", true);
                int fd;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                        _exit(2);
                fd = unix_socket_open(at("walk.sock"), NULL);
                _exit(syscall(437, AT_FDCWD, "/", NULL, 0) == -1 && errno == ENOSYS && fd >= 0 &&
                      unix_socket_connect_fd(fd, 0) >= 0 && unix_socket_open(at("link.sock"), NULL) == -ELOOP &&
                      unix_socket_open(at("dlink/in.sock"), NULL) == -ELOOP &&
                      unix_socket_open(at("file"), NULL) == -ENOTSOCK ? 0 : 1);
        }
        ok(tap_fmt("without openat2(): a socket opens and connects, symlinks are refused (child exit status %d)",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1),
           pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
        snprintf(dir, sizeof(dir), "%s/ember-unix-socket.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
                return 99;
        plan(15);
        check_listening();
        check_open();
        check_connect_fd();
        check_open_without_openat2();
        int r = done();
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
        return r;
}
