/* Specification of the per-app state directory (common/state.c), run in a private EMBER_RUNTIME_DIR. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"

static char root[256];

static void path_of(char *buf, size_t size, const char *a, const char *b) {
        snprintf(buf, size, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
}

/* Writes raw bytes to ROOT/app/name, bypassing the library. */
static void put_raw(const char *app, const char *name, const void *data, size_t n) {
        char p[PATH_MAX];
        int fd;

        path_of(p, sizeof(p), app, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, n) != (ssize_t) n)
                bail_out("cannot write a test file");
        close(fd);
}

static void get_raw(const char *app, const char *name, char *buf, size_t size) {
        char p[PATH_MAX];
        ssize_t n;
        int fd;

        buf[0] = '\0';
        path_of(p, sizeof(p), app, name);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
}

static int open_app(const char *app, bool create) {
        int fd = -1, r = state_open(app, create, &fd);
        if (r < 0)
                return r;
        return fd;
}

static void test_open(void) {
        char p[PATH_MAX], q[PATH_MAX];
        struct stat st;
        int fd, r;

        umask(022);
        fd = -1;
        is_int("state_open without create on a missing dir is -ENOENT", state_open("nope", false, &fd), -ENOENT);

        fd = open_app("a", true);
        ok("state_open creates the app dir", fd >= 0);
        path_of(p, sizeof(p), "a", NULL);
        ok("app dir exists at $EMBER_RUNTIME_DIR/a", lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
        is_int("app dir has mode 0755", st.st_mode & 07777, 0755);
        ok("the dir fd is O_CLOEXEC", fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
        if (fd >= 0)
                close(fd);
        fd = open_app("a", true);
        ok("state_open on an existing dir succeeds", fd >= 0);
        if (fd >= 0)
                close(fd);
        fd = open_app("a", false);
        ok("state_open without create on an existing dir succeeds", fd >= 0);
        if (fd >= 0)
                close(fd);

        /* a symlinked app dir is refused, not followed */
        path_of(p, sizeof(p), "real", NULL);
        mkdir(p, 0755);
        path_of(q, sizeof(q), "sym", NULL);
        if (symlink(p, q) < 0)
                bail_out("symlink");
        r = open_app("sym", true);
        ok("symlinked app dir is refused with -ELOOP/-ENOTDIR (create)", r == -ELOOP || r == -ENOTDIR);
        if (r >= 0)
                close(r);
        r = open_app("sym", false);
        ok("symlinked app dir is refused with -ELOOP/-ENOTDIR (no create)", r == -ELOOP || r == -ENOTDIR);
        if (r >= 0)
                close(r);

        /* a symlink to a non-directory, and a regular file */
        path_of(p, sizeof(p), "file", NULL);
        close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        r = open_app("file", true);
        is_int("a regular file in place of the app dir is -ENOTDIR", r, -ENOTDIR);
        if (r >= 0)
                close(r);

        /* wrong owner */
        path_of(p, sizeof(p), "other", NULL);
        mkdir(p, 0755);
        if (geteuid() == 0 && chown(p, 65534, 65534) == 0) {
                /* handed over: only the runtime dir's owner (us) could have made it or given it away */
                r = open_app("other", true);
                ok("an app dir root handed to another uid is accepted (the runtime dir is root's alone)", r >= 0);
                if (r >= 0)
                        close(r);
                chmod(root, 0777);
                r = open_app("other", true);
                is_int("an app dir owned by another uid in a world-writable runtime dir is refused with -EPERM", r,
                       -EPERM);
                if (r >= 0)
                        close(r);
                chmod(root, 0755);
        } else
                skip(2, "changing a dir's owner needs root");

        /* group- and world-writable dirs */
        path_of(p, sizeof(p), "gw", NULL);
        mkdir(p, 0755);
        chmod(p, 0775);
        r = open_app("gw", true);
        is_int("a group-writable app dir is refused with -EACCES", r, -EACCES);
        if (r >= 0)
                close(r);
        path_of(p, sizeof(p), "ow", NULL);
        mkdir(p, 0755);
        chmod(p, 0757);
        r = open_app("ow", false);
        is_int("a world-writable app dir is refused with -EACCES", r, -EACCES);
        if (r >= 0)
                close(r);
}

/* A directory root handed to another user: root trusts that user's files there; what root writes stays root's. A
 * hard link is refused. */
static void test_handed_over(void) {
        char p[PATH_MAX], q[PATH_MAX];
        struct stat st;
        uint64_t v = 0;
        int dfd, fd;

        if (geteuid() != 0) {
                skip(6, "handing a dir over needs root");
                return;
        }
        path_of(p, sizeof(p), "handed", NULL);
        mkdir(p, 0755);
        if (chown(p, 65534, 65534) < 0 || (dfd = open_app("handed", false)) < 0) {
                skip(6, "cannot hand a dir over");
                return;
        }
        ok("root writes a launcher's file in a handed-over dir", state_write_u64(dfd, STATE_REFCOUNT, 2) == 0);
        path_of(p, sizeof(p), "handed", STATE_REFCOUNT);
        ok("and it stays root's: nothing is given away by name or by fd", stat(p, &st) == 0 && st.st_uid == 0);
        ok("a file of the dir's owner there is trusted",
           chown(p, 65534, 65534) == 0 && state_read_u64(dfd, STATE_REFCOUNT, &v) == 0 && v == 2);
        ok("root writes a file of its own there", state_write_u64(dfd, STATE_BACKEND_PID, 42) == 0);
        path_of(p, sizeof(p), "handed", STATE_BACKEND_PID);
        ok("which stays root's", stat(p, &st) == 0 && st.st_uid == 0);
        path_of(q, sizeof(q), "handed", STATE_STATE);
        fd = link(p, q) == 0 ? state_open_file(dfd, STATE_STATE, O_RDONLY, 0) : -ENOSYS;
        is_int("a file with a second name (a hard link) is refused with -EPERM", fd, -EPERM);
        if (fd >= 0)
                close(fd);
        close(dfd);
}

/* Root's directory, the launchers' files made another user's: that user's files are trusted there, made with their
 * first values, left alone when present, and refused in a directory someone else may write. */
static void test_prepare_launchers(void) {
        const char *failed = NULL;
        char p[PATH_MAX], buf[64];
        struct stat st;
        uint64_t v = 7;
        int dfd, fd;

        if (geteuid() != 0) {
                skip(9, "making files another user's needs root");
                return;
        }
        dfd = open_app("prep", true);
        if (dfd < 0)
                bail_out("cannot make the app dir");
        ok("root makes the launchers' files another user's", state_prepare_launchers(dfd, 65534, 65534, &failed) == 0);
        path_of(p, sizeof(p), "prep", STATE_LEASES);
        ok("leases: that user's, 0600",
           stat(p, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534 && (st.st_mode & 07777) == 0600);
        ok("refcount starts at 0, and root trusts it there", state_read_u64(dfd, STATE_REFCOUNT, &v) == 0 && v == 0);
        ok("state starts cold", state_read(dfd, STATE_STATE, buf, sizeof(buf)) == 0 && strcmp(buf, "cold") == 0);
        ok("a launcher can tell they are made", state_launchers_prepared(dfd));
        path_of(p, sizeof(p), "prep", STATE_SUPERVISOR_LOCK);
        ok("supervisor.lock: root's, readable by that user's group",
           stat(p, &st) == 0 && st.st_uid == 0 && st.st_gid == 65534 && (st.st_mode & 07777) == 0640);
        ok("made again, a file keeps its value",
           state_write_u64(dfd, STATE_REFCOUNT, 3) == 0 && state_prepare_launchers(dfd, 65534, 65534, NULL) == 0 &&
           state_read_u64(dfd, STATE_REFCOUNT, &v) == 0 && v == 3);
        path_of(p, sizeof(p), "prep", NULL);
        chmod(p, 0757);
        fd = state_open_file(dfd, STATE_REFCOUNT, O_RDONLY, 0);
        is_int("that user's file in a directory others may write is refused with -EPERM", fd, -EPERM);
        if (fd >= 0)
                close(fd);
        chmod(p, 0755);
        path_of(p, sizeof(p), "prep", STATE_LEASES);
        ok("and they can be made root's again",
           state_prepare_launchers(dfd, 0, 0, NULL) == 0 && stat(p, &st) == 0 && st.st_uid == 0);
        close(dfd);
}

static void test_read_write(void) {
        char buf[128], raw[128], big[70000];
        uint64_t v;
        int dfd, r;

        dfd = open_app("rw", true);
        if (dfd < 0)
                bail_out("cannot open state dir rw");

        is_int("state_write succeeds", state_write(dfd, STATE_STATE, "warm"), 0);
        get_raw("rw", STATE_STATE, raw, sizeof(raw));
        is_str("the file holds the value and a newline", raw, "warm\n");
        is_int("state_read succeeds", state_read(dfd, STATE_STATE, buf, sizeof(buf)), 0);
        is_str("state_read returns the value without the newline", buf, "warm");
        is_int("state_write overwrites", state_write(dfd, STATE_STATE, "cold"), 0);
        state_read(dfd, STATE_STATE, buf, sizeof(buf));
        is_str("an overwritten value reads back", buf, "cold");
        is_int("state_write of a shorter value", state_write(dfd, STATE_STATE, "x"), 0);
        get_raw("rw", STATE_STATE, raw, sizeof(raw));
        is_str("a shorter value truncates the old one", raw, "x\n");

        is_int("state_write_u64 succeeds", state_write_u64(dfd, STATE_REFCOUNT, 42), 0);
        get_raw("rw", STATE_REFCOUNT, raw, sizeof(raw));
        is_str("refcount is decimal + newline", raw, "42\n");
        v = 0;
        is_int("state_read_u64 succeeds", state_read_u64(dfd, STATE_REFCOUNT, &v), 0);
        is_u64("state_read_u64 reads back 42", v, 42);
        is_int("state_write_u64 of UINT64_MAX", state_write_u64(dfd, STATE_COLD_STARTS, UINT64_MAX), 0);
        state_read_u64(dfd, STATE_COLD_STARTS, &v);
        is_u64("UINT64_MAX round-trips", v, UINT64_MAX);

        v = 7;
        is_int("reading a missing file is -ENOENT", state_read_u64(dfd, "missing", &v), -ENOENT);
        is_int("state_read into a too small buffer is -ENOBUFS", state_read(dfd, STATE_STATE, buf, 1), -ENOBUFS);

        /* bad contents */
        put_raw("rw", STATE_REFCOUNT, "garbage\n", 8);
        is_int("a garbage counter is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "-1\n", 3);
        is_int("a negative counter is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "99999999999999999999999\n", 24);
        is_int("an overflowing counter is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "12", 2);
        is_int("a truncated file (no newline) is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_STATE, "warm", 4);
        is_int("a truncated string value is -EBADMSG", state_read(dfd, STATE_STATE, buf, sizeof(buf)), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "", 0);
        is_int("an empty file is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "\n", 1);
        is_int("a lone newline is -EBADMSG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EBADMSG);
        put_raw("rw", STATE_REFCOUNT, "1\0002\n", 4);
        r = state_read_u64(dfd, STATE_REFCOUNT, &v);
        ok("an embedded NUL is -EBADMSG", r == -EBADMSG);
        if (r != -EBADMSG)
                diag("     got: %d, value %" PRIu64, r, v);
        memset(big, '7', sizeof(big));
        big[sizeof(big) - 1] = '\n';
        put_raw("rw", STATE_REFCOUNT, big, sizeof(big));
        is_int("a huge file is -EFBIG", state_read_u64(dfd, STATE_REFCOUNT, &v), -EFBIG);
        is_int("state_read of a huge file is -EFBIG", state_read(dfd, STATE_REFCOUNT, buf, sizeof(buf)), -EFBIG);
        put_raw("rw", STATE_REFCOUNT, big, 100);
        is_int("a 100-byte file is -EFBIG", state_read(dfd, STATE_REFCOUNT, buf, sizeof(buf)), -EFBIG);
        memset(big, 'v', 100);
        big[100] = '\0';
        ok("state_write refuses a 100-byte value", state_write(dfd, STATE_STATE, big) < 0);

        close(dfd);
}

static void test_symlinks(void) {
        char p[PATH_MAX], target[PATH_MAX], raw[128], buf[64];
        uint64_t v;
        int dfd, r, fd;

        dfd = open_app("ln", true);
        if (dfd < 0)
                bail_out("cannot open state dir ln");
        path_of(target, sizeof(target), "victim", NULL);
        fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "5\n", 2) != 2)
                bail_out("cannot write victim");
        close(fd);
        path_of(p, sizeof(p), "ln", STATE_REFCOUNT);
        if (symlink(target, p) < 0)
                bail_out("symlink");

        r = state_read_u64(dfd, STATE_REFCOUNT, &v);
        ok("state_read_u64 refuses a symlinked state file with -ELOOP", r == -ELOOP);
        if (r != -ELOOP)
                diag("     got: %d", r);
        r = state_write_u64(dfd, STATE_REFCOUNT, 9);
        ok("state_write refuses a symlinked state file", r < 0);
        path_of(p, sizeof(p), "victim", NULL);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        raw[0] = '\0';
        if (fd >= 0) {
                ssize_t n = read(fd, raw, sizeof(raw) - 1);
                raw[n > 0 ? n : 0] = '\0';
                close(fd);
        }
        is_str("the symlink's target is untouched", raw, "5\n");
        ok("state_add_u64 refuses a symlinked counter", state_add_u64(dfd, STATE_REFCOUNT, 1, &v) < 0);

        path_of(p, sizeof(p), "ln", STATE_LOCK);
        symlink(target, p);
        r = -1;
        fd = -1;
        r = state_lock(dfd, &fd);
        ok("state_lock refuses a symlinked lock file", r < 0);
        if (fd >= 0 && r >= 0)
                close(fd);

        path_of(p, sizeof(p), "ln", STATE_LEASES);
        symlink(target, p);
        fd = -1;
        r = lease_take(dfd, &fd);
        ok("lease_take refuses a symlinked leases file", r < 0);
        if (r >= 0)
                close(fd);

        /* a directory in place of a state file */
        path_of(p, sizeof(p), "ln", STATE_STATE);
        mkdir(p, 0755);
        ok("state_read refuses a directory", state_read(dfd, STATE_STATE, buf, sizeof(buf)) < 0);
        ok("state_write refuses a directory", state_write(dfd, STATE_STATE, "warm") < 0);

        /* a state file owned by someone else */
        path_of(p, sizeof(p), "ln", STATE_CONNECTIONS);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
                (void) !write(fd, "3\n", 2);
                close(fd);
        }
        if (geteuid() == 0 && chown(p, 65534, 65534) == 0) {
                path_of(target, sizeof(target), "ln", NULL);
                chmod(target, 0757);
                is_int("a state file owned by another uid, in a directory others may write, is refused with -EPERM",
                       state_read_u64(dfd, STATE_CONNECTIONS, &v), -EPERM);
                chmod(target, 0755);
        } else
                skip(1, "changing a file's owner needs root");

        close(dfd);
}

/* A FIFO planted as a state file must be refused, not block the reader forever. */
static void test_fifo(void) {
        char p[PATH_MAX];
        int dfd, status = 0;
        pid_t pid;

        dfd = open_app("fifo", true);
        if (dfd < 0)
                bail_out("cannot open state dir fifo");
        path_of(p, sizeof(p), "fifo", STATE_REFCOUNT);
        if (mkfifo(p, 0600) < 0)
                bail_out("mkfifo");
        pid = fork();
        if (pid == 0) {
                uint64_t v;
                alarm(3);
                _exit(state_read_u64(dfd, STATE_REFCOUNT, &v) < 0 ? 0 : 1);
        }
        waitpid(pid, &status, 0);
        ok("state_read_u64 refuses a FIFO without blocking (bounded 3s)",
           WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!WIFEXITED(status))
                diag("     reader was killed by signal %d (SIGALRM=%d: it blocked)", WTERMSIG(status), SIGALRM);
        close(dfd);
}

static void test_add(void) {
        char big[1000];
        uint64_t v = 99;
        int dfd;

        dfd = open_app("add", true);
        if (dfd < 0)
                bail_out("cannot open state dir add");
        is_int("state_add_u64 on a missing counter succeeds", state_add_u64(dfd, STATE_CONNECTIONS, 3, &v), 0);
        is_u64("a missing counter counts as 0", v, 3);
        state_add_u64(dfd, STATE_CONNECTIONS, 2, &v);
        is_u64("state_add_u64 adds", v, 5);
        state_add_u64(dfd, STATE_CONNECTIONS, -1, &v);
        is_u64("state_add_u64 subtracts", v, 4);
        state_read_u64(dfd, STATE_CONNECTIONS, &v);
        is_u64("the sum is stored", v, 4);
        put_raw("add", STATE_CONNECTIONS, "zzz\n", 4);
        is_int("state_add_u64 on a garbage counter succeeds", state_add_u64(dfd, STATE_CONNECTIONS, 1, &v), 0);
        is_u64("a garbage counter counts as 0", v, 1);
        put_raw("add", STATE_CONNECTIONS, "12", 2);
        state_add_u64(dfd, STATE_CONNECTIONS, 1, &v);
        is_u64("a truncated counter counts as 0", v, 1);
        memset(big, '9', sizeof(big));
        put_raw("add", STATE_CONNECTIONS, big, sizeof(big));
        is_int("state_add_u64 on a huge counter succeeds", state_add_u64(dfd, STATE_CONNECTIONS, 1, &v), 0);
        is_u64("a huge counter counts as 0", v, 1);
        state_write_u64(dfd, STATE_REFCOUNT, 1);
        state_add_u64(dfd, STATE_REFCOUNT, -5, &v);
        is_u64("a counter never goes below 0", v, 0);
        close(dfd);
}

/* Children that each hold one lease until killed. */
static void spawn_holders(int dfd, pid_t *pids, int n) {
        for (int i = 0; i < n; i++) {
                int p[2];
                char c;

                if (pipe2(p, O_CLOEXEC) < 0)
                        bail_out("pipe");
                pids[i] = fork();
                if (pids[i] < 0)
                        bail_out("fork");
                if (pids[i] == 0) {
                        int d = -1, lfd = -1;
                        close(p[0]);
                        if (state_open("lease", false, &d) < 0 || lease_take(d, &lfd) < 0)
                                _exit(1);
                        (void) !write(p[1], "x", 1);
                        alarm(60); /* never outlive a broken test */
                        for (;;)
                                pause();
                }
                close(p[1]);
                if (read(p[0], &c, 1) != 1)
                        diag("lease holder %d failed to take its lease", i);
                close(p[0]);
        }
        (void) dfd;
}

static void test_leases(void) {
        pid_t pids[8];
        uint64_t n = 99, c = 99;
        char raw[64];
        int dfd, mine = -1, r;

        dfd = open_app("lease", true);
        if (dfd < 0)
                bail_out("cannot open state dir lease");

        is_int("lease_count with no leases succeeds", lease_count(dfd, &n), 0);
        is_u64("no leases counted when nobody holds one", n, 0);

        spawn_holders(dfd, pids, 8);
        is_int("lease_count succeeds", lease_count(dfd, &n), 0);
        is_u64("8 live children hold 8 leases", n, 8);

        is_int("lease_take in the test process succeeds", lease_take(dfd, &mine), 0);
        ok("the lease fd is O_CLOEXEC", mine >= 0 && (fcntl(mine, F_GETFD) & FD_CLOEXEC));
        lease_count(dfd, &n);
        is_u64("our own lease is counted too", n, 9);

        /* SIGKILL 5 of them: the kernel drops their leases */
        for (int i = 0; i < 5; i++)
                kill(pids[i], SIGKILL);
        for (int i = 0; i < 5; i++)
                waitpid(pids[i], NULL, 0);
        lease_count(dfd, &n);
        is_u64("after SIGKILLing 5 children, the count equals the 4 survivors (3 children + us)", n, 4);

        /* the refcount claims 7; heal makes it the truth */
        state_write_u64(dfd, STATE_REFCOUNT, 7);
        r = refcount_heal(dfd, &c);
        is_int("refcount_heal fixes a wrong refcount and returns 1", r, 1);
        is_u64("refcount_heal reports the live count", c, 4);
        get_raw("lease", STATE_REFCOUNT, raw, sizeof(raw));
        is_str("the refcount file now holds the live count", raw, "4\n");
        is_int("refcount_heal on a correct refcount returns 0", refcount_heal(dfd, &c), 0);
        get_raw("lease", STATE_REFCOUNT, raw, sizeof(raw));
        is_str("a correct refcount is left alone", raw, "4\n");

        put_raw("lease", STATE_REFCOUNT, "junk\n", 5);
        is_int("refcount_heal fixes a garbage refcount", refcount_heal(dfd, &c), 1);
        get_raw("lease", STATE_REFCOUNT, raw, sizeof(raw));
        is_str("the garbage refcount is replaced by the live count", raw, "4\n");

        /* closing the lease fd releases it */
        close(mine);
        lease_count(dfd, &n);
        is_u64("closing a lease fd releases the lease", n, 3);

        for (int i = 5; i < 8; i++)
                kill(pids[i], SIGKILL);
        for (int i = 5; i < 8; i++)
                waitpid(pids[i], NULL, 0);
        lease_count(dfd, &n);
        is_u64("all holders killed: no leases left", n, 0);
        is_int("refcount_heal brings the count down to 0", refcount_heal(dfd, &c), 1);
        get_raw("lease", STATE_REFCOUNT, raw, sizeof(raw));
        is_str("refcount is 0 once every holder is dead", raw, "0\n");

        /* many leases at once (more than fit in a trivial scan) */
        {
                pid_t many[40];
                spawn_holders(dfd, many, 40);
                lease_count(dfd, &n);
                is_u64("40 concurrent leases are all counted", n, 40);
                for (int i = 0; i < 40; i += 2)
                        kill(many[i], SIGKILL);
                for (int i = 0; i < 40; i += 2)
                        waitpid(many[i], NULL, 0);
                lease_count(dfd, &n);
                is_u64("every other one killed: 20 counted", n, 20);
                for (int i = 1; i < 40; i += 2)
                        kill(many[i], SIGKILL);
                for (int i = 1; i < 40; i += 2)
                        waitpid(many[i], NULL, 0);
        }
        close(dfd);
}

static void test_lock(void) {
        int dfd, fd = -1, p[2], status = 0;
        pid_t pid;
        char c;

        dfd = open_app("lock", true);
        if (dfd < 0)
                bail_out("cannot open state dir lock");
        is_int("state_lock takes the lock", state_lock(dfd, &fd), 0);
        if (pipe2(p, O_CLOEXEC) < 0)
                bail_out("pipe");
        pid = fork();
        if (pid == 0) {
                int d = -1, l = -1;
                close(p[0]);
                close(fd); /* the inherited copy shares the parent's flock */
                alarm(10);
                if (state_open("lock", false, &d) < 0 || state_lock(d, &l) < 0)
                        _exit(1);
                (void) !write(p[1], "L", 1);
                _exit(0);
        }
        close(p[1]);
        usleep(200 * 1000);
        {
                struct timeval tv = { 0, 0 };
                fd_set set;
                FD_ZERO(&set);
                FD_SET(p[0], &set);
                ok("a second process blocks while the lock is held", select(p[0] + 1, &set, NULL, NULL, &tv) == 0);
        }
        close(fd);
        ok("it gets the lock once released", read(p[0], &c, 1) == 1 && c == 'L');
        waitpid(pid, &status, 0);
        ok("the second locker exits cleanly", WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(p[0]);
        close(dfd);
}

static void test_kv(void) {
        int fd = open_app("kv", true);
        char kv[STATE_KV_MAX + 1];
        uint64_t v = 7;

        is_int("kv: a missing file reads", state_kv_read(fd, "ends", kv, sizeof(kv)), 0);
        is_str("kv: as empty", kv, "");
        is_int("kv: an absent key is ENOENT", kv_get_u64(kv, "crash", &v), -ENOENT);
        is_u64("kv: and 0", v, 0);
        is_int("kv: add to a new file", state_kv_add(fd, "ends", "crash", 1), 0);
        state_kv_add(fd, "ends", "idle-stop", 2);
        state_kv_add(fd, "ends", "crash", 1);
        get_raw("kv", "ends", kv, sizeof(kv));
        is_str("kv: keys keep their order, values add up", kv, "crash=2 idle-stop=2\n");
        state_kv_read(fd, "ends", kv, sizeof(kv));
        is_int("kv: a key reads back", kv_get_u64(kv, "idle-stop", &v) == 0 ? (long long) v : -1, 2);
        is_int("kv: a key's prefix is another key", kv_get_u64(kv, "idle", &v), -ENOENT);
        put_raw("kv", "ends", "crash=zz idle\n", 14);
        is_int("kv: a garbled value is counted over", state_kv_add(fd, "ends", "crash", 1), 0);
        get_raw("kv", "ends", kv, sizeof(kv));
        is_str("kv: from 0, the rest kept", kv, "crash=1 idle\n");
        put_raw("kv", "ends", "x", 1);
        is_int("kv: a torn file starts again", state_kv_add(fd, "ends", "stop", 1), 0);
        get_raw("kv", "ends", kv, sizeof(kv));
        is_str("kv: as a new one", kv, "stop=1\n");
        close(fd);
}

int main(void) {
        char tmpl[] = "/tmp/ember-test-state.XXXXXX";
        char cmd[PATH_MAX + 32];
        int rc;

        if (!mkdtemp(tmpl))
                bail_out("mkdtemp failed");
        snprintf(root, sizeof(root), "%s/run", tmpl);
        setenv("EMBER_RUNTIME_DIR", root, 1);

        test_open();
        test_handed_over();
        test_prepare_launchers();
        test_read_write();
        test_symlinks();
        test_fifo();
        test_add();
        test_leases();
        test_lock();
        test_kv();

        rc = done();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
                diag("could not remove %s", tmpl);
        return rc;
}
