#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "events.h"
#include "log.h"

static const char *log_ident = "ember";
static const char *log_app;
static int journal_fd = -1;
static bool debug_enabled;
static char log_field[64];

/* The journal's native socket: where stderr is the journal stream, or where the unit asks for it (EMBER_LOG=journal:
 * an instance with no output streams at all spares journald a stream connection per connection). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM"), *l = getenv("EMBER_LOG");
        unsigned long long dev, ino;
        struct stat st;

        if (l && strcmp(l, "journal") == 0)
                return true;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(const char *ident, const char *app) {
        log_ident = ident;
        log_app = app;
        debug_enabled = getenv("EMBER_DEBUG") != NULL;
        if (journal_fd < 0 && stderr_is_journal())
                journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void log_reopen(void) {
        journal_fd = -1;
        if (stderr_is_journal())
                journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void log_set_field(const char *field) {
        snprintf(log_field, sizeof(log_field), "%s\n", field);
}

bool log_to_journal(void) {
        return journal_fd >= 0;
}

static int journal_send(int priority, const char *msg, const char *const *fields) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        char prio[32], ident[64], app[96], message[4096 + 16];
        struct iovec iov[32];
        size_t n = 0;

        snprintf(prio, sizeof(prio), "PRIORITY=%d\n", priority);
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s\n", log_ident);
        /* MESSAGE is the one field that may contain newlines; strip them instead of using the binary form. */
        snprintf(message, sizeof(message), "MESSAGE=%s", msg);
        for (char *p = message; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        strcat(message, "\n");
        iov[n++] = (struct iovec){ prio, strlen(prio) };
        iov[n++] = (struct iovec){ ident, strlen(ident) };
        iov[n++] = (struct iovec){ message, strlen(message) };
        if (log_app) {
                snprintf(app, sizeof(app), "EMBER_APP=%s\n", log_app);
                iov[n++] = (struct iovec){ app, strlen(app) };
        }
        if (log_field[0])
                iov[n++] = (struct iovec){ log_field, strlen(log_field) };
        for (; fields && *fields && n + 4 < ELEMENTSOF(iov); fields++) {
                const char *id = strncmp(*fields, "EMBER_EVENT=", 12) == 0 ? event_message_id_field(*fields + 12) : NULL;
                iov[n++] = (struct iovec){ (void *) *fields, strlen(*fields) };
                iov[n++] = (struct iovec){ "\n", 1 };
                if (id) { /* journalctl -x explains it from the catalog */
                        iov[n++] = (struct iovec){ (void *) id, strlen(id) };
                        iov[n++] = (struct iovec){ "\n", 1 };
                }
        }
        struct msghdr mh = { .msg_name = (void *) &sa, .msg_namelen = sizeof(sa), .msg_iov = iov, .msg_iovlen = n };
        return sendmsg(journal_fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int log_fullv(int priority, int error, const char *const *fields, const char *fmt, va_list ap) {
        char msg[4096];
        int saved = errno;
        size_t len;

        if (priority >= LOG_DEBUG && !debug_enabled)
                return error > 0 ? -error : error;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        len = strlen(msg);
        if (error != 0)
                snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(abs(error)));
        if (journal_fd < 0 || journal_send(priority, msg, fields) < 0) {
                if (log_app)
                        fprintf(stderr, "%s[%s]: %s\n", log_ident, log_app, msg);
                else
                        fprintf(stderr, "%s: %s\n", log_ident, msg);
        }
        errno = saved;
        return error > 0 ? -error : error;
}

int log_full(int priority, int error, const char *const *fields, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_fullv(priority, error, fields, fmt, ap);
        va_end(ap);
        return r;
}
