/* Generations: several backend runs of one app alive at once during an upgrade (see ember-state(7)). The serving
 * one takes new connections; one that an upgrade replaced drains its own and stops; a pending one (an upgrade's,
 * not ready yet) takes none. */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit-status.h"
#include "log.h"
#include "macro.h"
#include "options.h"
#include "protocol.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

#define DRAIN_CHECK_USEC (100 * USEC_PER_MSEC)
#define GENERATIONS_MAX 64

int pick_port(ember_addr *a) {
        _cleanup_close_ int fd = -1;
        ember_addr bound = *a;
        socklen_t len = sizeof(bound.storage);

        fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, &a->sa, a->len) < 0 || getsockname(fd, &bound.sa, &len) < 0)
                return -errno;
        if (a->sa.sa_family == AF_INET)
                a->in.sin_port = bound.in.sin_port;
        else
                a->in6.sin6_port = bound.in6.sin6_port;
        return 0;
}

static uint16_t port_of(const ember_addr *a) {
        return a->sa.sa_family == AF_INET ? ntohs(a->in.sin_port) : a->sa.sa_family == AF_INET6 ? ntohs(a->in6.sin6_port) : 0;
}

void generation_record(supervisor *s) {
        generation_file_write(s->dirfd, s->generation, port_of(&s->address), s->backend);
}

void generation_forget(supervisor *s) {
        generation_file_remove(s->dirfd, s->generation);
        close_handoff_socket(s);
}

/* G of "PREFIXG" or "PREFIXG.sock", for the files of one generation. */
static bool generation_of(const char *name, const char *prefix, uint64_t *ret) {
        char num[24];
        size_t n = strlen(prefix), len;

        if (strncmp(name, prefix, n) != 0)
                return false;
        len = strcspn(name + n, ".");
        if (len == 0 || len >= sizeof(num) || (name[n + len] && strcmp(name + n + len, ".sock") != 0))
                return false;
        memcpy(num, name + n, len);
        num[len] = '\0';
        return parse_uint64(num, ret) >= 0;
}

static bool generation_of(const char *name, const char *prefix, uint64_t *ret);

/* Under the lock: gen-G, handoff-G.sock and notify-G.sock of generations whose supervisor is gone (killed before it
 * could clean up). */
void generations_sweep(int dirfd) {
        _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        uint64_t g;

        if (!d)
                return;
        fd = -1; /* the DIR owns it now */
        while ((de = readdir(d)))
                if ((generation_of(de->d_name, STATE_GEN_PREFIX, &g) || generation_of(de->d_name, "handoff-", &g) ||
                     generation_of(de->d_name, "notify-", &g)) &&
                    supervisor_find_generation(dirfd, g, NULL) == 0)
                        (void) unlinkat(dirfd, de->d_name, 0);
        closedir(d);
}

static int handoff_address(const supervisor *s, uint64_t generation, struct sockaddr_un *sa, socklen_t *len) {
        char dir[sizeof(sa->sun_path)];
        int n;

        if (state_dir_path(s->opt->app, dir, sizeof(dir)) < 0)
                return -ENAMETOOLONG;
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/handoff-%" PRIu64 ".sock", dir, generation);
        if (n < 0 || (size_t) n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + (size_t) n + 1);
        return 0;
}

/* The listening wake socket is the same for every generation. The serving one hands a copy to an upgrade's new
 * generation through handoff-G.sock (root only, 0600), the way systemd hands sockets on: SCM_RIGHTS. */
int open_handoff_socket(supervisor *s) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa;
        socklen_t len;
        int r = handoff_address(s, s->generation, &sa, &len);

        if (r < 0)
                return r;
        (void) unlink(sa.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, len) < 0 || chmod(sa.sun_path, 0600) < 0 || listen(fd, 4) < 0)
                return -errno;
        s->handoff_fd = take_fd(&fd);
        return 0;
}

void close_handoff_socket(supervisor *s) {
        struct sockaddr_un sa;
        socklen_t len;

        if (s->handoff_fd < 0)
                return;
        closep(&s->handoff_fd);
        if (handoff_address(s, s->generation, &sa, &len) >= 0)
                (void) unlink(sa.sun_path);
}

/* A connection on handoff-G.sock: our wake socket to a process of our own user (root), then done. */
void hand_off_wake_socket(supervisor *s) {
        _cleanup_close_ int fd = accept4(s->handoff_fd, NULL, NULL, SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char byte = s->owns_wake ? HANDOFF_WAKE_OWNED : HANDOFF_WAKE_UNIT, cbuf[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = { &byte, 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        if (fd < 0 || s->listen_fd < 0)
                return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid())
                return;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &s->listen_fd, sizeof(int));
        (void) sendmsg(fd, &mh, MSG_NOSIGNAL);
}

/* The serving generation FROM's wake socket, received into ours, and whether it owns the file (inetd mode). */
int take_wake_socket(supervisor *s, uint64_t from) {
        _cleanup_close_ int fd = -1, wake = -1;
        struct timeval tv = { .tv_sec = 5 };
        char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { &byte, 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cm;
        struct sockaddr_un sa;
        int accepting = 0, r;
        socklen_t len;

        r = handoff_address(s, from, &sa, &len);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, len) < 0)
                return -errno;
        if (recvmsg(fd, &mh, MSG_CMSG_CLOEXEC) != 1)
                return errno ? -errno : -EPROTO;
        cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EPROTO;
        memcpy(&wake, CMSG_DATA(cm), sizeof(int));
        len = sizeof(accepting);
        if (getsockopt(wake, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 || !accepting)
                return -ENOTSOCK;
        if (fcntl(wake, F_SETFL, fcntl(wake, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        s->listen_fd = take_fd(&wake);
        s->owns_wake = byte == HANDOFF_WAKE_OWNED;
        if (!s->owns_wake)
                snprintf(s->wake_unit, sizeof(s->wake_unit), "%s-backend.socket", s->opt->app);
        return 0;
}

/* Under the lock: another generation serves now (an upgrade switched to it). */
bool replaced(supervisor *s) {
        serving sv;
        return serving_read(s->dirfd, &sv) >= 0 && sv.generation != s->generation;
}

/* We keep our connections and take no new ones. */
void begin_drain(supervisor *s) {
        uint64_t left = 0, asked;
        serving sv = {};

        s->drain_usec = s->opt->drain_timeout;
        (void) serving_read(s->dirfd, &sv);
        if (upgrade_under_way_drain(s->dirfd, sv.generation, &asked) > 0)
                s->drain_usec = asked;
        s->drain_check_at = now_usec(CLOCK_MONOTONIC);
        s->drain_deadline = usec_add(s->drain_check_at, s->drain_usec);
        s->idle_deadline = USEC_INFINITY;
        closep(&s->listen_fd); /* the wake socket is the serving generation's business now */
        close_handoff_socket(s);
        (void) generation_lease_count(s->dirfd, s->generation, &left);
        log_info("Generation %" PRIu64 " replaced by %" PRIu64 ": draining %" PRIu64 " connections (drain timeout %" PRIu64
                 " s)", s->generation, sv.generation, left, s->drain_usec / USEC_PER_SEC);
}

/* The generation that serving names is gone (killed: a clean end would have stopped us first). Under systemd nothing
 * can wake the app while we keep its unit active, so the main process ends the unit then. */
bool serving_lost(supervisor *s) {
        serving sv;
        return serving_read(s->dirfd, &sv) >= 0 && sv.generation != s->generation &&
               supervisor_find_generation(s->dirfd, sv.generation, NULL) == 0;
}

/* Returns 1 once the drain is over (our last connection closed, or the drain timeout came): the backend is stopped
 * and the end logged. */
int drain_step(supervisor *s) {
        _cleanup_close_ int lock = -1;
        uint64_t left = 0, now = now_usec(CLOCK_MONOTONIC);
        char why[128];
        int status = 0;

        s->drain_check_at = now + DRAIN_CHECK_USEC;
        if (generation_lease_count(s->dirfd, s->generation, &left) < 0)
                left = 1; /* unreadable: wait for the deadline rather than cut connections */
        bool lost = unit_main_process(s) && serving_lost(s);
        if (left > 0 && now < s->drain_deadline && !lost)
                return 0;
        if (lost)
                snprintf(why, sizeof(why), "the serving generation is gone; closing its %" PRIu64 " connections so that "
                         "the next connection starts the app afresh", left);
        else if (left == 0)
                snprintf(why, sizeof(why), "its last connection closed");
        else
                snprintf(why, sizeof(why), "the drain timeout passed; closing its %" PRIu64 " connections", left);
        kill_backend(s, &status);
        (void) state_lock_until(s->dirfd, deadline_in(USEC_PER_SEC), &lock);
        log_run_end(s, "drained", left ? LOG_WARNING : LOG_INFO, why);
        generation_forget(s);
        return 1;
}

/* The unit's main process (the supervisor systemd started) outlives the generations that upgrades started beside
 * it: under KillMode=mixed its exit would end the unit and every generation with it, and only it gets systemd's
 * SIGTERM. Once its own backend is gone it holds no generation (SUP_ANCHORING), so that it is not counted as one. */
void generation_release(supervisor *s) {
        closep(&s->lifetime_fd);
        supervisor_lock_forget();
}

bool other_generations_left(supervisor *s) {
        return supervisor_find(s->dirfd, NULL) > 0;
}

/* The serving generation ends: the others go with it (under systemd they would be killed with the unit anyway;
 * this way each stops its backend and says so). Waits for them, up to their stop timeout and a second. */
void stop_other_generations(supervisor *s) {
        uint64_t gens[GENERATIONS_MAX];
        pid_t pids[GENERATIONS_MAX];
        int n = supervisors_list(s->dirfd, gens, pids, GENERATIONS_MAX);
        uint64_t deadline = usec_add(deadline_in(s->opt->stop_timeout), USEC_PER_SEC);

        for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                        (void) supervisor_signal_generation(s->dirfd, gens[i], SIGTERM);
        for (int i = 0; i < n; i++)
                while (supervisor_find_generation(s->dirfd, gens[i], NULL) > 0 && now_usec(CLOCK_MONOTONIC) < deadline)
                        (void) poll(NULL, 0, 10);
}

/* The foreground process's end: the line the upgrade's supervisor sent (N bytes), said on stderr, as the error it is:
 * 0 if the new generation serves or the app is cold, -ERR_NOT_NOW if busy, else -ERR_BACKEND_FAILED. */
static int upgrade_outcome(const char *line, ssize_t n) {
        if (n <= 0) {
                fprintf(stderr, "ember-sandbox: the upgrade's supervisor ended without saying how it went\n");
                return -ERR_BACKEND_FAILED;
        }
        fprintf(stderr, "ember-sandbox: %s\n", line + 1);
        return line[0] == UPGRADE_READY || line[0] == UPGRADE_COLD ? 0 :
               line[0] == UPGRADE_BUSY ? -ERR_NOT_NOW : -ERR_BACKEND_FAILED;
}

/* ember-sandbox --upgrade returns once the new generation serves or failed: the supervisor goes on in a child,
 * and tells this foreground process how it went, one line on a pipe. Under systemd this process is ExecReload=,
 * so `systemctl reload` (and emberctl upgrade) wait for it. Returns in the child only. */
int upgrade_foreground(int *ret_report_fd) {
        char line[512];
        int p[2];
        pid_t pid;
        ssize_t n;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* a daemon from now on: nothing of the caller's but stdin, stdout and stderr (a client socket left
                 * open in a shell that ran us would otherwise live as long as this generation) */
                if (p[1] != 3 && dup3(p[1], 3, O_CLOEXEC) < 0)
                        _exit(exit_status(-errno));
                (void) syscall(SYS_close_range, 4U, ~0U, 0);
                log_reopen();
                (void) setsid();
                *ret_report_fd = 3;
                return 0;
        }
        close(p[1]);
        n = read(p[0], line, sizeof(line) - 1);
        line[n > 0 ? n : 0] = '\0';
        _exit(exit_status(upgrade_outcome(line, n)));
}

/* Once: KIND's byte, then the line, to the foreground process. The line also goes to STATE_UPGRADE_RESULT as
 * "ready: …", "cold: …", "busy: …" or "failed: …", for emberctl upgrade. */
void upgrade_report(supervisor *s, upgrade_result kind, const char *fmt, ...) {
        char line[512], result[560];
        va_list ap;

        if (s->report_fd < 0)
                return;
        line[0] = kind;
        va_start(ap, fmt);
        vsnprintf(line + 1, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        snprintf(result, sizeof(result), "%s: %s", kind == UPGRADE_READY ? "ready" : kind == UPGRADE_COLD ? "cold" :
                 kind == UPGRADE_BUSY ? "busy" : "failed", line + 1);
        if (s->dirfd >= 0)
                upgrade_result_write(s->dirfd, result);
        (void) !write(s->report_fd, line, strlen(line));
        closep(&s->report_fd);
}

/* Under the lock: number this run and take its lifetime lock. 0, or -ERR_STATE_DIR (logged). */
int allocate_generation(supervisor *s) {
        uint64_t generation = 0;
        char f[48];
        int r;

        (void) state_read_u64(s->dirfd, STATE_GENERATION, &generation);
        generation = generation >= INT64_MAX - 1 ? 1 : generation + 1;
        r = supervisor_lock_take(s->dirfd, generation, &s->lifetime_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to take the supervisor lock in %s", s->dir_path), -ERR_STATE_DIR;
        r = generation_number_write(s->dirfd, generation);
        if (r < 0)
                log_warning_errno(r, "Failed to record generation %" PRIu64, generation);
        s->generation = generation;
        snprintf(f, sizeof(f), "EMBER_GENERATION=%" PRIu64, generation);
        log_set_field(f);
        if (s->opt->upgrade) /* the serving generation's backend may still use notify.sock */
                snprintf(s->notify_name, sizeof(s->notify_name), "notify-%" PRIu64 ".sock", generation);
        return 0;
}
