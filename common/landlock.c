#include <errno.h>
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

int landlock_abi(void) {
        long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (v < 0)
                /* not built in, disabled at boot, or refused by an outer filter (a container's, an old systemd's) */
                return errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM ? 0 : -errno;
        return (int) v;
}
