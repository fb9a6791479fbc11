#pragma once
/* Landlock, shared by the launcher (it confines itself) and the supervisor (it confines the backend's file system).
 * The kernel's structures at their newest size we know; older kernels are handed a prefix of them. The headers this
 * may be built against (Linux 6.1) stop at ABI 2 or 3, so newer constants are spelled out. */
#include <stddef.h>
#include <stdint.h>

struct ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net; /* ABI 4 */
        uint64_t scoped;             /* ABI 6 */
};

struct path_beneath_attr {
        uint64_t allowed_access;
        int32_t parent_fd;
} __attribute__((packed));

struct net_port_attr {
        uint64_t allowed_access;
        uint64_t port;
};

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_TRUNCATE (1ULL << 14)        /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15)       /* ABI 5 */
#define NET_BIND_TCP (1ULL << 0)        /* ABI 4 */
#define NET_CONNECT_TCP (1ULL << 1)
#define SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)
#define RULE_PATH_BENEATH 1
#define RULE_NET_PORT 2

#define LANDLOCK_ABI_NET 4
#define LANDLOCK_ABI_SCOPE 6

/* The Landlock ABI this kernel offers: 0 if none (not built in, disabled at boot, or refused by an outer filter),
 * -errno on another failure. ABI 1: files; 4: TCP bind and connect by port; 6: signals and abstract sockets. */
int landlock_abi(void);

/* Every file system right ABI knows: a ruleset that handles them all denies each one no rule grants. */
uint64_t landlock_fs_rights(int abi);

/* The size of struct ruleset_attr that ABI knows. */
size_t landlock_ruleset_attr_size(int abi);

/* What ember-sandbox --landlock leaves the backend of the file system besides reading everywhere: the trees it may not
 * even read (as ProtectHome=yes) and the scratch ones it may write (as a machine's own /tmp). confine/files.c builds
 * its ruleset from these, and emberctl new checks an app against them (ctl/app-check.c). */
#define LANDLOCK_HIDDEN_PATHS { "/home", "/root", "/run/user" }
#define LANDLOCK_SCRATCH_PATHS { "/tmp", "/var/tmp", "/dev/shm" }
