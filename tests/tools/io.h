#pragma once
/* Small I/O helpers shared by the test tools. */
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all of p, retrying on EINTR and short writes. Returns 0 or -errno. */
static inline int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* One read, retried on EINTR. Returns the byte count, 0 at end of file, or -errno. */
static inline ssize_t read_some(int fd, char *p, size_t n) {
        for (;;) {
                ssize_t k = read(fd, p, n);
                if (k >= 0 || errno != EINTR)
                        return k < 0 ? -errno : k;
        }
}
