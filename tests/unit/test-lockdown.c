/* ember-launch's self-confinement (launcher/lockdown.c), probed for real: every probe runs in a fresh child that
 * locks itself down exactly as the launcher does, tries one thing, and exits with the errno it saw (0: it worked).
 * What the launcher needs must keep working; everything else must fail the way the unit's settings would. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <linux/openat2.h>

#include "lockdown.h"
#include "unix-socket.h"
#include "macro.h"
#include "tap.h"

static char state_dir[64] = "/tmp/ember-lockdown.XXXXXX";
static char other_dir[64] = "/tmp/ember-lockdown-other.XXXXXX";
static int state_dirfd = -1;
static ember_addr backend, other;
static int backend_listener = -1, other_listener = -1, unix_listener = -1;

static int errno_of(long r) {
        return r < 0 ? errno : 0;
}

static int tcp_listener(ember_addr *a) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a->in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        a->len = sizeof(a->in);
        socklen_t len = a->len;
        if (fd < 0 || bind(fd, &a->sa, a->len) < 0 || listen(fd, 16) < 0 || getsockname(fd, &a->sa, &len) < 0)
                abort();
        return fd;
}

static int unix_backend_listener(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/backend.sock", other_dir);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
                abort();
        return fd;
}

static int connect_tcp(const ember_addr *a) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        return errno_of(connect(fd, &a->sa, a->len));
}

/* ---- what the launcher does ---- */
static int read_state_file(void) {
        char buf[8];
        int fd = openat(state_dirfd, "refcount", O_RDONLY | O_CLOEXEC);
        return fd < 0 ? errno : errno_of(read(fd, buf, sizeof(buf)));
}
static int create_truncate_state_file(void) {
        int fd = openat(state_dirfd, "new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        return fd < 0 ? errno : errno_of(ftruncate(fd, 0));
}
static int connect_backend(void) {
        return connect_tcp(&backend);
}
static int splice_to_backend(void) {
        int p[2], fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, &backend.sa, backend.len) < 0 || pipe2(p, O_CLOEXEC) < 0 || write(p[1], "x", 1) != 1)
                return errno;
        return splice(p[0], NULL, fd, NULL, 1, 0) == 1 ? 0 : errno;
}
/* A unix backend's socket, outside the state directory: opened without following a symlink, connected through
 * /proc/self/fd (common/unix-socket.c), as the launcher reaches it. */
static int connect_unix_backend(void) {
        char path[128];
        int fd, c;

        snprintf(path, sizeof(path), "%s/backend.sock", other_dir);
        fd = unix_socket_open(path, NULL);
        if (fd < 0)
                return -fd;
        c = unix_socket_connect_fd(fd, 0);
        return c < 0 ? -c : 0;
}

/* The same in one call, as the launcher does it where the kernel has openat2() (5.6), not the walk it falls back to. */
static int openat2_no_symlinks(void) {
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        char path[128];

        snprintf(path, sizeof(path), "%s/backend.sock", other_dir);
        return errno_of(syscall(437 /* openat2 */, AT_FDCWD, path, &how, sizeof(how)));
}

static int unix_datagram_socket(void) {
        return errno_of(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}
static int tcp_socket_ipproto_tcp(void) {
        return errno_of(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
}
static int tcp6_socket(void) {
        return errno_of(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
}
/* Connects to the backend and sets one option there; returns the connection (or -errno) to check it further. */
static int backend_setsockopt(int level, int name, int value) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, &backend.sa, backend.len) < 0 ||
            setsockopt(fd, level, name, &value, sizeof(value)) < 0)
                return -errno;
        return fd;
}
static int nodelay_on_backend(void) {
        int fd = backend_setsockopt(IPPROTO_TCP, TCP_NODELAY, 1), on = 0;
        socklen_t len = sizeof(on);
        if (fd < 0)
                return -fd;
        /* the kernel really set it: a filter's SECCOMP_RET_ERRNO could fake a 0 */
        return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0 ? errno : on == 1 ? 0 : EIO;
}
/* the in-kernel relay quieting a sender before it takes the socket out of the kernel's hands */
static int window_clamp_on_backend(void) {
        int fd = backend_setsockopt(IPPROTO_TCP, TCP_WINDOW_CLAMP, 4096), clamp = 0;
        socklen_t len = sizeof(clamp);
        if (fd < 0)
                return -fd;
        return getsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, &len) < 0 ? errno : clamp == 4096 ? 0 : EIO;
}
/* the in-kernel relay's reset of a connection the kernel damaged: linger on, 0 s */
static int linger_on_backend(void) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 }, got = { 0, 0 };
        socklen_t len = sizeof(got);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, &backend.sa, backend.len) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
                return errno;
        return getsockopt(fd, SOL_SOCKET, SO_LINGER, &got, &len) < 0 ? errno : got.l_onoff == 1 ? 0 : EIO;
}
static int anonymous_memory(void) {
        return mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? errno : 0;
}

/* ---- what it must not do: the file system (Landlock) ---- */
static int read_outside(void) {
        return errno_of(openat(AT_FDCWD, other_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}
static int read_etc(void) {
        return errno_of(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
}
static int create_outside(void) {
        char path[128];
        snprintf(path, sizeof(path), "%s/planted", other_dir);
        return errno_of(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}
static int mkdir_in_state(void) {
        return errno_of(mkdirat(state_dirfd, "dir", 0755));
}
static int unlink_in_state(void) {
        return errno_of(unlinkat(state_dirfd, "refcount", 0));
}
static int symlink_in_state(void) {
        return errno_of(symlinkat("/etc/shadow", state_dirfd, "link"));
}
static int mkfifo_in_state(void) {
        return errno_of(mkfifoat(state_dirfd, "fifo", 0600));
}
/* ---- the network (Landlock ABI 4) ---- */
static int connect_other_port(void) {
        return connect_tcp(&other);
}
static int bind_tcp(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return fd < 0 ? errno : errno_of(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
}
/* ---- system calls (seccomp) ---- */
static int do_fork(void) {
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        return pid < 0 ? errno : 0;
}
static int do_exec(void) {
        char *argv[] = { "/bin/true", NULL };
        execve(argv[0], argv, argv + 1);
        return errno;
}
static int packet_socket(void) {
        return errno_of(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
}
static int netlink_socket(void) {
        return errno_of(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0));
}
static int udp_socket(void) {
        return errno_of(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}
#ifndef IPPROTO_MPTCP
#  define IPPROTO_MPTCP 262
#endif
/* stream sockets that are not TCP: Landlock's TCP rules would not govern their connect or bind */
static int mptcp_socket(void) {
        return errno_of(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP));
}
static int mptcp6_socket(void) {
        return errno_of(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP));
}
static int sctp_socket(void) {
        return errno_of(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
}
static int unix_socket_protocol_1(void) {
        return errno_of(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 1 /* PF_UNIX, which the kernel takes as 0 */));
}
static int cork_on_backend(void) {
        int fd = backend_setsockopt(IPPROTO_TCP, TCP_CORK, 1);
        return fd < 0 ? -fd : 0;
}
static int rcvbuf_on_backend(void) {
        int fd = backend_setsockopt(SOL_SOCKET, SO_RCVBUF, 4096);
        return fd < 0 ? -fd : 0;
}
static int executable_memory(void) {
        return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? errno : 0;
}
static int make_executable(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? -1 : errno_of(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}
static int do_ptrace(void) {
        return errno_of(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}
static int signal_parent(void) {
        return errno_of(kill(getppid(), 0));
}
static int do_unshare(void) {
        return errno_of(unshare(CLONE_NEWUSER));
}
static int do_setuid(void) {
        return errno_of(setuid(getuid()));
}
#if defined(__x86_64__)
static int x32_syscall(void) {
        return errno_of(syscall(0x40000000 | __NR_getpid));
}
#endif

enum layer { BOTH, LANDLOCK, SECCOMP };
static const char *const layer_name[] = { "locked down", "Landlock alone", "seccomp alone" };

typedef struct probe {
        const char *what;
        int (*run)(void);
        enum layer layer; /* what the child applies: what is denied is checked against each layer alone */
        int expect;       /* errno, 0 for success, -SIG for death by that signal */
        int needs_landlock_abi;
} probe;

static const probe probes[] = {
        { "reads a state file", read_state_file, BOTH, 0, 0 },
        { "creates and truncates a state file", create_truncate_state_file, BOTH, 0, 0 },
        { "connects to the backend's port", connect_backend, BOTH, 0, 0 },
        { "splices into the backend connection", splice_to_backend, BOTH, 0, 0 },
        { "opens the unix backend's socket without symlinks and connects through /proc/self/fd", connect_unix_backend,
          BOTH, 0, 0 },
        { "opens a path with openat2(RESOLVE_NO_SYMLINKS)", openat2_no_symlinks, BOTH, 0, 0 },
        { "opens an AF_UNIX datagram socket (journal)", unix_datagram_socket, BOTH, 0, 0 },
        { "opens an IPv6 stream socket", tcp6_socket, BOTH, 0, 0 },
        { "opens a stream socket of protocol IPPROTO_TCP", tcp_socket_ipproto_tcp, BOTH, 0, 0 },
        { "sets TCP_NODELAY on the backend connection", nodelay_on_backend, BOTH, 0, 0 },
        { "sets SO_LINGER on the backend connection", linger_on_backend, BOTH, 0, 0 },
        { "sets TCP_WINDOW_CLAMP on the backend connection", window_clamp_on_backend, BOTH, 0, 0 },
        { "maps anonymous memory", anonymous_memory, BOTH, 0, 0 },
        { "cannot open a directory outside the state directory", read_outside, LANDLOCK, EACCES, 1 },
        { "cannot read /etc/passwd", read_etc, LANDLOCK, EACCES, 1 },
        { "cannot create a file outside the state directory", create_outside, LANDLOCK, EACCES, 1 },
        { "cannot make a directory in the state directory", mkdir_in_state, LANDLOCK, EACCES, 1 },
        { "cannot unlink a state file", unlink_in_state, LANDLOCK, EACCES, 1 },
        { "cannot plant a symlink in the state directory", symlink_in_state, LANDLOCK, EACCES, 1 },
        { "cannot make a FIFO in the state directory", mkfifo_in_state, LANDLOCK, EACCES, 1 },
        { "cannot connect to another TCP port", connect_other_port, LANDLOCK, EACCES, 4 },
        { "cannot bind a TCP port", bind_tcp, LANDLOCK, EACCES, 4 },
        { "cannot fork", do_fork, SECCOMP, EPERM, 0 },
        { "cannot exec", do_exec, SECCOMP, EPERM, 0 },
        { "cannot open a packet socket", packet_socket, SECCOMP, EAFNOSUPPORT, 0 },
        { "cannot open a netlink socket", netlink_socket, SECCOMP, EAFNOSUPPORT, 0 },
        { "cannot open a UDP socket", udp_socket, SECCOMP, EPERM, 0 },
        { "cannot open an MPTCP stream socket", mptcp_socket, SECCOMP, EPERM, 0 },
        { "cannot open an IPv6 MPTCP stream socket", mptcp6_socket, SECCOMP, EPERM, 0 },
        { "cannot open an SCTP stream socket", sctp_socket, SECCOMP, EPERM, 0 },
        { "cannot open a unix socket of protocol 1", unix_socket_protocol_1, SECCOMP, EPERM, 0 },
        { "cannot set TCP_CORK", cork_on_backend, SECCOMP, EPERM, 0 },
        { "cannot set SO_RCVBUF", rcvbuf_on_backend, SECCOMP, EPERM, 0 },
        { "cannot map executable memory", executable_memory, SECCOMP, EPERM, 0 },
        { "cannot make memory executable", make_executable, SECCOMP, EPERM, 0 },
        { "cannot ptrace", do_ptrace, SECCOMP, EPERM, 0 },
        { "cannot signal another process", signal_parent, SECCOMP, EPERM, 0 },
        { "cannot unshare a namespace", do_unshare, SECCOMP, EPERM, 0 },
        { "cannot setuid", do_setuid, SECCOMP, EPERM, 0 },
        { "cannot make a directory in the state directory", mkdir_in_state, SECCOMP, EPERM, 0 },
        { "cannot unlink a state file", unlink_in_state, SECCOMP, EPERM, 0 },
        { "cannot bind a TCP port", bind_tcp, SECCOMP, EPERM, 0 },
        { "cannot exec", do_exec, LANDLOCK, EACCES, 1 },
        { "cannot signal another process", signal_parent, LANDLOCK, EPERM, 6 },
#if defined(__x86_64__)
        { "is killed by SIGSYS on an x32 system call", x32_syscall, SECCOMP, -SIGSYS, 0 },
#endif
};

static int lock(enum layer layer) {
        lockdown_result res;
        int abi;

        switch (layer) {
        case LANDLOCK:
                return lockdown_no_new_privs() < 0 ? -1 : lockdown_landlock(state_dirfd, &backend, &abi);
        case SECCOMP:
                return lockdown_no_new_privs() < 0 ? -1 : lockdown_seccomp();
        default:
                return lockdown_apply(state_dirfd, &backend, &res) < 0 || !res.seccomp ? -1 : 0;
        }
}

/* Locks down a child, runs the probe there; returns its errno, or -SIG if a signal ended it. */
static int run_locked(enum layer layer, int (*run)(void)) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                abort();
        if (pid == 0) {
                if (lock(layer) < 0)
                        _exit(255);
                _exit(run ? run() : 0); /* _exit: no atexit handler (LeakSanitizer's) runs confined */
        }
        if (waitpid(pid, &status, 0) < 0)
                abort();
        return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static int wait_in_child(void) {
        char c;
        return read(STDIN_FILENO, &c, 1) < 0 ? errno : 0;
}

/* The parent reads what the kernel says of a locked-down child. */
static void check_status_of_locked_child(void) {
        int p[2];
        char path[64], buf[4096];
        pid_t pid;

        if (pipe(p) < 0 || (pid = fork()) < 0)
                abort();
        if (pid == 0) {
                dup2(p[0], STDIN_FILENO);
                close(p[1]); /* EOF once the parent closes its end */
                lockdown_result res;
                _exit(lockdown_apply(state_dirfd, &backend, &res) < 0 ? 255 : wait_in_child());
        }
        usleep(100 * 1000);
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        ok("a locked-down process has no_new_privs", strstr(buf, "NoNewPrivs:\t1") != NULL);
        ok("and is in seccomp filter mode", strstr(buf, "Seccomp:\t2") != NULL);
        ok("with exactly one filter", strstr(buf, "Seccomp_filters:\t1") != NULL);
        close(fd);
        close(p[1]);
        close(p[0]);
        waitpid(pid, NULL, 0);
}

int main(void) {
#ifdef __SANITIZE_ADDRESS__
        /* ASan's runtime makes system calls of its own (sigaltstack, and ptrace for the leak check) */
        printf("1..0 # SKIP built with AddressSanitizer, under which ember-launch does not confine itself\n");
        return 0;
#endif
        long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

        if (abi < 0)
                abi = 0;
        if (!mkdtemp(state_dir) || !mkdtemp(other_dir))
                abort();
        state_dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd = openat(state_dirfd, "refcount", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (state_dirfd < 0 || fd < 0 || write(fd, "1\n", 2) != 2)
                abort();
        close(fd);
        backend_listener = tcp_listener(&backend);
        other_listener = tcp_listener(&other);
        unix_listener = unix_backend_listener();

        plan((int) ELEMENTSOF(probes) + 5);
        diag("kernel Landlock ABI %ld", abi);
        is_int("lockdown_apply() succeeds", run_locked(BOTH, NULL), 0);
        check_status_of_locked_child();
        for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
                const probe *p = &probes[i];
                if (abi < p->needs_landlock_abi) {
                        char why[96];
                        snprintf(why, sizeof(why), "%s: needs Landlock ABI %d, the kernel has %ld", p->what,
                                 p->needs_landlock_abi, abi);
                        skip(1, why);
                        continue;
                }
                is_int(tap_fmt("%s: %s", layer_name[p->layer], p->what), run_locked(p->layer, p->run), p->expect);
        }
        char planted[128];
        snprintf(planted, sizeof(planted), "%s/planted", other_dir);
        ok("nothing was planted or removed",
           faccessat(state_dirfd, "link", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && access(planted, F_OK) < 0 &&
                   faccessat(state_dirfd, "refcount", F_OK, 0) == 0);

        unlinkat(state_dirfd, "refcount", 0);
        unlinkat(state_dirfd, "new", 0);
        snprintf(planted, sizeof(planted), "%s/backend.sock", other_dir);
        unlink(planted);
        rmdir(state_dir);
        rmdir(other_dir);
        return done();
}
