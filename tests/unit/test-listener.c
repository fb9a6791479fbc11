/* Whose listener is on the backend's TCP address (sandbox/listener.c, common/tcp-listener.c), asked of real sockets
 * held by real processes: the backend's own (itself, or a child of it), a stranger's of another user on the same
 * address or on a wildcard that takes it, and the same as root without CAP_SYS_PTRACE (the backend unit's
 * supervisor) facing processes that are not dumpable. Without root only the same-user cases run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "supervisor.h"
#include "tap.h"
#include "tcp-listener.h"

#define BACKEND_UID 65534
#define STRANGER_UID 65533

typedef struct listener_proc {
        pid_t pid;    /* what holds the socket: the child, or its own child with .grandchild */
        pid_t direct; /* our child, to reap */
} listener_proc;

static uint16_t free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return 0;
        close(fd);
        return ntohs(sa.sin_port);
}

static int listen_on(int family, const char *host, uint16_t port, bool v6only) {
        struct sockaddr_storage ss = {};
        socklen_t len;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        if (family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                *in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port) };
                inet_pton(AF_INET, host, &in->sin_addr);
                len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                *in6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons(port) };
                inet_pton(AF_INET6, host, &in6->sin6_addr);
                len = sizeof(*in6);
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ v6only }, sizeof(int));
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 8) < 0)
                return -errno;
        return fd;
}

/* A child (as UID if >= 0; not dumpable if asked; the socket held by its own child if GRANDCHILD) listening on
 * FAMILY HOST:PORT until killed. Returns once the socket listens. */
static listener_proc spawn_listener(int family, const char *host, uint16_t port, int uid, bool undumpable,
                                    bool grandchild) {
        int p[2];
        char c = 0;
        listener_proc lp = {};

        if (pipe2(p, O_CLOEXEC) < 0)
                return lp;
        lp.direct = fork();
        if (lp.direct == 0) {
                if (uid >= 0 && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                        _exit(1);
                /* a change of ids makes a process undumpable until it executes something: a backend has */
                (void) prctl(PR_SET_DUMPABLE, undumpable ? 0 : 1);
                if (grandchild && fork() != 0)
                        for (;;) /* the holder writes both: its pid, then that it listens */
                                pause();
                pid_t holder = getpid();
                int fd = listen_on(family, host, port, false);
                if (fd < 0) /* the parent reads EOF */
                        _exit(1);
                (void) !write(p[1], &holder, sizeof(holder));
                (void) !write(p[1], &c, 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        if (read(p[0], &lp.pid, sizeof(lp.pid)) != sizeof(lp.pid) || read(p[0], &c, 1) != 1)
                lp.pid = lp.direct; /* it failed and exited: nothing else of ours to end */
        close(p[0]);
        return lp;
}

static void end_listener(listener_proc *lp) {
        if (lp->direct <= 0)
                return;
        if (lp->pid != lp->direct)
                (void) kill(lp->pid, SIGKILL); /* the grandchild: ours too, started by our child */
        (void) kill(lp->direct, SIGKILL);
        (void) waitpid(lp->direct, NULL, 0);
        *lp = (listener_proc){};
}

static supervisor backend_at(uint16_t port, pid_t backend, int uid) {
        static const sandbox_options opt = { .app = "test-listener" };
        supervisor s = { .opt = &opt, .backend = backend };

        s.address.in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
                                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        s.address.len = sizeof(s.address.in);
        if (uid >= 0)
                s.confine = (confine){ .drop_user = true, .uid = (uid_t) uid };
        return s;
}

/* As root the backend runs as another user, as it does by default: a listener root made would pass anyway. */
static void check_own_user(void) {
        int uid = geteuid() == 0 ? BACKEND_UID : -1;
        uint16_t port = free_port();
        supervisor s = backend_at(port, 0, uid);
        port_holder h = {};
        tcp_listener l[4];
        char inode[32];
        struct stat st;

        is_int(tap_fmt("nobody listens on 127.0.0.1:%u: not ready", port), backend_listener_check(&s, &h), 0);
        int fd = listen_on(AF_INET, "127.0.0.1", port, false);
        ok(tap_fmt("a listener of ours on 127.0.0.1:%u", port), fd >= 0 && fstat(fd, &st) == 0);
        is_int("the socket table has one listener there", tcp_listeners_find(&s.address, l, 4), 1);
        snprintf(inode, sizeof(inode), "%" PRIu64, l[0].inode);
        ok(tap_fmt("with its inode %s and our uid", inode),
           l[0].inode == (uint64_t) st.st_ino && l[0].uid == geteuid());
        is_int("and /proc/self/fd holds it", tcp_listeners_held_by(getpid(), l, 1), 1);
        close(fd);

        listener_proc b = spawn_listener(AF_INET, "127.0.0.1", port, uid, false, false);
        s.backend = b.pid;
        is_int("the backend's own listener: ready", backend_listener_check(&s, &h), 1);
        end_listener(&b);

        b = spawn_listener(AF_INET, "127.0.0.1", port, uid, false, true);
        s.backend = b.direct;
        ok(tap_fmt("a backend whose child listens (pid %d)", (int) b.pid), b.pid != b.direct);
        is_int("its child's listener is the backend's: ready", backend_listener_check(&s, &h), 1);
        end_listener(&b);

        /* the backend's user, not of the backend's tree: a stranger (the uid rule is for unreadable processes) */
        listener_proc other = spawn_listener(AF_INET, "127.0.0.1", port, uid, false, false);
        b = spawn_listener(AF_INET, "127.0.0.2", free_port(), uid, false, false);
        s.backend = b.pid;
        is_int("the backend's user's listener outside its tree: taken", backend_listener_check(&s, &h), -EADDRINUSE);
        ok(tap_fmt("and named: pid %d, port %u", (int) h.pid, h.port), h.pid == other.pid && h.port == port);
        end_listener(&other);
        if (geteuid() == 0) {
                other = spawn_listener(AF_INET, "127.0.0.1", port, 0, false, false);
                is_int("a listener root made is trusted (root is)", backend_listener_check(&s, &h), 1);
                end_listener(&other);
        }
        end_listener(&b);
}

static void check_stranger(int family, const char *host, const char *what) {
        uint16_t port = free_port();
        listener_proc x = spawn_listener(family, host, port, STRANGER_UID, false, false);
        supervisor s = backend_at(port, 0, BACKEND_UID);
        port_holder h = {};
        char comm[16] = "", path[64];

        snprintf(path, sizeof(path), "/proc/%d/comm", (int) x.pid);
        FILE *f = fopen(path, "re");
        if (f) {
                if (fgets(comm, sizeof(comm), f))
                        comm[strcspn(comm, "\n")] = '\0';
                fclose(f);
        }
        is_int(tap_fmt("uid %d listening on %s: taken, for 127.0.0.1:%u", STRANGER_UID, what, port),
               backend_listener_check(&s, &h), -EADDRINUSE);
        ok(tap_fmt("and named: pid %d (%s) of uid %u (want %d (%s))", (int) h.pid, h.comm, (unsigned) h.uid,
                   (int) x.pid, comm),
           h.pid == x.pid && h.uid == STRANGER_UID && h.port == port && strcmp(h.comm, comm) == 0);
        end_listener(&x);
}

static int drop_ptrace(void) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2];

        if (syscall(SYS_capget, &hdr, data) < 0)
                return -errno;
        data[CAP_SYS_PTRACE / 32].effective &= ~(1U << (CAP_SYS_PTRACE % 32));
        data[CAP_SYS_PTRACE / 32].permitted &= ~(1U << (CAP_SYS_PTRACE % 32));
        return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* In a child without CAP_SYS_PTRACE, as the backend unit's supervisor is: the verdicts as an exit status. */
static int verdict_without_ptrace(supervisor *s) {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                port_holder h = {};
                if (drop_ptrace() < 0)
                        _exit(100);
                int r = backend_listener_check(s, &h);
                _exit(r == 1 ? 1 : r == 0 ? 0 : r == -EADDRINUSE ? 2 : 3);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

static void check_without_ptrace(void) {
        uint16_t port = free_port();
        listener_proc b = spawn_listener(AF_INET, "127.0.0.1", port, BACKEND_UID, false, false);
        supervisor s = backend_at(port, b.pid, BACKEND_UID);

        is_int("without CAP_SYS_PTRACE: a dumpable backend of another user is read " "with its ids: ready",
               verdict_without_ptrace(&s), 1);
        end_listener(&b);
        b = spawn_listener(AF_INET, "127.0.0.2", free_port(), BACKEND_UID, false, false);
        s.backend = b.pid;
        listener_proc x = spawn_listener(AF_INET, "127.0.0.1", port, BACKEND_UID, false, false);
        is_int("and its user's listener outside its tree, read the same way: taken", verdict_without_ptrace(&s), 2);
        end_listener(&x);
        end_listener(&b);
        b = spawn_listener(AF_INET, "127.0.0.1", port, BACKEND_UID, true, false);
        s.backend = b.pid;
        is_int("an undumpable one, unreadable: its own user's listener is taken: ready", verdict_without_ptrace(&s), 1);
        end_listener(&b);

        x = spawn_listener(AF_INET, "127.0.0.1", port, STRANGER_UID, true, false);
        b = spawn_listener(AF_INET, "127.0.0.2", free_port(), BACKEND_UID, true, false);
        s.backend = b.pid;
        is_int("an undumpable stranger of another user beside an undumpable backend: " "taken",
               verdict_without_ptrace(&s), 2);
        end_listener(&x);
        end_listener(&b);
}

int main(void) {
        check_own_user();
        if (geteuid() != 0)
                return done();
        check_stranger(AF_INET, "127.0.0.1", "127.0.0.1");
        check_stranger(AF_INET6, "::", "[::] (IPv6, not v6only)");
        check_without_ptrace();
        return done();
}
