#include <errno.h>
#include <stddef.h>
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

uint64_t landlock_fs_rights(int abi) {
        uint64_t all = (1ULL << 13) - 1; /* ABI 1: EXECUTE ... MAKE_SYM */
        if (abi >= 2)
                all |= 1ULL << 13; /* REFER */
        if (abi >= 3)
                all |= FS_TRUNCATE;
        if (abi >= 5)
                all |= FS_IOCTL_DEV;
        return all;
}

size_t landlock_ruleset_attr_size(int abi) {
        return abi >= LANDLOCK_ABI_SCOPE ? sizeof(struct ruleset_attr)
               : abi >= LANDLOCK_ABI_NET ? offsetof(struct ruleset_attr, scoped)
                                         : offsetof(struct ruleset_attr, handled_access_net);
}
