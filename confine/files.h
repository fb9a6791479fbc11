#pragma once
/* The backend's file system without a mount namespace (see files.c): read everywhere but /home, /root and
 * /run/user; write only to /tmp, /var/tmp, the pseudo devices and RW_PATHS. */
#include <stddef.h>

/* Before fork: the Landlock ruleset (*ret_fd, O_CLOEXEC). -EOPNOTSUPP if this kernel has no Landlock; on any error
 * *ret_error says what (malloc'd, or NULL). */
int files_ruleset(char *const *rw_paths, size_t n_rw, int *ret_fd, char **ret_error);

/* In the child, with no_new_privs set: confine it. */
int files_restrict(int ruleset);
