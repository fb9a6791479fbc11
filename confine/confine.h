#pragma once
/* Confining the backend: resolve the user and load the policy before fork, then in the child close stray fds,
 * set no_new_privs, drop to the user, load the seccomp filter and exec. See ember.policy(5). */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

typedef struct confine {
        ember_policy *policy;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        int n_groups;
        bool drop_user;
        int parent_death_signal; /* nonzero: the child gets it when PARENT, its supervisor, dies */
        bool files;              /* files_fd holds a Landlock ruleset for the backend's files (files.h) */
        int files_fd;
        pid_t parent;
} confine;

/* Before fork: resolve user (getpwnam, or a numeric uid with a passwd entry; supplementary groups from
 * getgrouplist) and load the policy (policy_load()). user NULL or "" keeps the current credentials.
 * Errors: policy parse error -> -EINVAL with *ret_error "FILE:LINE: msg"; unknown user -> -ESRCH; other -errno.
 * *ret_error is malloc'd (caller frees) whenever a negative value is returned. */
int confine_prepare(confine *c, const char *policy_spec, const char *user, char **ret_error);

/* In the forked child right before exec: reset the signal mask and all dispositions to default, close every
 * fd >= 3 except keep_fds (left as they are: fds meant for the backend must not have FD_CLOEXEC, e.g. dup2()ed to
 * 3, 4, ... for LISTEN_FDS; a kept FD_CLOEXEC fd such as an exec-error pipe stays open until the execve()),
 * PR_SET_NO_NEW_PRIVS, then if drop_user setgroups/setresgid/setresuid in that order and verify with
 * getresuid/getresgid/getgroups (and that uid 0 cannot be regained), arm parent_death_signal (after the drop,
 * which would clear it; -ESRCH if the parent is already gone), apply the files' Landlock ruleset if any, load the
 * policy, execvp(argv[0], argv).
 * Never returns on success; returns -errno on failure. Allocates nothing and logs nothing. */
int confine_exec(const confine *c, const int *keep_fds, size_t n_keep, char *const argv[]);

/* Before fork, after confine_prepare(): the backend's files confined by Landlock (files.c) to read-only but
 * RW_PATHS and the usual scratch places. Errors as files_ruleset(). */
int confine_files(confine *c, char *const *rw_paths, size_t n_rw, char **ret_error);

/* Before fork, after confine_prepare(): PATH, the backend's state directory, made if missing (its parents root's,
 * 0755; itself 0750 and the backend's user's) and exported as $STATE_DIRECTORY. An existing one is left as it is.
 * No symbolic link is followed on the way. -ENOTDIR if PATH or a parent is something else; other -errno. */
int confine_state_dir(const confine *c, const char *path, char **ret_error);

void confine_done(confine *c);
