#pragma once
/* Seccomp policies as data: see ember.policy(5). */

typedef struct ember_policy ember_policy;

/* spec is "default", "strict", "container", "none", or a path to a .policy file (anything containing a '/').
 * Named policies are read from $EMBER_POLICY_DIR, else PKGDATADIR "/policies", as NAME.policy.
 * A parse error returns -EINVAL with *ret_error = "FILE:LINE: message" (malloc'd, caller frees);
 * other failures return -errno with *ret_error describing them. */
int policy_load(const char *spec, ember_policy **ret, char **ret_error);
/* Loads the filter into the calling process. no_new_privs must be set already. Called in the forked child right
 * before execve(); must not allocate after fork beyond what libseccomp needs. "none" is a no-op. */
int policy_apply(const ember_policy *p);
void policy_free(ember_policy *p);

/* Additions (ember.policy(5)); the functions above are the contract with ember-sandbox. */
#include <stdbool.h>

typedef enum policy_mode {
        POLICY_MODE_NONE,       /* "mode none": no filter at all */
        POLICY_MODE_ALLOW_LIST, /* only what is allowed gets through, everything else gets the action */
        POLICY_MODE_DENY_LIST,  /* everything gets through except what is denied */
} policy_mode;

/* Parses and compiles policy text; filename is used in error messages ("FILE:LINE: message"). */
int policy_parse_string(const char *text, const char *filename, ember_policy **ret, char **ret_error);
policy_mode policy_get_mode(const ember_policy *p);
/* The file the policy came from. */
const char *policy_get_path(const ember_policy *p);
/* "errno EPERM", "kill" or "log". */
const char *policy_get_action(const ember_policy *p);
/* Whether the named native syscall passes the main filter (argument checks such as deny-namespaces aside):
 * 1 yes, 0 no (gets the action), -ENOENT not a syscall on this architecture, -EINVAL not a syscall at all. */
int policy_allows(const ember_policy *p, const char *syscall);
/* Number of BPF programs policy_apply() loads (0 for "none"). */
unsigned policy_n_filters(const ember_policy *p);
