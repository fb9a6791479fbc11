#pragma once
/* emberctl new: new.c validates what the command line asks for (new-options.h), renders the units and writes them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "new-options.h"

/* The launchers' user exists (made with systemd-sysusers if it can be; a warning if not). Nothing for root. */
void launch_user_ensure(const char *user);
/* The files a launcher writes in a live state directory of APP become USER's (ember-state(7), Ownership). */
void launch_user_prepare(const char *app, const char *user);
/* The launchers' user must be a system account of its own, and not BACKEND_USER: 0, or after saying why not
 * -ECTL_BAD_POLICY (not a system account) or -EINVAL (BACKEND_USER is it: a usage error). */
int launch_user_check(const char *user, const char *backend_user);
/* systemd-sysusers CONF: 0, or -errno / -ECHILD if it failed. */
int sysusers_apply(const char *conf);
/* Its primary group for SocketGroup=: by name, or the gid (in BUF) where that has none. */
const char *launch_group(const char *user, char *buf, size_t size);
/* The app (COMMAND's executable, --working-directory, arguments naming existing paths) against the backend unit it
 * gets (BACKEND_UNIT_TEXT as rendered, and the app's drop-ins): what the unit hides from it or keeps read-only, and
 * what its user may not reach. Warns and notes; 0, or -EINVAL (a usage error) where the backend cannot start, after
 * saying why (app-check.c). */
typedef struct app_sandbox {
        const char *executable;
        const char *user;  /* the backend's user: --user's, or its own (NAME-backend) */
        bool dynamic_user; /* allocated by systemd for each run */
        bool landlock;     /* ember-sandbox --landlock confines its files, not the unit */
        const char *writable[ENV_MAX + 2]; /* with landlock: --rw-path=, the state directory, a unix backend's */
        size_t n_writable;
} app_sandbox;
int app_check(const new_args *a, const app_sandbox *sb, const char *backend_unit_text);
/* The backend's state directory under /var/lib: --state-dir, or ember/NAME (in BUF). */
const char *app_state_dir(const new_args *a, char *out, size_t size);
/* Its absolute path: /var/lib/ and the above (in OUT). */
const char *app_state_path(const new_args *a, char *out, size_t size);
