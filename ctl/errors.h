#pragma once
/* emberctl's one error rule. Every function returns -errno (or 0, or a positive count); the message is logged once,
 * where the error is best described; and the exit status is decided once, at emberctl's edge: main() passes what
 * the verb returned to exit_status(), the one mapping from errors to the statuses emberctl(1) documents (errors.c;
 * tests/unit/test-ctl-errors).
 *
 * An errno says what a system call met, not what emberctl was doing: ENOENT is "no such app" for a state directory
 * but a system error (71) for the template directory, EACCES "refused" (77) for a state directory but "the unit
 * directory is not writable" (73) for the units. So one errno keeps a status of its own: EINVAL, usage_error()'s,
 * a usage error (64); a system call's EINVAL is turned into what it means where it is met (write_units()). Every
 * other errno is a system error (71). Where emberctl(1) documents another status, the function that knows what
 * failed logs the errno it met and returns one of these codes instead: they lie beyond every errno (which stop at
 * 4095), so they never meet one. Never log them with a *_errno() helper: strerror() does not know them. */
enum {
        ECTL_BAD_TEMPLATE = 10000, /* 65: a template that is no unit template (unknown @KEY@, too big, NUL bytes) */
        ECTL_UNAVAILABLE,          /* 69: no such app (state directory, units); a start, stop or upgrade that did
                                    * not happen (systemd unreachable, a failed job, not stopped in time) */
        ECTL_CANNOT_CREATE,        /* 73: the units exist, or what emberctl writes cannot be made: the unit
                                    * directory, the metrics' directory, the backend's user */
        ECTL_TRY_LATER,            /* 75: an upgrade in progress, an app starting or stopping, a state lock held */
        ECTL_REFUSED,              /* 77: a state directory that is no root's, or a supervisor not ours to signal */
        ECTL_BAD_POLICY,           /* 78: an unknown policy, or a launchers' user that is no system account */
};

/* The exit status for what a verb returned: 0 for 0 or more. */
int exit_status(int r);
