/* Specification of the state protocol (common/protocol.c) and of time done once (common/timeutil.h), in a private
 * EMBER_RUNTIME_DIR. A supervisor is a forked child holding its lifetime lock; "killing" it is SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol.h"
#include "state.h"
#include "tap.h"
#include "timeutil.h"

static int open_app(const char *app) {
        int fd = -1;
        if (state_open(app, true, &fd) < 0)
                bail_out("cannot open the state directory");
        return fd;
}

/* A stand-in supervisor: a child that takes the lifetime lock of GENERATION and waits to be killed. */
static pid_t spawn_supervisor(int dirfd, uint64_t generation) {
        int p[2];
        char c;
        pid_t pid;

        if (pipe(p) < 0)
                bail_out("pipe failed");
        pid = fork();
        if (pid < 0)
                bail_out("fork failed");
        if (pid == 0) {
                int fd;
                close(p[0]);
                c = supervisor_lock_take(dirfd, generation, &fd) >= 0 ? 'y' : 'n';
                (void) !write(p[1], &c, 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        if (read(p[0], &c, 1) != 1 || c != 'y')
                bail_out("the stand-in supervisor could not take its lock");
        close(p[0]);
        return pid;
}

static void kill_supervisor(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

static void test_names(void) {
        for (app_state s = 0; s < _APP_STATE_MAX; s++)
                is_int(tap_fmt("state %s reads back as itself", app_state_to_string(s)),
                       app_state_from_string(app_state_to_string(s)), s);
        is_int("'Warm' is no state", app_state_from_string("Warm"), -EINVAL);
        is_int("'' is no state", app_state_from_string(""), -EINVAL);
        ok("no name for a non-state", app_state_to_string(_APP_STATE_MAX) == NULL && app_state_to_string(-1) == NULL);
}

static void test_state_file(void) {
        int dirfd = open_app("file");
        app_state s = APP_WARM;

        is_int("a missing state file reads", app_state_get(dirfd, &s), 0);
        is_int("as cold", s, APP_COLD);
        is_int("stopping is written", app_state_set(dirfd, APP_STOPPING), 0);
        is_int("and reads back", app_state_get(dirfd, &s) == 0 ? s : -1, APP_STOPPING);
        is_int("an unknown state is planted", state_write(dirfd, STATE_STATE, "tepid"), 0);
        is_int("and refused with EBADMSG", app_state_get(dirfd, &s), -EBADMSG);
        is_int("no state beyond the enum is written", app_state_set(dirfd, _APP_STATE_MAX), -EINVAL);
        close(dirfd);
}

static void test_liveness(void) {
        int dirfd = open_app("live");
        pid_t pid, seen = -1;

        is_int("no supervisor.lock: nobody is alive", supervisor_find(dirfd, &seen), 0);
        pid = spawn_supervisor(dirfd, 7);
        is_int("a supervisor holding its lock is alive", supervisor_find(dirfd, &seen), 1);
        is_int("and the kernel names its pid", seen, pid);
        int fd = -1;
        is_int("the same generation's lock cannot be taken twice", supervisor_lock_take(dirfd, 7, &fd), -EBUSY);
        is_int("state warm", app_state_set(dirfd, APP_WARM), 0);
        ok("warm with a live supervisor: the warm path connects", app_is_warm(dirfd));
        kill_supervisor(pid);
        is_int("SIGKILLed: the kernel dropped its lock", supervisor_find(dirfd, &seen), 0);
        ok("warm with no supervisor: the warm path does not trust it", !app_is_warm(dirfd));
        close(dirfd);
}

/* A read lock on supervisor.lock (the launchers' group may take one): no supervisor, no pid to signal, and it keeps
 * no supervisor from its lock. */
static void test_read_lock(void) {
        int dirfd = open_app("rlock"), reader;
        pid_t pid, seen = -1;
        uint64_t gens[4];
        pid_t pids[4];

        pid = spawn_supervisor(dirfd, 1);
        kill_supervisor(pid); /* leaves the file */
        reader = openat(dirfd, STATE_SUPERVISOR_LOCK, O_RDONLY | O_CLOEXEC);
        struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        ok("a reader read-locks the whole of supervisor.lock", reader >= 0 && fcntl(reader, F_OFD_SETLK, &fl) == 0);
        is_int("a read lock is no supervisor", supervisor_find(dirfd, &seen), 0);
        is_int("and no generation to signal", supervisors_list(dirfd, gens, pids, 4), 0);
        pid = spawn_supervisor(dirfd, 2);
        is_int("the next supervisor takes its lock all the same (on a new file)", supervisor_find(dirfd, &seen), 1);
        is_int("and is the one found", seen, pid);
        kill_supervisor(pid);
        close(reader);
        close(dirfd);
}

static void test_settle(void) {
        int dirfd = open_app("settle");
        app_state s;
        pid_t pid;

        for (app_state stale = APP_STARTING; stale < _APP_STATE_MAX; stale++) {
                app_state_set(dirfd, stale);
                is_int(tap_fmt("%s without a supervisor is stale", app_state_to_string(stale)),
                       app_state_settle(dirfd, &s), 1);
                is_int("and settles as cold", s, APP_COLD);
                is_int("which is written back", app_state_get(dirfd, &s) == 0 ? s : -1, APP_COLD);
        }
        is_int("cold is never stale", app_state_settle(dirfd, &s), 0);
        pid = spawn_supervisor(dirfd, 1);
        app_state_set(dirfd, APP_STARTING);
        is_int("starting with a live supervisor is not stale", app_state_settle(dirfd, &s), 0);
        is_int("and stays starting", s, APP_STARTING);
        state_write(dirfd, STATE_STATE, "war");
        is_int("a garbled state with a live supervisor is left to it", app_state_settle(dirfd, &s), 0);
        is_int("and treated as starting (its wake socket answers)", s, APP_STARTING);
        kill_supervisor(pid);
        is_int("a garbled state without one is stale", app_state_settle(dirfd, &s), 1);
        is_int("and settles as cold", s, APP_COLD);
        close(dirfd);
}

static void test_generations(void) {
        int dirfd = open_app("gen");
        pid_t old, new, seen;

        old = spawn_supervisor(dirfd, 1);
        new = spawn_supervisor(dirfd, 2);
        is_int("two generations alive at once", supervisor_find(dirfd, &seen), 1);
        kill_supervisor(old);
        is_int("the old one gone, the new one is still seen", supervisor_find(dirfd, &seen), 1);
        is_int("by its own pid", seen, new);
        kill_supervisor(new);
        is_int("both gone: nobody", supervisor_find(dirfd, &seen), 0);
        close(dirfd);
}

static void test_status(void) {
        int dirfd = open_app("status");
        app_status st;
        pid_t pid;

        app_state_set(dirfd, APP_WARM);
        state_write_u64(dirfd, STATE_SUPERVISOR_PID, 1); /* a live, unrelated process */
        is_int("status reads", app_status_read(dirfd, &st), 0);
        ok("warm with supervisor.pid naming PID 1 but no lock held: stale, not up",
           st.stale && !st.supervisor_alive && !app_status_is_up(&st));
        pid = spawn_supervisor(dirfd, 3);
        app_status_read(dirfd, &st);
        ok("with the lock held: up, and the supervisor pid is the holder's",
           !st.stale && st.supervisor_alive && st.supervisor_pid == pid && app_status_is_up(&st));
        kill_supervisor(pid);
        close(dirfd);
}

static void test_time(void) {
        is_u64("usec_add adds", usec_add(1, 2), 3);
        is_u64("usec_add saturates instead of wrapping", usec_add(UINT64_MAX - 5, 10), USEC_INFINITY);
        is_u64("now + infinity is infinity", usec_add(123, USEC_INFINITY), USEC_INFINITY);
        is_u64("a deadline infinity away is never", deadline_in(USEC_INFINITY), USEC_INFINITY);
        is_int("poll forever for infinity", usec_to_poll_ms(USEC_INFINITY), -1);
        is_int("0 us: 0 ms", usec_to_poll_ms(0), 0);
        is_int("1 us rounds up to 1 ms (no early wake that spins)", usec_to_poll_ms(1), 1);
        is_int("1000 us: 1 ms", usec_to_poll_ms(1000), 1);
        is_int("1001 us: 2 ms", usec_to_poll_ms(1001), 2);
        is_int("50 days clamps to INT_MAX ms instead of wrapping", usec_to_poll_ms(50ULL * 86400 * USEC_PER_SEC),
               INT_MAX);
        is_int("poll_ms_until(infinity) is forever", poll_ms_until(USEC_INFINITY), -1);
        is_int("a deadline in the past: 0", poll_ms_until(0), 0);
        int ms = poll_ms_until(deadline_in(50ULL * 86400 * USEC_PER_SEC));
        is_int("a deadline 50 days away waits INT_MAX ms at a time (callers loop until the deadline)", ms, INT_MAX);
}

/* A starting generation's serving file names it, not yet its address (issue 24: a HOST:auto port is not published
 * before the backend's own listener is on it); launchers still find its supervisor alive through it. */
static void test_serving_starting(void) {
        int dirfd = open_app("serving");
        ember_addr a;
        serving sv = {};
        char buf[64] = "";
        pid_t pid = spawn_supervisor(dirfd, 3);

        is_int("a starting generation's serving file is written", serving_write(dirfd, 3, NULL), 0);
        is_int("and read back", state_kv_read(dirfd, STATE_SERVING, buf, sizeof(buf)), 0);
        is_str("as its generation and no address", buf, "3 -");
        is_int("which serving_read takes", serving_read(dirfd, &sv), 0);
        ok("as generation 3, no address", sv.generation == 3 && sv.address.sa.sa_family == AF_UNSPEC);
        is_int("its supervisor is found alive through it", app_supervisor_find(dirfd, NULL), 1);
        (void) parse_addr("127.0.0.1:4321", &a);
        is_int("once ready, the address is written", serving_write(dirfd, 3, &a), 0);
        ok("and read back",
           serving_read(dirfd, &sv) == 0 && sv.address.sa.sa_family == AF_INET && ntohs(sv.address.in.sin_port) == 4321);
        kill_supervisor(pid);
        close(dirfd);
}

int main(void) {
        char tmpl[] = "/tmp/ember-test-protocol.XXXXXX";
        char cmd[PATH_MAX + 32];
        int rc;

        if (!mkdtemp(tmpl))
                bail_out("mkdtemp failed");
        snprintf(cmd, sizeof(cmd), "%s/run", tmpl);
        setenv("EMBER_RUNTIME_DIR", cmd, 1);

        test_names();
        test_state_file();
        test_liveness();
        test_read_lock();
        test_settle();
        test_generations();
        test_serving_starting();
        test_status();
        test_time();

        rc = done();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
                diag("could not remove %s", tmpl);
        return rc;
}
