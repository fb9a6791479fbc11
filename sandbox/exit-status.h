#pragma once
/* ember-sandbox's one error rule: every function returns 0 (or a positive value, below) on success and -errno on
 * failure, logs once where it knows why, and main() turns what it got into the exit status once, through
 * exit_status(). Any -errno is a system call that failed (71). The failures that ember-sandbox(8) gives a status of
 * their own, and that no errno tells apart (an EINVAL is a usage error in one place and a broken policy in
 * another), are the codes below: returned negated like an errno, above errno's range so they never collide with one
 * (as the kernel's own ERESTARTSYS and kin), and never given to strerror(): whoever returns one has logged why. */

/* A supervisor's step ended its run in order (idle stop, SIGTERM, drained; an upgrade with nothing to do): exit 0.
 * 0 from the same step is "go on". */
#define RUN_OVER 1

typedef enum sandbox_error {
        SANDBOX_ERROR_BASE = 4096,  /* above MAX_ERRNO */
        ERR_USAGE,          /* 64: bad command line, unknown --user or --launch-user */
        ERR_STATE_DATA,     /* 65: a state file unreadable (--upgrade) */
        ERR_BACKEND_FAILED, /* 69: the backend crashed, timed out, could not start; another supervisor is alive */
        ERR_STATE_DIR,      /* 73: the state directory cannot be created or used */
        ERR_NOT_NOW,        /* 75: --upgrade busy, or the state lock held for the whole start timeout */
        ERR_STATE_REFUSED,  /* 77: the state directory refused (symlink, owner, permissions) */
        ERR_POLICY,         /* 78: bad policy */
        ERR_NOT_EXECUTED,   /* 127: without --app, COMMAND could not be executed */
} sandbox_error;

/* The exit status for R, what main's work returned: 0 for R >= 0, a named code's own, else 71 (EXIT_OSERR). */
int exit_status(int r);
