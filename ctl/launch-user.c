/* emberctl new: the launchers' user (LAUNCH_USER), which every NAME@.service runs as. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
void launch_user_ensure(void) {
        if (user_lookup(LAUNCH_USER))
                return;
        if (geteuid() == 0 && access(SYSUSERS_CONF, R_OK) == 0 && run_sysusers() >= 0 && user_lookup(LAUNCH_USER)) {
                printf("Created the launchers' system user %s (systemd-sysusers %s)\n", LAUNCH_USER, SYSUSERS_CONF);
                return;
        }
        log_warning("warning: the user %s that the connections' units run as does not exist; create it with "
                    "systemd-sysusers %s", LAUNCH_USER, SYSUSERS_CONF);
}

static void give(int dirfd, const char *name, const struct passwd *pw) {
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == 0 && (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
                (void) fchownat(dirfd, name, pw->pw_uid, pw->pw_gid, AT_SYMLINK_NOFOLLOW);
}

/* A live state directory of an app made before its launchers had a user of their own is root's, files and all:
 * hand it to USER, or no launcher of the new units could join it until its wake socket restarts. */
void launch_user_hand_over(const char *app, const char *user) {
        _cleanup_close_ int dirfd = -1;
        struct passwd *pw;
        struct stat st;

        /* the units' directory only, not one EMBER_RUNTIME_DIR names */
        if (geteuid() != 0 || strcmp(runtime_dir(), RUNTIME_DIR_DEFAULT) != 0 || !(pw = user_lookup(user)) || pw->pw_uid == 0 ||
            state_open(app, false, &dirfd) < 0)
                return;
        if (fstat(dirfd, &st) < 0 || st.st_uid != 0)
                return;
        for (const char *const *f = state_launcher_files; *f; f++)
                give(dirfd, *f, pw);
        give(dirfd, STATE_WAKE_SOCK, pw);
        if (fchown(dirfd, pw->pw_uid, pw->pw_gid) < 0)
                log_warning_errno(-errno, "Failed to hand %s/%s to %s", runtime_dir(), app, user);
}
