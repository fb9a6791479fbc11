/* Small private helpers in the style of systemd's macro.h. */
#pragma once
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Closes *FD if open and marks it closed (-1): a later closep() of the same variable, a _cleanup_close_ at the end of
 * its scope or a struct's teardown, does not close whatever fd has been given that number since. errno is kept. */
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
                *fd = -1;
        }
}
static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)

/* Hand an fd out of a _cleanup_close_ variable. */
static inline int take_fd(int *fd) {
        int r = *fd;
        *fd = -1;
        return r;
}

/* sysexits.h values, documented in the man pages. */
enum {
        EXIT_USAGE = 64,       /* bad command line */
        EXIT_DATAERR = 65,     /* bad state file or unit data */
        EXIT_UNAVAILABLE = 69, /* backend did not become ready / failed */
        EXIT_SOFTWARE = 70,    /* internal error */
        EXIT_OSERR = 71,       /* system call failed */
        EXIT_TEMPFAIL = 75,    /* not now: another upgrade in progress, the app starting or stopping */
        EXIT_CANTCREAT = 73,   /* state directory unusable */
        EXIT_NOPERM = 77,      /* refused: wrong owner, symlink, permissions */
        EXIT_CONFIG = 78,      /* bad policy file */
};
