#pragma once
#include "parse.h"

/* ember-launch confines itself once nothing it still has to do needs more: a built-in seccomp allow-list and a
 * Landlock domain that leaves it the state directory and a TCP connect to the backend's port. This replaces the
 * systemd sandboxing options that would otherwise be rebuilt by PID 1 for every connection (see bench/README.md).
 * Returns 0, or -errno of a part that could not be applied (seccomp's before Landlock's); what could be applied
 * stays applied. A kernel without Landlock is not an error. */
typedef struct lockdown_result {
        int landlock_abi;  /* 0: the kernel has no Landlock (or it is disabled) */
        bool seccomp;
} lockdown_result;

int lockdown_apply(int state_dirfd, const ember_addr *backend, lockdown_result *ret);

/* The parts, in the order lockdown_apply() takes them; separate for the tests, which probe each alone. */
int lockdown_no_new_privs(void);
/* Nothing on the file system but the state directory, no TCP but a connect to the backend's port. *ret_abi is the
 * kernel's Landlock ABI, 0 without Landlock (then -EOPNOTSUPP). */
int lockdown_landlock(int state_dirfd, const ember_addr *backend, int *ret_abi);
/* The system call allow-list; the native architecture only. */
int lockdown_seccomp(void);
