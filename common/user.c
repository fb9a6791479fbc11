#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "user.h"

/* systemd's range for dynamic users (DYNAMIC_UID_MIN, DYNAMIC_UID_MAX in its sources) */
#define DYNAMIC_UID_FIRST 61184u
#define DYNAMIC_UID_LAST 65519u

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

/* PID 1 keeps, for each user it allocated, the symlink "direct:NAME" -> "UID" in a directory only root writes
 * (nss-systemd reads the same when the manager is not reachable). Nothing else is trusted: the link must be
 * root's and name a uid of the dynamic range. */
int dynamic_user_lookup(const char *dir, const char *name, uid_t *ret_uid) {
        _cleanup_close_ int dfd = -1;
        char entry[NAME_MAX + 1], target[16], *end;
        struct stat st;
        unsigned long v;
        ssize_t n;

        if (!name[0] || strchr(name, '/') || snprintf(entry, sizeof(entry), "direct:%s", name) >= (int) sizeof(entry))
                return -ESRCH;
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (fstatat(dfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (!S_ISLNK(st.st_mode) || st.st_uid != 0)
                return -EPERM;
        n = readlinkat(dfd, entry, target, sizeof(target) - 1);
        if (n < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        target[n] = '\0';
        errno = 0;
        v = strtoul(target, &end, 10);
        if (errno || end == target || *end || v < DYNAMIC_UID_FIRST || v > DYNAMIC_UID_LAST)
                return -EPERM;
        *ret_uid = (uid_t) v;
        return 0;
}
