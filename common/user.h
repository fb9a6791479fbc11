#pragma once
/* --user=USER, one way for emberctl and ember-sandbox: a user name, or a numeric uid that has a passwd entry. */
#include <pwd.h>
#include <sys/types.h>

/* Where PID 1 records the users it allocates for units with DynamicUser= (see dynamic_user_lookup()). */
#define DYNAMIC_UID_DIR "/run/systemd/dynamic-uid"

/* The passwd entry (libc's static storage), or NULL with errno set (ESRCH: no such user). */
struct passwd *user_lookup(const char *user);

/* The uid systemd allocated to the dynamic user NAME, read from DIR (DYNAMIC_UID_DIR) without NSS: a system
 * without libnss-systemd (a pristine Debian) cannot resolve it by name. 0 and *ret_uid, or -ESRCH (no such
 * allocation), -EPERM (an entry not root's or a uid outside systemd's dynamic range), other -errno. */
int dynamic_user_lookup(const char *dir, const char *name, uid_t *ret_uid);
