#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "session.h"
#include "protocol.h"
#include "state.h"
#include "timeutil.h"
#include "unix-socket.h"

#define LEAVE_TIMEOUT_USEC (5 * USEC_PER_SEC)

int session_join(int dirfd, uint64_t deadline, int *ret_lease) {
        _cleanup_close_ int lock = -1, lease = -1;
        int r;

        r = state_lock_until(dirfd, deadline, &lock);
        if (r < 0)
                return r;
        r = lease_take(dirfd, &lease);
        if (r < 0)
                return r;
        r = connection_counted(dirfd);
        if (r < 0)
                return r;
        *ret_lease = take_fd(&lease);
        return 0;
}

int session_leave(int dirfd, int lease) {
        _cleanup_close_ int lock = -1;
        int r;

        /* bounded: if the lock never comes, our lease is gone anyway and the supervisor heals the count */
        r = state_lock_until(dirfd, deadline_in(LEAVE_TIMEOUT_USEC), &lock);
        close(lease);
        if (r < 0)
                return r;
        return connection_uncounted(dirfd);
}

static int state_socket_address(const char *app, const char *name, struct sockaddr_un *sa, socklen_t *len) {
        char dir[sizeof(sa->sun_path)];
        int n, r;

        r = state_dir_path(app, dir, sizeof(dir));
        if (r < 0)
                return r;
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
        if (n < 0 || (size_t) n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + (size_t) n + 1);
        return 0;
}

static int connect_type(const struct sockaddr *sa, socklen_t len, int type) {
        _cleanup_close_ int fd = -1;

        fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, sa, len) < 0)
                return -errno;
        return take_fd(&fd);
}

static int connect_to(const struct sockaddr *sa, socklen_t len) {
        return connect_type(sa, len, SOCK_STREAM);
}

int state_socket_connect(const char *app, const char *name, int type) {
        struct sockaddr_un sa;
        socklen_t len;
        int r = state_socket_address(app, name, &sa, &len);

        return r < 0 ? r : connect_type((const struct sockaddr *) &sa, len, type);
}

/* inetd mode: play systemd's part. Bind wake.sock and start COMMAND detached with it as LISTEN_FDS=1. */
static int spawn_supervisor(int dirfd, const struct sockaddr_un *sa, socklen_t len, char **command) {
        _cleanup_close_ int fd = -1;
        pid_t pid;
        int status;

        (void) unlinkat(dirfd, STATE_WAKE_SOCK, 0);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *) sa, len) < 0 || listen(fd, SOMAXCONN) < 0)
                return -errno;

        /* An inherited SIG_IGN would let the kernel reap the child before we can ask how it ended. */
        signal(SIGCHLD, SIG_DFL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Double fork so the supervisor outlives us and is nobody's zombie. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || setsid() < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
                        _exit(EXIT_OSERR);
                if (dup2(fd, 3) < 0 || (fd != 3 ? 0 : fcntl(3, F_SETFD, 0)) < 0)
                        _exit(EXIT_OSERR);
                pid = fork();
                if (pid != 0)
                        _exit(pid < 0 ? EXIT_OSERR : 0);
                char buf[24];
                snprintf(buf, sizeof(buf), "%d", (int) getpid());
                setenv("LISTEN_PID", buf, 1);
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_FDNAMES", "ember-launch", 1);
                unsetenv("NOTIFY_SOCKET");
                signal(SIGPIPE, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                execvp(command[0], command);
                fprintf(stderr, "ember-launch: failed to execute %s: %s\n", command[0], strerror(errno));
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -ECHILD;
        return 0;
}

/* Where reaching the backend failed, for the one log line that says so. */
typedef enum acquire_step {
        STEP_STATE,      /* reading or repairing the state */
        STEP_WAKE,       /* connecting to wake.sock */
        STEP_SPAWN,      /* inetd mode: starting the supervisor */
        STEP_READY,      /* waiting for the readiness byte */
        STEP_CONNECT,    /* connecting to the ready backend */
} acquire_step;

/* Under the lock: connect to wake.sock; in inetd mode start the supervisor first if nobody listens there. */
static int wake_connect(int dirfd, const char *app, char **command, acquire_step *step) {
        struct sockaddr_un sa;
        socklen_t len;
        int fd, r;

        *step = STEP_WAKE;
        r = state_socket_address(app, STATE_WAKE_SOCK, &sa, &len);
        if (r < 0)
                return r;
        fd = connect_to((const struct sockaddr *) &sa, len);
        if (fd >= 0 || !command || (fd != -ENOENT && fd != -ECONNREFUSED))
                return fd;
        *step = STEP_SPAWN;
        r = spawn_supervisor(dirfd, &sa, len, command);
        if (r < 0)
                return r;
        return connect_to((const struct sockaddr *) &sa, len);
}

static int wait_ready(int fd, uint64_t deadline) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char c;
        int r;

        for (;;) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, poll_ms_until(deadline));
                if (r > 0)
                        break;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
        r = (int) read(fd, &c, 1);
        return r == 1 ? 0 : -EHOSTDOWN; /* EOF: the supervisor gave up on this backend */
}

/* Wakes the backend if needed; returns 1 if it is (now) ready, so that the caller connects to it. */
static int ensure_ready(int dirfd, const char *app, char **command, uint64_t deadline, acquire_step *step) {
        _cleanup_close_ int lock = -1, wake = -1;
        app_state state;
        int r;

        *step = STEP_STATE;
        r = state_lock_until(dirfd, deadline, &lock);
        if (r < 0)
                return r;
        r = app_state_settle(dirfd, &state);
        if (r < 0)
                return r;
        if (state == APP_WARM)
                return 1;
        log_info("Waking the backend"); /* cold path only; the journal entry names the client (EMBER_CLIENT=) */
        wake = wake_connect(dirfd, app, command, step);
        if (wake < 0)
                return wake;
        close(take_fd(&lock));
        *step = STEP_READY;
        r = wait_ready(wake, deadline);
        return r < 0 ? r : 1;
}

static void log_acquire_failure(int r, acquire_step step, const char *app, char **command, uint64_t start_timeout) {
        char t[48];

        if (r == -ETIMEDOUT) {
                snprintf(t, sizeof(t), "EMBER_START_TIMEOUT_MS=%llu", (unsigned long long) (start_timeout / 1000));
                log_event(LOG_ERR, FIELDS("EMBER_EVENT=start-timeout", t),
                          "Backend did not become ready within the start timeout (%llu ms); closing the client",
                          (unsigned long long) (start_timeout / 1000));
        } else if (r == -EHOSTDOWN)
                log_event(LOG_ERR, FIELDS("EMBER_EVENT=start-failed"), "Backend failed to start; closing the client");
        else if (step == STEP_WAKE)
                log_error_errno(r, "Failed to wake the backend through %s/%s/" STATE_WAKE_SOCK "%s", runtime_dir(), app,
                                command ? "" : " (is the backend socket unit active?)");
        else if (step == STEP_SPAWN)
                log_error_errno(r, "Failed to start the backend supervisor %s", command[0]);
        else if (step == STEP_STATE)
                log_error_errno(r, "Failed to read the state in %s/%s", runtime_dir(), app);
        else
                log_error_errno(r, "Failed to reach the backend");
}

/* Under systemd a missing wake socket is its unit being restarted (the supervisor asks for that when the state
 * directory was removed): it is back within moments, so wait for it as for any cold start. Bound again, it is root's
 * alone for an instant before systemd gives it to the launchers' group. After the backend failed to start, a socket
 * that refuses is its unit given up (start-limit-hit), not coming back. */
static bool wake_socket_coming_back(int r, acquire_step step, char **command, unsigned failures) {
        if (step != STEP_WAKE || command || failures > 0)
                return false;
        return r == -ENOENT || r == -ECONNREFUSED || (r == -EACCES && geteuid() != 0);
}

static const char *file_type(mode_t m) {
        return S_ISREG(m) ? "regular file" : S_ISDIR(m) ? "directory" : S_ISFIFO(m) ? "FIFO" : "special file";
}

/* A unix backend's socket lies in a directory its user writes, who can put anything under its name: a symlink to
 * PID 1's private socket, say, which a launcher running as root would reach (issue 24). So the launcher follows no
 * symlink on the way, takes only a socket that user owns, and connects through the descriptor it looked at, never
 * the path again: it reaches nothing the backend's user could not. Refused: -EPERM, logged here. */
static int connect_unix_backend(const char *path, uid_t owner) {
        _cleanup_close_ int path_fd = -1;
        struct stat st;

        path_fd = unix_socket_open(path, &st);
        if (path_fd == -ELOOP)
                return log_error("Refusing the backend's socket %s: its path has a symlink, and the launcher follows "
                                 "none; closing the client", path), -EPERM;
        if (path_fd == -ENOTSOCK)
                return log_error("Refusing the backend's socket %s: a %s, not a socket; closing the client", path,
                                 file_type(st.st_mode)), -EPERM;
        if (path_fd < 0)
                return path_fd;
        if (st.st_uid != owner)
                return log_error("Refusing the backend's socket %s: owned by uid %u, expected uid %u (the backend's "
                                 "user: --backend-owner, else the launcher's own; emberctl new writes it); closing "
                                 "the client", path, (unsigned) st.st_uid, (unsigned) owner), -EPERM;
        return unix_socket_connect_fd(path_fd, 0);
}

static int connect_backend(const ember_addr *a, uid_t owner) {
        return a->sa.sa_family == AF_UNIX ? connect_unix_backend(a->un.sun_path, owner) : connect_to(&a->sa, a->len);
}

/* To the serving generation's backend, under a lease on that generation: while we hold it, a generation that was
 * replaced by an upgrade keeps its backend for us. */
static int connect_serving(int dirfd, const ember_addr *backend, uid_t owner, backend_conn *ret) {
        _cleanup_close_ int lease = -1;
        serving sv;
        int fd, r;

        r = serving_enter(dirfd, &sv, &lease);
        if (r < 0 && (r != -ENOENT || backend->port_auto))
                return r;
        if (!backend->port_auto)
                sv.address = *backend; /* the same, or from a supervisor of an older ember, which names none */
        else if (sv.address.sa.sa_family == AF_UNSPEC)
                return -ECONNREFUSED; /* not ready yet: its address is said once it is */
        fd = connect_backend(&sv.address, owner);
        if (fd < 0)
                return fd;
        *ret = (backend_conn){ .fd = fd, .lease = take_fd(&lease), .address = sv.address };
        return 0;
}

int backend_acquire(int dirfd, const char *app, const ember_addr *backend, uid_t owner, char **command,
                    uint64_t start_timeout, uint64_t deadline, backend_conn *ret) {
        acquire_step step = STEP_CONNECT;
        int r;

        /* Warm path: no lock needed, our count keeps the backend from being stopped under us. */
        if (app_is_warm(dirfd)) {
                r = connect_serving(dirfd, backend, owner, ret);
                if (r >= 0 || r == -EPERM)
                        return r; /* a refused socket was said, and trying again changes nothing */
        }
        /* A backend that just died, or failed while we waited, gets a bounded number of fresh tries. */
        for (unsigned failures = 0;;) {
                r = ensure_ready(dirfd, app, command, deadline, &step);
                if (r > 0) {
                        step = STEP_CONNECT;
                        r = connect_serving(dirfd, backend, owner, ret);
                        if (r >= 0 || r == -EPERM)
                                return r;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        break;
                if (wake_socket_coming_back(r, step, command, failures)) {
                        (void) poll(NULL, 0, 20);
                        continue;
                }
                if (r != -EHOSTDOWN && r != -ECONNREFUSED && r != -ENOENT)
                        break;
                if (++failures >= 3)
                        break;
                if (r != -EHOSTDOWN) /* warm but refused: let the supervisor notice the death */
                        (void) poll(NULL, 0, 10);
        }
        log_acquire_failure(r, step, app, command, start_timeout);
        return r;
}
