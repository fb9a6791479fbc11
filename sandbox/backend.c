/* The backend process of one run: started confined, probed, stopped. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "macro.h"
#include "supervisor.h"
#include "timeutil.h"
#include "unix-socket.h"

/* COMMAND's arguments with {port}, {backend} and {generation} replaced (spelled so that neither systemd's % nor its
 * $ expansion in ExecStart= touches them). In the child, just before exec: allocations end with it. */
static char **expand_placeholders(char **argv, const char *port, const char *backend, const char *generation) {
        static const char *const names[] = { "{port}", "{backend}", "{generation}" };
        const char *values[] = { port, backend, generation };
        size_t n = 0;
        char **out;

        while (argv[n])
                n++;
        out = calloc(n + 1, sizeof(char *));
        if (!out)
                return argv;
        for (size_t i = 0; i < n; i++) {
                char buf[4096] = "";
                const char *p = argv[i];
                size_t len = 0;

                while (*p && len < sizeof(buf) - 1) {
                        size_t k = 0;
                        while (k < ELEMENTSOF(names) && strncmp(p, names[k], strlen(names[k])) != 0)
                                k++;
                        if (k < ELEMENTSOF(names)) {
                                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s", values[k]);
                                p += strlen(names[k]);
                        } else
                                buf[len++] = *p++;
                }
                buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
                out[i] = strchr(argv[i], '{') ? strdup(buf) : argv[i];
                if (!out[i])
                        return argv;
        }
        return out;
}

/* PORT (the Heroku and Cloud Run convention), EMBER_BACKEND and EMBER_GENERATION, in the environment and in the
 * placeholders of COMMAND's arguments. */
static char **backend_environment(const supervisor *s) {
        char port[8] = "", addr[128] = "", gen[24];
        uint16_t p = s->address.sa.sa_family == AF_INET    ? ntohs(s->address.in.sin_port)
                     : s->address.sa.sa_family == AF_INET6 ? ntohs(s->address.in6.sin6_port)
                                                           : 0;

        if (p)
                snprintf(port, sizeof(port), "%u", p);
        (void) format_addr(&s->address, addr, sizeof(addr));
        snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
        if (p)
                setenv("PORT", port, 1);
        setenv("EMBER_BACKEND", addr, 1);
        setenv("EMBER_GENERATION", gen, 1);
        return expand_placeholders(s->opt->command, port, addr, gen);
}

/* Forks the backend into its own process group, confined. A CLOEXEC pipe tells us whether exec worked. */
int start_backend(supervisor *s, const char *notify_path) {
        _cleanup_close_ int rd = -1, wr = -1;
        int p[2], err = 0;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* A supervisor killed outright (SIGKILL, OOM) takes its backend along: no orphan keeps the port, and the
         * next supervisor starts from nothing. */
        s->confine.parent_death_signal = SIGKILL;
        s->confine.parent = getpid();
        rd = p[0];
        wr = p[1];
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                freeze_child_join(s);
                setsid();
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                if (s->output_wr >= 0) { /* --idle-action=checkpoint: a pipe criu can dump, not the journal's socket */
                        dup2(s->output_wr, STDOUT_FILENO);
                        dup2(s->output_wr, STDERR_FILENO);
                }
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_FDNAMES");
                if (notify_path)
                        setenv("NOTIFY_SOCKET", notify_path, 1);
                else
                        unsetenv("NOTIFY_SOCKET");
                err = confine_exec(&s->confine, (int[]){ wr }, 1, backend_environment(s)); /* wr closes at exec */
                (void) !write(wr, &err, sizeof(err));
                _exit(127);
        }
        close(take_fd(&wr));
        freeze_forked(s);
        s->backend = pid;
        if (read(rd, &err, sizeof(err)) == sizeof(err))
                return err < 0 ? err : -err;
        return 0;
}

/* A connect that would wait for room in a full backlog gives up after this: the supervisor has more to do. */
#define PROBE_CONNECT_TIMEOUT_USEC (100 * USEC_PER_MSEC)

static int probe_connect(const supervisor *s) {
        _cleanup_close_ int fd = socket(s->address.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_usec = PROBE_CONNECT_TIMEOUT_USEC };

        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        return connect(fd, &s->address.sa, s->address.len) < 0 ? -errno : 0;
}

/* A unix backend is not connected to: the probe's connection, closed at once, would be the backend's first client,
 * and a server that reads, answers and closes gets EPIPE writing to it (TCP takes that write and resets only
 * later), of which many die (issue 23). The kernel's socket table says whether a socket of ours listens on the
 * file; one it does not know (another network namespace's, or a file left over) is connected to as before, through
 * the inode looked at, not the path again. */
static int probe_unix(const supervisor *s) {
        static bool said_symlink;
        _cleanup_close_ int path_fd = -1, fd = -1;
        struct stat st;
        int r;

        path_fd = unix_socket_open(s->address.un.sun_path, &st);
        if (path_fd == -ELOOP && !said_symlink) {
                said_symlink = true;
                log_error("The backend's socket %s is reached through a symlink, and launchers connect to none: give "
                          "--backend its path without symlinks", s->address.un.sun_path);
        }
        if (path_fd < 0)
                return path_fd == -ENOTSOCK ? -ECONNREFUSED : path_fd;
        r = unix_socket_listening(&st);
        if (r >= 0)
                return r > 0 ? 0 : -ECONNREFUSED;
        fd = unix_socket_connect_fd(path_fd, PROBE_CONNECT_TIMEOUT_USEC);
        return fd < 0 ? fd : 0;
}

/* A TCP backend is ready once a listener of its own is on its address (listener.c), which the kernel's socket table
 * says without a connection. Where nobody listens in our network namespace, a connect asks whether the address
 * answers all the same (a port forwarded to another namespace), and the table is asked again after it succeeds: a
 * listener that appeared in between is judged like any other. */
static int probe_tcp(supervisor *s, port_holder *ret_foreign) {
        static bool said_unchecked;
        int r = backend_listener_check(s, ret_foreign);

        if (r == 1 || r == -EADDRINUSE)
                return r == 1 ? 0 : r;
        if (r < 0 && !said_unchecked) {
                said_unchecked = true;
                log_warning_errno(r, "Cannot read the kernel's table of listening sockets (sock_diag), so cannot check "
                                  "that the listener on the backend's address is the backend's; taking the first "
                                  "connect as ready");
        }
        r = probe_connect(s);
        if (r < 0)
                return r;
        r = backend_listener_check(s, ret_foreign);
        return r == -EADDRINUSE ? r : 0;
}

int probe_backend(supervisor *s, port_holder *ret_foreign) {
        return s->address.sa.sa_family == AF_UNIX ? probe_unix(s) : probe_tcp(s, ret_foreign);
}

/* Reaps the backend if it has exited: 1 if it had (its status in *status, its rusage kept), 0 if it runs, -errno
 * (-ECHILD: it is not our child any more). What it left behind in its process group (a daemonizing server's child)
 * is SIGKILLed first, while the exited backend is still a zombie: that keeps its pid, and so the group's id, from
 * being anyone else's. Once it is reaped, a signal to that group may reach a stranger who got the number. */
int reap_backend(supervisor *s, int *status) {
        siginfo_t si = {};

        if (s->backend <= 0)
                return -ECHILD;
        if (waitid(P_PID, (id_t) s->backend, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return -errno;
        if (si.si_pid != s->backend)
                return 0;
        (void) kill(-s->backend, SIGKILL);
        if (wait4(s->backend, status, 0, &s->rusage) != s->backend)
                return -errno;
        s->have_rusage = true;
        return 1;
}

/* Waits for the backend up to timeout (reaping it as reap_backend does). Returns 1 if it exited. */
int wait_backend(supervisor *s, uint64_t timeout, int *status) {
        uint64_t deadline = deadline_in(timeout); /* infinity: wait for as long as it takes */

        for (;;) {
                int r = reap_backend(s, status);
                if (r == 1 || r == -ECHILD)
                        return 1;
                if (r < 0)
                        return r;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return 0;
                struct pollfd pf = { .fd = s->signal_fd, .events = POLLIN };
                (void) poll(&pf, 1, 10);
                struct signalfd_siginfo si;
                while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si))
                        ;
        }
}

/* SIGTERM to the backend's process group, SIGKILL after the stop timeout; every signal to the group is sent
 * before the backend is reaped (reap_backend), never after. */
void kill_backend(supervisor *s, int *status) {
        if (s->backend <= 0)
                return;
        if (s->frozen) /* a frozen backend would not see the SIGTERM until thawed */
                (void) thaw_backend(s);
        (void) kill(-s->backend, SIGTERM);
        (void) kill(s->backend, SIGCONT);
        if (wait_backend(s, s->opt->stop_timeout, status) == 0) {
                log_warning("Backend %d still running %" PRIu64 " ms after SIGTERM, sending SIGKILL", (int) s->backend,
                            s->opt->stop_timeout / USEC_PER_MSEC);
                (void) kill(-s->backend, SIGKILL);
                (void) wait_backend(s, USEC_INFINITY, status);
        }
        s->backend = 0;
}

void describe_exit(int status, char *buf, size_t size) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(WTERMSIG(status)) ?: "?",
                         WCOREDUMP(status) ? " (core dumped)" : "");
        else
                snprintf(buf, size, "ended with status 0x%x", status);
}
