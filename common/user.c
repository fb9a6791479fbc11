#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "user.h"

struct passwd *user_lookup(const char *user) {
        struct passwd *pw;
        char *end;

        errno = 0;
        pw = getpwnam(user);
        if (!pw && errno == 0 && user[0] >= '0' && user[0] <= '9') {
                unsigned long v = strtoul(user, &end, 10);
                if (!*end && v < UINT_MAX)
                        pw = getpwuid((uid_t) v);
        }
        if (!pw && (errno == 0 || errno == ENOENT || errno == ESRCH))
                errno = ESRCH;
        return pw;
}
