/* --idle-action=checkpoint: where an app's checkpoint lies (protocol.h). Apart from protocol.c so that the
 * launcher, which never looks there, does not carry it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "protocol.h"

const char *checkpoint_root(void) {
        const char *e = getenv("EMBER_CHECKPOINT_ROOT");
        return e && e[0] == '/' ? e : "/var/lib/ember";
}

int checkpoint_dir_path(const char *app, const char *suffix, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s/checkpoint%s", checkpoint_root(), app, suffix);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int checkpoint_size(const char *app, uint64_t *ret) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        uint64_t total = 0;
        struct dirent *de;
        struct stat st;
        DIR *d;

        if (checkpoint_dir_path(app, "", path, sizeof(path)) < 0)
                return 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(take_fd(&fd))))
                return 0;
        while ((de = readdir(d)))
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        total += (uint64_t) st.st_size;
        closedir(d);
        *ret = total;
        return 1;
}
