/* ember-sandbox's exit statuses, decided once (see exit-status.h and ember-sandbox(8)). */
#include <stdlib.h>

#include "exit-status.h"
#include "macro.h"

int exit_status(int r) {
        if (r >= 0)
                return EXIT_SUCCESS;
        switch ((sandbox_error) -r) {
        case ERR_USAGE:
                return EXIT_USAGE;
        case ERR_STATE_DATA:
                return EXIT_DATAERR;
        case ERR_BACKEND_FAILED:
                return EXIT_UNAVAILABLE;
        case ERR_STATE_DIR:
                return EXIT_CANTCREAT;
        case ERR_NOT_NOW:
                return EXIT_TEMPFAIL;
        case ERR_STATE_REFUSED:
                return EXIT_NOPERM;
        case ERR_POLICY:
                return EXIT_CONFIG;
        case ERR_NOT_EXECUTED:
                return 127;
        default:
                return EXIT_OSERR;
        }
}
