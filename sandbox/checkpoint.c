/* --idle-action=checkpoint: at the idle deadline the backend's process tree is dumped with criu into
 * /var/lib/ember/NAME/checkpoint (root's, 0700; $EMBER_CHECKPOINT_ROOT for /var/lib/ember in tests) and is gone like a stopped one; the next run restores it from there
 * instead of starting it, and falls back to a cold start, said once with the reason, whenever that fails.
 *
 * The criu binary is executed (Debian 12 has no libcriu), with:
 * - the backend's stdout and stderr on a pipe the supervisor relays to its own (the journal): criu cannot dump a
 *   process whose output is a journald stream socket (a unix connection to a peer outside the tree). The restored
 *   backend gets a fresh pipe in the old one's place (--inherit-fd).
 * - --restore-sibling: the restored backend is the supervisor's child, reaped and stopped like a started one.
 * - --manage-cgroups=ignore: it goes into criu's cgroup, which is the backend unit's of this run, not the old run's.
 * A checkpoint never outlives what made it: it carries a fingerprint of the supervisor's command line (the backend's
 * command, its user and policy), its environment (less what systemd sets anew for each run) and the executable
 * (device, inode, size, mtime); a mismatch discards it, as an upgrade does. Nothing here runs unless the idle
 * action is checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "options.h"
#include "supervisor.h"
#include "timeutil.h"

#define META "ember-checkpoint" /* "fingerprint=HEX pipe=INODE" */
#define CRIU_FD 3               /* the restored backend's new output pipe, in criu */

extern char **environ;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
        for (const unsigned char *c = p; n > 0; n--, c++)
                h = (h ^ *c) * 0x100000001b3ULL;
        return h;
}

/* What systemd (or the launcher) sets anew for every run: not part of what the backend was started with. */
static bool env_varies(const char *e) {
        static const char *const prefixes[] = { "INVOCATION_ID=", "LISTEN_", "NOTIFY_SOCKET=", "JOURNAL_STREAM=",
                                                "MAINPID=", "SYSTEMD_EXEC_PID=", "MANAGERPID=", "WATCHDOG_",
                                                "TRIGGER_", "MONITOR_", "EXIT_", "SERVICE_RESULT=" };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

static char **saved_argv;

void checkpoint_save_argv(char **argv) {
        saved_argv = argv;
}

static uint64_t fingerprint(const supervisor *s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        struct stat st = {};

        for (char **a = saved_argv; a && *a; a++)
                if (strcmp(*a, "--upgrade") != 0) /* an upgrade's generation runs what the next cold start will */
                        h = fnv(h, *a, strlen(*a) + 1);
        for (char **e = environ; e && *e; e++)
                if (!env_varies(*e))
                        h = fnv(h, *e, strlen(*e) + 1);
        if (s->opt->command[0][0] == '/' && stat(s->opt->command[0], &st) == 0) {
                uint64_t v[4] = { st.st_dev, st.st_ino, (uint64_t) st.st_size, (uint64_t) st.st_mtim.tv_sec * 1000000000ULL +
                                  (uint64_t) st.st_mtim.tv_nsec };
                h = fnv(h, v, sizeof(v));
        }
        return h;
}

static int dir_path(const supervisor *s, const char *suffix, char *buf, size_t size) {
        return checkpoint_dir_path(s->opt->app, suffix, buf, size);
}

/* The files of DIR (flat: criu writes no subdirectories there) and DIR; -errno. */
static int remove_dir(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(take_fd(&fd));
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
}

/* ROOT/NAME, root's and 0700: a checkpoint holds the backend's whole memory. */
static int make_app_dir(const supervisor *s) {
        char path[PATH_MAX];
        struct stat st;

        if (mkdir(checkpoint_root(), 0755) < 0 && errno != EEXIST)
                return -errno;
        snprintf(path, sizeof(path), "%s/%s", checkpoint_root(), s->opt->app);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
                return -EPERM;
        /* ours (systemd's StateDirectory= makes it 0700 too): made private if it was not */
        if ((st.st_mode & 0077) && chmod(path, 0700) < 0)
                return -errno;
        return 0;
}

/* The last line criu's log has about an error, for the one line that says why. */
static void criu_error(const char *dir, const char *log, char *why, size_t size) {
        char path[PATH_MAX], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, log);
        f = fopen(path, "re");
        if (!f)
                return;
        size_t at = strlen(why);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "Error") || strstr(line, "error")) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(why + at, size - at, ": %s", line);
                }
        fclose(f);
}

/* A failed criu's whole log, kept for people beside the checkpoint's place (root's, 0700) as criu-LOG. */
static void keep_log(const supervisor *s, const char *dir, const char *log) {
        char from[PATH_MAX + 32], to[PATH_MAX + 32];

        snprintf(from, sizeof(from), "%s/%s", dir, log);
        snprintf(to, sizeof(to), "%s/%s/criu-%s", checkpoint_root(), s->opt->app, log);
        (void) rename(from, to);
}

/* criu ARGV, with INHERIT (>= 0) as its CRIU_FD; its exit status, or -errno. */
static int run_criu(char *const argv[], int inherit) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                if (inherit >= 0 && dup2(inherit, CRIU_FD) < 0)
                        _exit(126);
                execvp("criu", argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Before the fork of a run with --idle-action=checkpoint: the pipe the backend's output goes to. */
int checkpoint_output_pipe(supervisor *s, int *ret_write) {
        int p[2];

        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        (void) fcntl(p[1], F_SETFL, 0); /* the backend's end blocks, as a terminal or the journal would */
        s->output_fd = p[0];
        *ret_write = p[1];
        return 0;
}

/* The backend's output, on to ours (the journal). */
void checkpoint_relay_output(supervisor *s) {
        char buf[4096];
        ssize_t n;

        while ((n = read(s->output_fd, buf, sizeof(buf))) > 0)
                (void) !write(STDOUT_FILENO, buf, (size_t) n);
        if (n == 0)
                closep(&s->output_fd);
}

int checkpoint_dir(const supervisor *s, char *buf, size_t size) {
        return dir_path(s, "", buf, size);
}

int checkpoint_dump(supervisor *s, char *why, size_t size) {
        char dir[PATH_MAX], tmp[PATH_MAX], pid[24], meta[96];
        struct stat st;
        int r;

        if (dir_path(s, "", dir, sizeof(dir)) < 0 || dir_path(s, ".new", tmp, sizeof(tmp)) < 0)
                return snprintf(why, size, "the checkpoint's path is too long"), -ENAMETOOLONG;
        r = make_app_dir(s);
        if (r < 0)
                return snprintf(why, size, "cannot make %s/%s (root's, mode 0700): %s", checkpoint_root(), s->opt->app,
                                strerror(-r)), r;
        (void) remove_dir(tmp);
        if (mkdir(tmp, 0700) < 0)
                return snprintf(why, size, "cannot make %s: %m", tmp), -errno;
        if (s->output_fd < 0 || fstat(s->output_fd, &st) < 0)
                return snprintf(why, size, "the backend's output pipe is gone"), -EBADF;
        snprintf(pid, sizeof(pid), "%d", (int) s->backend);
        char *argv[] = { "criu", "dump", "-t", pid, "-D", tmp, "-o", "dump.log", "--manage-cgroups=ignore", NULL };
        r = run_criu(argv, -1);
        if (r != 0) {
                snprintf(why, size, "criu dump %s", r == 127 ? "could not be executed (is criu installed?)" : "failed");
                criu_error(tmp, "dump.log", why, size);
                keep_log(s, tmp, "dump.log");
                (void) remove_dir(tmp);
                return -EIO;
        }
        snprintf(meta, sizeof(meta), "fingerprint=%016" PRIx64 " pipe=%" PRIu64 "\n", fingerprint(s), (uint64_t) st.st_ino);
        {
                char path[PATH_MAX + 32];
                _cleanup_close_ int fd = -1;
                snprintf(path, sizeof(path), "%s/" META, tmp);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0 || write(fd, meta, strlen(meta)) != (ssize_t) strlen(meta))
                        return snprintf(why, size, "cannot write %s: %m", path), (void) remove_dir(tmp), -EIO;
        }
        (void) remove_dir(dir);
        if (rename(tmp, dir) < 0)
                return snprintf(why, size, "cannot rename %s to %s: %m", tmp, dir), (void) remove_dir(tmp), -errno;
        s->checkpoint_bytes = 0;
        (void) checkpoint_size(s->opt->app, &s->checkpoint_bytes);
        return 0;
}

void checkpoint_discard(supervisor *s, const char *why) {
        char dir[PATH_MAX];
        struct stat st;

        if (dir_path(s, "", dir, sizeof(dir)) < 0 || lstat(dir, &st) < 0)
                return;
        (void) remove_dir(dir);
        log_info("Checkpoint %s discarded: %s", dir, why);
}

/* A dump cut short (its supervisor killed while criu ran) leaves DIR.new, as big as the backend's memory and of no
 * use: it is never renamed into place. Removed at the next start rather than at the next dump, hours later. */
static void remove_cut_short(const supervisor *s) {
        char tmp[PATH_MAX];
        struct stat st;

        if (dir_path(s, ".new", tmp, sizeof(tmp)) < 0 || lstat(tmp, &st) < 0)
                return;
        if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() && remove_dir(tmp) == 0)
                log_info("Removed %s: a checkpoint whose dump was cut short", tmp);
}

static int read_meta(const char *dir, uint64_t *ret_fingerprint, uint64_t *ret_pipe) {
        char path[PATH_MAX + 32], buf[128];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/" META, dir);
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -EBADMSG;
        buf[n] = '\0';
        return sscanf(buf, "fingerprint=%" SCNx64 " pipe=%" SCNu64, ret_fingerprint, ret_pipe) == 2 ? 0 : -EBADMSG;
}

/* A restore cut short (its supervisor killed while criu ran: the unit's end killed criu and the half-restored
 * backend with it) leaves DIR.restoring. A checkpoint is tried once: restoring it again could end the same way at
 * every start (a restore that runs out of memory), and a backend restored that far may have run on from it. So the
 * next start removes it and says so (-ESTALE, WHY), and starts cold. */
static int restore_cut_short(const supervisor *s, char *why, size_t size) {
        char restoring[PATH_MAX];
        struct stat st;

        if (dir_path(s, ".restoring", restoring, sizeof(restoring)) < 0 || lstat(restoring, &st) < 0)
                return 0;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
                return snprintf(why, size, "%s is not a directory of ours", restoring), -EPERM;
        (void) remove_dir(restoring);
        snprintf(why, size, "the last restore from the checkpoint was cut short (its supervisor was killed while criu "
                 "ran); a checkpoint is tried once, so %s was removed", restoring);
        return -ESTALE;
}

/* Restores the checkpoint, if there is one that this run may use: 1 if the backend was restored (s->backend), 0 if
 * there is none (or it was discarded), -errno if restoring failed (said in WHY; the checkpoint is gone).
 * It is restored from DIR.restoring, where it is moved first: what a kill during the restore leaves behind is then
 * told apart from a checkpoint not yet tried (restore_cut_short()). */
/* The checkpoint to restore, if there is one that may be: moved to DIR (checkpoint.restoring), so that a restore cut
 * short is never tried again. Returns 1 with *pipe_ino its output pipe's inode, 0 if there is none to restore, or
 * -errno with WHY filled. */
static int checkpoint_take(supervisor *s, char dir[static PATH_MAX], uint64_t *pipe_ino, char *why, size_t size) {
        char saved[PATH_MAX];
        uint64_t fp;
        struct stat st;
        int r;

        if (dir_path(s, "", saved, sizeof(saved)) < 0 || dir_path(s, ".restoring", dir, PATH_MAX) < 0 ||
            lstat(saved, &st) < 0)
                return 0;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077)) {
                snprintf(why, size, "%s is not a directory of ours alone (mode 0700)", saved);
                return -EPERM; /* not ours to remove either */
        }
        r = read_meta(saved, &fp, pipe_ino);
        if (r < 0) {
                snprintf(why, size, "%s has no readable " META " (a dump cut short?)", saved);
                (void) remove_dir(saved);
                return r;
        }
        if (fp != fingerprint(s)) {
                checkpoint_discard(s, "the backend's command, options, environment or executable changed since");
                return 0;
        }
        if (rename(saved, dir) < 0) {
                r = -errno;
                snprintf(why, size, "cannot rename %s to %s: %s", saved, dir, strerror(-r));
                (void) remove_dir(saved);
                return r;
        }
        return 1;
}

/* The restored backend's pid, as criu wrote it to PIDFILE; -ESRCH without one. */
static pid_t restored_pid(const char *pidfile) {
        _cleanup_close_ int fd = open(pidfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[24];
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        pid_t pid;

        if (n <= 0)
                return -ESRCH;
        buf[n] = '\0';
        pid = (pid_t) strtol(buf, NULL, 10);
        return pid > 0 ? pid : -ESRCH;
}

int checkpoint_restore(supervisor *s, char *why, size_t size) {
        char dir[PATH_MAX], pidfile[PATH_MAX + 32], inherit[64];
        uint64_t pipe_ino, t0, t1;
        pid_t pid;
        int r, wr = -1;

        remove_cut_short(s);
        r = restore_cut_short(s, why, size);
        if (r < 0)
                return r;
        r = checkpoint_take(s, dir, &pipe_ino, why, size);
        if (r <= 0)
                return r;
        r = checkpoint_output_pipe(s, &wr);
        if (r < 0)
                return snprintf(why, size, "pipe: %s", strerror(-r)), (void) remove_dir(dir), r;
        snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", dir);
        snprintf(inherit, sizeof(inherit), "fd[%d]:pipe:[%" PRIu64 "]", CRIU_FD, pipe_ino);
        char *argv[] = { "criu", "restore", "-D", dir, "-o", "restore.log", "-d", "--restore-sibling",
                         "--manage-cgroups=ignore", "--inherit-fd", inherit, "--pidfile", pidfile, NULL };
        t0 = now_usec(CLOCK_MONOTONIC);
        log_info("Restoring the backend from %s with criu", dir);
        r = run_criu(argv, wr);
        close(wr);
        t1 = now_usec(CLOCK_MONOTONIC);
        pid = r == 0 ? restored_pid(pidfile) : -ESRCH;
        if (r == 0 && pid > 0)
                s->backend = pid;
        else {
                if (r == 0)
                        r = -ESRCH;
                snprintf(why, size, "criu restore %s", r == 127 ? "could not be executed (is criu installed?)" : "failed");
                criu_error(dir, "restore.log", why, size);
                keep_log(s, dir, "restore.log");
                closep(&s->output_fd);
        }
        (void) remove_dir(dir); /* used once: the restored backend goes on from it, and a failed one is no better */
        if (r != 0)
                return -EIO; /* said by the caller, with criu's reason */
        /* where a restore's time goes (bench/README.md): criu's own, and ours before the backend is probed */
        log_info("criu restore done after %" PRIu64 " ms; the checkpoint removed in %" PRIu64 " ms",
                 (t1 - t0) / USEC_PER_MSEC, (now_usec(CLOCK_MONOTONIC) - t1) / USEC_PER_MSEC);
        return 1;
}
