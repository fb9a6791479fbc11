#pragma once
/* --user=USER, one way for emberctl and ember-sandbox: a user name, or a numeric uid that has a passwd entry. */
#include <pwd.h>

/* The passwd entry (libc's static storage), or NULL with errno set (ESRCH: no such user). */
struct passwd *user_lookup(const char *user);
