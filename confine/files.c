/* The backend's file system without a mount namespace: a Landlock ruleset the supervisor builds before fork (it
 * opens every path, which can fail slowly) and the child applies right before exec (one system call).
 *
 * What it allows is what systemd's ProtectSystem=strict, ProtectHome=yes, PrivateDevices=yes and
 * ProtectKernelTunables= allowed the backend unit, without the mount namespace that costs every cold start
 * 20-35 ms on the bench machine (bench/README.md): reading and executing everywhere but /home, /root and /run/user;
 * writing only to /tmp, /var/tmp, /dev/shm, the pseudo devices and the paths given (--rw-path=, the state directory,
 * a unix backend's directory); /proc and /sys only read. Landlock allows only what some rule grants beneath, so "all
 * but /home" is a rule for each other entry of / (one made later is not readable until the next start). /tmp is the
 * machine's shared one, not a private one as with PrivateTmp= (the backend has a user of its own; its files there
 * are its own). From Landlock ABI 6 on, the backend may also signal no process outside its own domain: not another
 * app's backend run as the same user, not its supervisor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "landlock.h"
#include "macro.h"

#define RX (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)

/* The devices a backend may use, as PrivateDevices= gives them; directories among them get every right. */
static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty", "ptmx" };
static const char *const device_dirs[] = { "/dev/pts", "/dev/mqueue", "/dev/hugepages" }; /* /dev/shm: scratch */

typedef struct view {
        int ruleset;
        int abi;
        uint64_t all;
} view;

/* A rule for what is beneath PATH (a directory) or PATH itself (a file); a PATH that is not there is no error. */
static int allow(const view *v, const char *path, uint64_t access) {
        _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode)) /* a file takes only the rights of files */
                access &= FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
        struct path_beneath_attr rule = { .allowed_access = access & v->all, .parent_fd = fd };
        if (syscall(__NR_landlock_add_rule, v->ruleset, RULE_PATH_BENEATH, &rule, 0) < 0)
                return -errno;
        return 0;
}

static const char *const hidden[] = LANDLOCK_HIDDEN_PATHS;
static const char *const scratch[] = LANDLOCK_SCRATCH_PATHS;

static bool in_list(const char *path, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(path, list[i]) == 0)
                        return true;
        return false;
}

/* PATH, an entry of / or /run, gets no read rule of its own: hidden, or given its rules elsewhere (/run's entries,
 * /dev's devices) */
static bool skipped(const char *path) {
        return in_list(path, hidden, ELEMENTSOF(hidden)) || strcmp(path, "/run") == 0 || strcmp(path, "/dev") == 0 ||
               strcmp(path, "/lost+found") == 0;
}

/* Read and execute beneath every entry of DIR but the skipped ones. */
static int allow_entries(const view *v, const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;
        int r = 0;

        if (!d)
                return -errno;
        while (r >= 0 && (e = readdir(d))) {
                char path[PATH_MAX];
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, e->d_name);
                if (!skipped(path))
                        r = allow(v, path, RX);
        }
        closedir(d);
        return r;
}

static int allow_devices(const view *v) {
        uint64_t dev = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(devices); i++) {
                char path[64];
                snprintf(path, sizeof(path), "/dev/%s", devices[i]);
                r = allow(v, path, dev);
        }
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(device_dirs); i++)
                r = allow(v, device_dirs[i], v->all);
        return r;
}

static int add_rules(const view *v, char *const *rw_paths, size_t n_rw, const char **ret_failed) {
        int r = allow_entries(v, "/");
        if (r >= 0)
                r = allow_entries(v, "/run");
        if (r >= 0)
                r = allow_devices(v);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(scratch); i++)
                r = allow(v, scratch[i], v->all);
        for (size_t i = 0; r >= 0 && i < n_rw; i++) {
                r = allow(v, rw_paths[i], v->all);
                if (r < 0)
                        *ret_failed = rw_paths[i];
        }
        return r;
}

int files_ruleset(char *const *rw_paths, size_t n_rw, int *ret_fd, char **ret_error) {
        const char *failed = "/";
        view v = { .ruleset = -1, .abi = landlock_abi() };
        int r;

        *ret_fd = -1;
        if (v.abi <= 0) {
                if (asprintf(ret_error, "this kernel has no Landlock (%s), which confines the backend's files here: "
                             "emberctl new --hardening=strict has systemd do it instead",
                             v.abi < 0 ? strerror(-v.abi) : "not built in, or off") < 0)
                        *ret_error = NULL;
                return -EOPNOTSUPP;
        }
        v.all = landlock_fs_rights(v.abi);
        struct ruleset_attr attr = {
                .handled_access_fs = v.all,
                .scoped = v.abi >= LANDLOCK_ABI_SCOPE ? SCOPE_SIGNAL : 0,
        };
        v.ruleset = (int) syscall(__NR_landlock_create_ruleset, &attr, landlock_ruleset_attr_size(v.abi), 0);
        if (v.ruleset < 0)
                r = -errno;
        else
                r = add_rules(&v, rw_paths, n_rw, &failed);
        if (r < 0) {
                if (asprintf(ret_error, "cannot confine the backend's files with Landlock (at %s): %s", failed,
                             strerror(-r)) < 0)
                        *ret_error = NULL;
                if (v.ruleset >= 0)
                        close(v.ruleset);
                return r;
        }
        *ret_fd = v.ruleset;
        return 0;
}

int files_restrict(int ruleset) {
        return syscall(__NR_landlock_restrict_self, ruleset, 0) < 0 ? -errno : 0;
}
