#pragma once
/* The launchers' user and the files root makes for it (launchers.c). */
#include <sys/types.h>

#include "options.h"

/* Looks --launch-user= up: 0, or a logged -errno. */
int launch_user_resolve(const sandbox_options *opt);
/* Its group (root's without --launch-user), for relay.sock. */
gid_t launch_group(void);
/* The files each launcher writes become its user's, supervisor.lock its group's; nothing without --launch-user. */
int launchers_prepare(int dirfd, const sandbox_options *opt);
/* ember-sandbox --prepare: launchers_prepare() of --app's state directory; 0, or -errno (logged, exit-status.h). */
int prepare_only(const sandbox_options *opt);
