/* The launchers' user (--launch-user=): it may create nothing in root's state directory, so root makes the files each
 * launcher writes that user's (state_prepare_launchers()), first at the wake socket's start (--prepare, its
 * ExecStartPost=), then at each supervisor's; and lets that user's group reach what launchers read or connect to:
 * supervisor.lock (0640) and relay.sock (0660). Root never works by name in a directory anyone else may write. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit-status.h"
#include "launchers.h"
#include "log.h"
#include "macro.h"
#include "options.h"
#include "state.h"
#include "user.h"

static uid_t launch_uid;
static gid_t launch_gid;

int launch_user_resolve(const sandbox_options *opt) {
        struct passwd *pw;

        if (!opt->launch_user)
                return 0;
        pw = user_lookup(opt->launch_user);
        if (!pw) {
                int r = -errno;
                if (r == -ESRCH)
                        return log_error("Unknown --launch-user '%s'", opt->launch_user), r;
                return log_error_errno(r, "Cannot look up --launch-user '%s'", opt->launch_user);
        }
        launch_uid = pw->pw_uid;
        launch_gid = pw->pw_gid;
        /* it owns the launchers' files: a backend that ran as it could rewrite them, lock them, fill /run. Only a unix
         * backend's launchers are its own user, by design, with this app's files alone (ember-launch(8), USER); the
         * launchers' user of TCP apps (LAUNCH_USER) is all of theirs, and no backend's. */
        if (opt->user && launch_uid != 0 && (pw = user_lookup(opt->user)) && pw->pw_uid == launch_uid &&
            (opt->backend.sa.sa_family != AF_UNIX || strcmp(opt->launch_user, LAUNCH_USER) == 0))
                return log_error("--user=%s is the launchers' user (--launch-user=%s): run the backend as another",
                                 opt->user, opt->launch_user), -EINVAL;
        return 0;
}

gid_t launch_group(void) {
        return launch_gid;
}

int launchers_prepare(int dirfd, const sandbox_options *opt) {
        const char *failed = NULL;
        int r;

        if (!opt->launch_user)
                return 0;
        r = state_prepare_launchers(dirfd, launch_uid, launch_gid, &failed);
        if (r < 0)
                return log_error_errno(r, "Failed to make %s/%s/%s the launchers' (%s)", runtime_dir(), opt->app, failed,
                                       opt->launch_user);
        return 0;
}

int prepare_only(const sandbox_options *opt) {
        _cleanup_close_ int dirfd = -1;
        int r;

        r = state_open(opt->app, true, &dirfd);
        if (r < 0) {
                log_error_errno(r, "Refusing state directory %s/%s", runtime_dir(), opt->app);
                return state_refused(r) ? -ERR_STATE_REFUSED : -ERR_STATE_DIR;
        }
        return launchers_prepare(dirfd, opt) < 0 ? -ERR_STATE_DIR : 0;
}
