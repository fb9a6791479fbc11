/* emberctl new: the launchers' user (LAUNCH_USER), which the NAME@.service units of TCP backends run as. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "new.h"
#include "state.h"
#include "user.h"

#define SYSUSERS_CONF SYSUSERSDIR "/ember.conf"

static int run_sysusers(void) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execlp("systemd-sysusers", "systemd-sysusers", SYSUSERS_CONF, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* systemd-sysusers makes it at boot from ember's sysusers.d file; right after `make install` it may not exist yet.
 * Only a warning if it cannot be made: the units are right, and say what they need. */
void launch_user_ensure(const char *user) {
        if (strcmp(user, "root") == 0 || user_lookup(user))
                return;
        if (geteuid() == 0 && access(SYSUSERS_CONF, R_OK) == 0 && run_sysusers() >= 0 && user_lookup(user)) {
                printf("Created the launchers' system user %s (systemd-sysusers %s)\n", user, SYSUSERS_CONF);
                return;
        }
        log_warning("warning: the user %s that the connections' units run as does not exist; create it with "
                    "systemd-sysusers %s", user, SYSUSERS_CONF);
}

/* A live app's launcher files are made its new launchers' user's at once (the wake socket unit does it at its next
 * start): the units just written may run their next launcher as another user than the last. Root's directory only. */
void launch_user_prepare(const char *app, const char *user) {
        _cleanup_close_ int dirfd = -1;
        const char *failed = NULL;
        struct passwd *pw;
        int r;

        if (geteuid() != 0 || strcmp(runtime_dir(), RUNTIME_DIR_DEFAULT) != 0 || state_open(app, false, &dirfd) < 0)
                return;
        pw = user_lookup(user);
        if (!pw)
                return;
        r = state_prepare_launchers(dirfd, pw->pw_uid, pw->pw_gid, &failed);
        if (r < 0)
                log_warning_errno(r, "warning: cannot make %s/%s/%s the launchers' (%s)", runtime_dir(), app, failed, user);
}
