/* emberctl's exit status is decided once, by exit_status() (ctl/errors.c): usage_error()'s -EINVAL is a usage error,
 * each of ctl/errors.h's codes the status emberctl(1) documents for it, and every other errno a system error. */
#include <errno.h>

#include "errors.h"
#include "tap.h"

static void check_success(void) {
        is_int("0 is success", exit_status(0), 0);
        is_int("a positive count is success", exit_status(3), 0);
}

static void check_usage(void) {
        is_int("-EINVAL, usage_error()'s, is a usage error (64)", exit_status(-EINVAL), 64);
}

static void check_codes(void) {
        static const struct {
                int code, status;
                const char *what;
        } codes[] = {
                { ECTL_BAD_TEMPLATE, 65, "a bad template is bad data (65)" },
                { ECTL_UNAVAILABLE, 69, "no such app, or what did not happen, is unavailable (69)" },
                { ECTL_CANNOT_CREATE, 73, "units that exist or cannot be written: cannot create (73)" },
                { ECTL_TRY_LATER, 75, "an upgrade in progress: try again later (75)" },
                { ECTL_REFUSED, 77, "a state directory that is no root's: refused (77)" },
                { ECTL_BAD_POLICY, 78, "a bad policy is a configuration error (78)" },
        };

        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
                is_int(tap_fmt("%s", codes[i].what), exit_status(-codes[i].code), codes[i].status);
        ok("the codes lie beyond every errno", ECTL_BAD_TEMPLATE > 4095);
}

static void check_other_errnos(void) {
        static const int errnos[] = { ENOENT, EACCES, EPERM, EIO, ENOMEM, ETIMEDOUT, EEXIST, EAGAIN };

        for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
                is_int(tap_fmt("-%s is a system error (71), whatever emberctl was doing", strerrorname_np(errnos[i])),
                       exit_status(-errnos[i]), 71);
}

int main(void) {
        plan(2 + 1 + 7 + 8);
        check_success();
        check_usage();
        check_codes();
        check_other_errnos();
        return done();
}
