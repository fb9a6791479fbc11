#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bill.h"
#include "macro.h"
#include "parse.h"

static int read_small(int dirfd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int bill_cgroup_open(int *ret_dirfd) {
        char self[PATH_MAX], path[PATH_MAX + 32], *line, *nl;
        _cleanup_close_ int fd = -1;

        if (read_small(AT_FDCWD, "/proc/self/cgroup", self, sizeof(self)) < 0)
                return -ENOENT;
        /* the unified hierarchy's line is "0::PATH" */
        line = strstr(self, "0::/");
        if (!line || (line != self && line[-1] != '\n'))
                return -ENOENT;
        line += 3;
        nl = strchr(line, '\n');
        if (nl)
                *nl = '\0';
        /* only a unit's own cgroup: in inetd mode ours is shared with whatever started us */
        if (strlen(line) < 9 || strcmp(line + strlen(line) - 8, ".service") != 0)
                return -ENOENT;
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || faccessat(fd, "cpu.stat", R_OK, 0) < 0)
                return -ENOENT;
        *ret_dirfd = take_fd(&fd);
        return 0;
}

int bill_read_cgroup(int cgroup_fd, bill *ret) {
        char buf[1024], *p;
        uint64_t v;
        int r;

        r = read_small(cgroup_fd, "cpu.stat", buf, sizeof(buf));
        if (r < 0)
                return r;
        p = strstr(buf, "usage_usec ");
        if (!p || sscanf(p, "usage_usec %" SCNu64, &ret->cpu_usec) != 1)
                return -EBADMSG;
        /* memory.peak is Linux 5.19+; without it (or without the memory controller) the peak stays unknown */
        if (read_small(cgroup_fd, "memory.peak", buf, sizeof(buf)) >= 0 && parse_uint64(buf, &v) >= 0)
                ret->memory_peak_bytes = v;
        ret->from_cgroup = true;
        return 0;
}

void bill_from_rusage(const struct rusage *ru, bill *ret) {
        ret->cpu_usec = (uint64_t) ru->ru_utime.tv_sec * 1000000 + (uint64_t) ru->ru_utime.tv_usec +
                        (uint64_t) ru->ru_stime.tv_sec * 1000000 + (uint64_t) ru->ru_stime.tv_usec;
        ret->memory_peak_bytes = (uint64_t) ru->ru_maxrss * 1024;
        ret->from_cgroup = false;
}
