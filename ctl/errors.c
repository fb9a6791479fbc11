/* emberctl's one mapping from errors to exit statuses (errors.h says the rule). */
#include <errno.h>

#include "errors.h"
#include "macro.h"

/* The one place where what went wrong becomes the exit status (errors.h). */
int exit_status(int r) {
        if (r >= 0)
                return EXIT_SUCCESS;
        switch (r) {
        case -EINVAL:
                return EXIT_USAGE; /* usage_error()'s, which said what was wrong with the command line */
        case -ECTL_BAD_TEMPLATE:
                return EXIT_DATAERR;
        case -ECTL_UNAVAILABLE:
                return EXIT_UNAVAILABLE;
        case -ECTL_CANNOT_CREATE:
                return EXIT_CANTCREAT;
        case -ECTL_TRY_LATER:
                return EXIT_TEMPFAIL;
        case -ECTL_REFUSED:
                return EXIT_NOPERM;
        case -ECTL_BAD_POLICY:
                return EXIT_CONFIG;
        default:
                return EXIT_OSERR; /* a system call failed: said where it did */
        }
}
