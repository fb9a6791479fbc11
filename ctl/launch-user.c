/* emberctl new: the launchers' user: LAUNCH_USER, which the NAME@.service units of TCP backends run as, or a unix
 * backend's own --user (ctl/new.c, launch_user()). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "new.h"
#include "state.h"
#include "user.h"

#define SYSUSERS_CONF SYSUSERSDIR "/ember.conf"

int sysusers_apply(const char *conf) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execlp("systemd-sysusers", "systemd-sysusers", conf, (char *) NULL);
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
        if (geteuid() == 0 && access(SYSUSERS_CONF, R_OK) == 0 && sysusers_apply(SYSUSERS_CONF) >= 0 && user_lookup(user)) {
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

/* LAUNCH_USER, which all TCP apps' launchers share, must be a system account of its own where it is USER; and no
 * backend may run as it, since it would own every such app's launcher files (root excepted: --with-launch-user=root).
 * A unix backend's launchers are its own --user (USER): that user is trusted with this app's launcher files only. */
int launch_user_check(const char *user, const char *backend_user) {
        struct passwd *pw = strcmp(LAUNCH_USER, "root") == 0 ? NULL : user_lookup(LAUNCH_USER);
        struct group *gr;
        uid_t uid;

        if (!pw)
                return 0; /* root, or not there yet: launch_user_ensure() makes it */
        uid = pw->pw_uid;
        gr = getgrgid(pw->pw_gid);
        if (strcmp(user, LAUNCH_USER) == 0 && (uid == 0 || uid >= 1000 || !gr || gr->gr_mem[0])) {
                log_error("the launchers' user %s (uid %u) is not a system account of its own (uid 1-999, its group "
                          "without other members): remove it and let systemd-sysusers make it, or configure "
                          "--with-launch-user", user, (unsigned) uid);
                return -ECTL_BAD_POLICY; /* emberctl(1): 78, a configuration that is wrong */
        }
        if (uid != 0 && backend_user && (pw = user_lookup(backend_user)) && pw->pw_uid == uid)
                return usage_fail("--user=%s is the launchers' user (of every TCP app): the backend would own their "
                                  "launcher files; run it as another user", backend_user);
        return 0;
}

const char *launch_group(const char *user, char *buf, size_t size) {
        struct passwd *pw = user_lookup(user);
        struct group *gr = pw ? getgrgid(pw->pw_gid) : NULL;

        if (gr)
                return gr->gr_name;
        if (!pw)
                return user; /* not there yet: sysusers makes the group of that name too */
        snprintf(buf, size, "%u", (unsigned) pw->pw_gid);
        return buf;
}
