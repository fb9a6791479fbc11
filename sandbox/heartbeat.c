/* The supervisor's heartbeat: its state directory must stay the one launchers look at (see ember-state(7)). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "options.h"
#include "protocol.h"
#include "state.h"
#include "supervisor.h"
#include "timeutil.h"

/* Under systemd wake.sock belongs to its socket unit, and it went with the removed directory: ask PID 1 to restart
 * that unit, which binds a new one in a new directory. The restart reaches this service too (Requires=): the app
 * comes back warm, rebuilt, and a launcher already waiting for wake.sock is served by it. Without this no launcher
 * could ever wake the app again. */
static void restart_wake_unit(supervisor *s) {
        char *argv[] = { (char *) "systemctl", (char *) "--no-block", (char *) "restart", s->wake_unit, NULL };
        int status = 0;
        pid_t pid;

        pid = fork();
        if (pid < 0) {
                log_error_errno(-errno, "Failed to fork systemctl to restart %s", s->wake_unit);
                return;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                log_error("Failed to restart %s (systemctl: status 0x%x); restart it by hand", s->wake_unit, status);
}

/* The directory, our lifetime lock file and the wake socket are all still where launchers look for them. */
bool state_dir_intact(supervisor *s) {
        struct stat st;

        return state_dir_is_current(s->dirfd, s->dir_path) &&
               state_file_is_current(s->dirfd, STATE_SUPERVISOR_LOCK, s->lifetime_fd) &&
               (supervisor_role(s) != ROLE_SERVING ||
                (fstatat(s->dirfd, STATE_WAKE_SOCK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode)));
}

/* The state directory is the app's heartbeat: removed or replaced under us (even half way, as by an `rm -rf` racing
 * our own writes), it can no longer show us alive, count connections or be woken through, so the run ends now
 * instead of leaving an orphan backend nobody can reach or stop. */
void state_dir_lost(supervisor *s) {
        int status = 0;

        kill_backend(s, &status);
        log_run_end(s, "state-lost", LOG_ERR, "the state directory was removed or replaced; the backend was stopped");
        if (s->wake_unit[0] && supervisor_role(s) == ROLE_SERVING)
                restart_wake_unit(s);
        tell_waiters(s, false);
}
