/* emberctl: create ember apps (systemd units from templates), show their state, stop their backends.
 * See emberctl(1). */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "state.h"
#include "timeutil.h"
#include "usage.h"

#define UNIT_DIR_DEFAULT "/etc/systemd/system"
#define TEMPLATE_MAX (256 * 1024)
#define MAX_CONNECTIONS_DEFAULT 1024
#define STOP_TIMEOUT_DEFAULT (15 * USEC_PER_SEC)
/* systemd's own timeouts leave the supervisor's timeouts room to act first. Before a start the supervisor may
 * also wait out its crash backoff (at most 30 s), which counts against TimeoutStartSec= too. */
#define SYSTEMD_TIMEOUT_SLACK (10 * USEC_PER_SEC)
#define SUPERVISOR_BACKOFF_MAX (30 * USEC_PER_SEC)

/* The unit templates, in the order they are written; "NAME" in the file name becomes the app name. */
static const char *const unit_templates[] = {
        "NAME-backend.service",
        "NAME-backend.socket",
        "NAME@.service",
        "NAME.socket",
};

/* ---- small helpers ---------------------------------------------------------------------------------------- */

typedef struct buf {
        char *data;
        size_t len, size;
} buf;

static void buf_done(buf *b) {
        free(b->data);
        *b = (buf){};
}

static int buf_put(buf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->size) {
                size_t size = b->size ? b->size : 256;
                char *p;

                while (b->len + n + 1 > size)
                        size *= 2;
                p = realloc(b->data, size);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->size = size;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

static int buf_puts(buf *b, const char *s) {
        return buf_put(b, s, strlen(s));
}

_printf_(2, 3) static int buf_printf(buf *b, const char *fmt, ...) {
        char tmp[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(tmp))
                return -ENOBUFS;
        return buf_put(b, tmp, (size_t) n);
}

static int buf_putc(buf *b, char c) {
        return buf_put(b, &c, 1);
}

/* emberctl's verbs return exit codes: the shared usage message, then EXIT_USAGE. */
_printf_(1, 2) static int usage_fail(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) usage_errorv(fmt, ap);
        va_end(ap);
        return EXIT_USAGE;
}

static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n;
                uint32_t c;

                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        c = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        c = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        c = *p & 0x07;
                } else
                        return false;
                p++;
                for (unsigned i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (*p & 0x3f);
                }
                /* overlong forms, surrogates and values beyond Unicode */
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return false;
        }
        return true;
}

/* A value for a unit setting that expands specifiers (%n, %i, ...): "%" must be written "%%". */
static int unit_escape_specifiers(buf *b, const char *s) {
        for (; *s; s++) {
                int r = *s == '%' ? buf_puts(b, "%%") : buf_putc(b, *s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool exec_word_is_plain(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("_./:=,+@^-", *s))
                        return false;
        return true;
}

/* One word of an ExecStart= command line, exactly as systemd will pass it in argv: words with anything beyond a
 * safe set are double-quoted with C escapes for '\\', '"' and control characters (systemd unquotes and
 * C-unescapes each word), "$" is doubled (no environment expansion) and "%" doubled (no specifier expansion);
 * bytes that are not valid UTF-8 (unit files must be UTF-8) become \xHH. */
static int exec_quote(buf *b, const char *s) {
        bool utf8 = utf8_is_valid(s);
        int r;

        if (exec_word_is_plain(s))
                return buf_puts(b, s);
        r = buf_putc(b, '"');
        for (const unsigned char *p = (const unsigned char *) s; r >= 0 && *p; p++) {
                if (*p == '\\' || *p == '"')
                        r = buf_printf(b, "\\%c", *p);
                else if (*p == '$')
                        r = buf_puts(b, "$$");
                else if (*p == '%')
                        r = buf_puts(b, "%%");
                else if (*p == '\n')
                        r = buf_puts(b, "\\n");
                else if (*p == '\t')
                        r = buf_puts(b, "\\t");
                else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
                        r = buf_printf(b, "\\x%02x", *p);
                else
                        r = buf_putc(b, (char) *p);
        }
        return r < 0 ? r : buf_putc(b, '"');
}

/* "--NAME=VALUE" as one quoted ExecStart word. */
static int exec_option(buf *b, const char *name, const char *value) {
        _cleanup_free_ char *word = NULL;
        int r;

        if (asprintf(&word, "--%s=%s", name, value) < 0)
                return -ENOMEM;
        if (b->len > 0 && (r = buf_putc(b, ' ')) < 0)
                return r;
        return exec_quote(b, word);
}

/* Canonical form of a duration, free of spaces, understood by ember's programs and by systemd. */
static void format_duration(uint64_t usec, char *out, size_t size) {
        if (usec == USEC_INFINITY)
                snprintf(out, size, "infinity");
        else if (usec % USEC_PER_SEC == 0)
                snprintf(out, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(out, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else
                snprintf(out, size, "%" PRIu64 "us", usec);
}

/* Human "1h2m", "3m4s", "12s", "850ms". */
static void format_age(uint64_t sec, char *out, size_t size) {
        if (sec >= 86400)
                snprintf(out, size, "%" PRIu64 "d%" PRIu64 "h", sec / 86400, sec % 86400 / 3600);
        else if (sec >= 3600)
                snprintf(out, size, "%" PRIu64 "h%" PRIu64 "m", sec / 3600, sec % 3600 / 60);
        else if (sec >= 60)
                snprintf(out, size, "%" PRIu64 "m%" PRIu64 "s", sec / 60, sec % 60);
        else
                snprintf(out, size, "%" PRIu64 "s", sec);
}

/* ---- new ---------------------------------------------------------------------------------------------------- */

typedef struct subst {
        const char *key;
        char *value; /* already escaped for where the templates use it */
} subst;

static void substs_free(subst *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(s[i].value);
}

static const char *template_dir(void) {
        const char *e = getenv("EMBER_TEMPLATE_DIR");
        return e && *e ? e : PKGDATADIR "/templates";
}

static const char *policy_dir(void) {
        const char *e = getenv("EMBER_POLICY_DIR");
        return e && *e ? e : PKGDATADIR "/policies";
}

static int read_file_at(int dirfd, const char *name, char **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t len = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > TEMPLATE_MAX)
                return -EFBIG;
        data = malloc((size_t) st.st_size + 1);
        if (!data)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, data + len, (size_t) st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        data[len] = '\0';
        if (strlen(data) != len)
                return -EBADMSG; /* NUL bytes */
        *ret = data;
        data = NULL;
        return 0;
}

/* Replaces each @KEY@ (KEY = [A-Z][A-Z0-9_]*) by its value; any other '@' is literal. An unknown KEY is a broken
 * template: report FILE:LINE. */
static int render(const char *file, const char *text, const subst *substs, size_t n_substs, buf *out) {
        unsigned line = 1;
        const char *p = text;
        int r;

        while (*p) {
                const char *end;
                size_t klen;

                if (*p != '@' || !isupper((unsigned char) p[1])) {
                        if (*p == '\n')
                                line++;
                        r = buf_putc(out, *p++);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (end = p + 1; isupper((unsigned char) *end) || isdigit((unsigned char) *end) || *end == '_'; end++)
                        ;
                if (*end != '@') {
                        r = buf_putc(out, *p++);
                        if (r < 0)
                                return r;
                        continue;
                }
                klen = (size_t) (end - p - 1);
                r = -ENOENT;
                for (size_t i = 0; i < n_substs; i++)
                        if (strlen(substs[i].key) == klen && strncmp(substs[i].key, p + 1, klen) == 0) {
                                r = buf_puts(out, substs[i].value);
                                break;
                        }
                if (r == -ENOENT) {
                        log_error("%s:%u: unknown placeholder %.*s", file, line, (int) (klen + 2), p);
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
                p = end + 1;
        }
        return 0;
}

static void unit_name(const char *template, const char *app, char *out, size_t size) {
        /* every template name starts with "NAME" */
        snprintf(out, size, "%s%s", app, template + 4);
}

static int write_atomic(int dirfd, const char *name, const buf *content, bool replace) {
        char tmp[NAME_MAX + 1];
        _cleanup_close_ int fd = -1;
        size_t done = 0;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                int n = snprintf(tmp, sizeof(tmp), ".#%s.%ld.%u", name, (long) getpid(), attempt);
                if (n < 0 || (size_t) n >= sizeof(tmp))
                        return -ENAMETOOLONG;
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || attempt >= 100)
                        return -errno;
        }
        if (fchmod(fd, 0644) < 0) /* whatever the umask */
                goto fail_errno;
        while (done < content->len) {
                ssize_t n = write(fd, content->data + done, content->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail_errno;
                done += (size_t) n;
        }
        if (fsync(fd) < 0)
                goto fail_errno;
        if (renameat2(dirfd, tmp, dirfd, name, replace ? 0 : RENAME_NOREPLACE) < 0)
                goto fail_errno;
        return 0;

fail_errno:
        r = -errno;
        (void) unlinkat(dirfd, tmp, 0);
        return r;
}

/* COMMAND[0] as an absolute path to an executable regular file, searching $PATH for a bare name. */
static int resolve_command(const char *cmd, char **ret) {
        const char *path = getenv("PATH");
        struct stat st;

        if (!*cmd)
                return -EINVAL;
        if (strchr(cmd, '/')) {
                char *abs = realpath(cmd, NULL);
                if (!abs)
                        return -errno;
                if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, X_OK) < 0) {
                        free(abs);
                        return -ENOEXEC;
                }
                /* keep what the user wrote if it was absolute (symlinks such as python3 -> python3.11 stay) */
                if (cmd[0] == '/') {
                        free(abs);
                        abs = strdup(cmd);
                        if (!abs)
                                return -ENOMEM;
                }
                *ret = abs;
                return 0;
        }
        if (!path || !*path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;

                /* relative $PATH entries would make the unit depend on emberctl's working directory */
                if (n > 0 && p[0] == '/') {
                        if (asprintf(&candidate, "%.*s/%s", (int) n, p, cmd) < 0)
                                return -ENOMEM;
                        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
                                *ret = candidate;
                                candidate = NULL;
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

static int check_policy(const char *spec, char **ret) {
        struct stat st;

        if (strchr(spec, '/')) {
                char *abs = realpath(spec, NULL);
                if (!abs)
                        return -errno;
                if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || access(abs, R_OK) < 0) {
                        free(abs);
                        return -EBADFD;
                }
                *ret = abs;
                return 0;
        }
        if (strcmp(spec, "default") != 0 && strcmp(spec, "strict") != 0 && strcmp(spec, "none") != 0) {
                _cleanup_free_ char *p = NULL;

                /* another named policy: it must be installed as NAME.policy */
                if (!app_name_is_valid(spec))
                        return -EINVAL;
                if (asprintf(&p, "%s/%s.policy", policy_dir(), spec) < 0)
                        return -ENOMEM;
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        return -ENOENT;
        }
        *ret = strdup(spec);
        return *ret ? 0 : -ENOMEM;
}

/* A unix socket path must survive systemd's parsing of ListenStream= (which trims whitespace). */
static bool listen_path_is_ok(const char *s) {
        if (!utf8_is_valid(s))
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '\\' || *s == '"' || *s == '\'')
                        return false;
        return true;
}

static int set_subst(subst *s, const char *key, const char *value) {
        s->key = key;
        s->value = strdup(value);
        return s->value ? 0 : -ENOMEM;
}

static int set_subst_buf(subst *s, const char *key, buf *b) {
        s->key = key;
        s->value = b->data ? b->data : strdup("");
        *b = (buf){};
        return s->value ? 0 : -ENOMEM;
}

static void help_new(FILE *f) {
        fprintf(f,
                "Usage: emberctl new NAME --listen=ADDR --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "Write the systemd units for app NAME: NAME.socket, NAME@.service, NAME-backend.socket and\n"
                "NAME-backend.service.\n\n"
                "  --listen=ADDR           where clients connect: HOST:PORT, [V6]:PORT, PORT (all addresses) or /path\n"
                "  --backend=ADDR          where COMMAND listens: HOST:PORT, [V6]:PORT, PORT (127.0.0.1) or /path\n"
                "  --idle=DUR              stop the backend DUR after the last connection (default 60s)\n"
                "  --policy=SPEC           seccomp policy: default, strict, none or a .policy file (default: default)\n"
                "  --start-on=connect|data wake the backend on connect (default) or on the first byte\n"
                "  --hardening=lean|strict the per-connection unit's sandboxing (default lean: the launcher\n"
                "                          confines itself; strict adds systemd's, ~5x the cost per connection)\n"
                "  --ready=connect|notify  backend is ready when it accepts (default) or sends READY=1\n"
                "  --user=USER             run COMMAND as USER\n"
                "  --start-timeout=DUR     give up on a backend not ready within DUR (default 30s)\n"
                "  --stop-timeout=DUR      SIGKILL a backend DUR after SIGTERM (default 10s)\n"
                "  --client-idle-timeout=DUR  close a connection silent for DUR both ways (default infinity)\n"
                "  --max-connections=N     concurrent connections (default %d)\n"
                "  --unit-dir=DIR          where to write the units (default " UNIT_DIR_DEFAULT ")\n"
                "  --force                 overwrite existing units\n",
                MAX_CONNECTIONS_DEFAULT);
}

static int parse_duration_opt(const char *name, const char *s, bool zero_ok, uint64_t *ret) {
        return usage_parse_duration(name, s, zero_ok, ret) < 0 ? EXIT_USAGE : 0;
}

static int verb_new(int argc, char *argv[]) {
        enum { ARG_LISTEN = 0x100, ARG_BACKEND, ARG_IDLE, ARG_POLICY, ARG_START_ON, ARG_READY, ARG_USER,
               ARG_START_TIMEOUT, ARG_STOP_TIMEOUT, ARG_CLIENT_IDLE_TIMEOUT, ARG_MAX_CONNECTIONS, ARG_UNIT_DIR,
               ARG_FORCE, ARG_HARDENING };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "idle", required_argument, NULL, ARG_IDLE },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "start-on", required_argument, NULL, ARG_START_ON },
                { "ready", required_argument, NULL, ARG_READY },
                { "user", required_argument, NULL, ARG_USER },
                { "start-timeout", required_argument, NULL, ARG_START_TIMEOUT },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "client-idle-timeout", required_argument, NULL, ARG_CLIENT_IDLE_TIMEOUT },
                { "max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS },
                { "unit-dir", required_argument, NULL, ARG_UNIT_DIR },
                { "force", no_argument, NULL, ARG_FORCE },
                { "hardening", required_argument, NULL, ARG_HARDENING },
                {}
        };
        const char *name = NULL, *listen_s = NULL, *backend_s = NULL, *policy_s = "default", *start_on = "connect";
        const char *ready = "connect", *user = NULL, *unit_dir = UNIT_DIR_DEFAULT, *hardening = "lean";
        uint64_t idle = 60 * USEC_PER_SEC, start_timeout = 30 * USEC_PER_SEC, stop_timeout = 10 * USEC_PER_SEC;
        uint64_t max_connections = MAX_CONNECTIONS_DEFAULT, client_idle = USEC_INFINITY;
        bool force = false;
        ember_addr listen_a, backend_a;
        char listen_f[sizeof(listen_a.un.sun_path) + 64], backend_f[sizeof(backend_a.un.sun_path) + 64];
        char idle_f[32], start_f[32], stop_f[32], tstart_f[32], tstop_f[32], maxc_f[24], client_idle_f[32];
        _cleanup_free_ char *command0 = NULL, *policy = NULL;
        _cleanup_close_ int tdirfd = -1, udirfd = -1;
        subst substs[16] = {};
        size_t n_substs = 0;
        char **command;
        int dd, command_argc, c, r, ret = EXIT_SUCCESS;

        /* Everything after the first "--" is COMMAND; getopt_long only sees what comes before it. */
        for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
                ;
        command = argv + (dd < argc ? dd + 1 : argc);
        command_argc = dd < argc ? argc - dd - 1 : 0;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(dd, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help_new(stdout);
                        return EXIT_SUCCESS;
                case ARG_LISTEN:
                        listen_s = optarg;
                        break;
                case ARG_BACKEND:
                        backend_s = optarg;
                        break;
                case ARG_IDLE:
                        if ((r = parse_duration_opt("idle", optarg, true, &idle)) != 0)
                                return r;
                        break;
                case ARG_POLICY:
                        policy_s = optarg;
                        break;
                case ARG_HARDENING:
                        if (strcmp(optarg, "strict") != 0 && strcmp(optarg, "lean") != 0)
                                return usage_fail("invalid --hardening '%s': use lean or strict", optarg);
                        hardening = optarg;
                        break;
                case ARG_START_ON:
                        if (strcmp(optarg, "connect") != 0 && strcmp(optarg, "data") != 0)
                                return usage_fail("invalid --start-on '%s': use connect or data", optarg);
                        start_on = optarg;
                        break;
                case ARG_READY:
                        if (strcmp(optarg, "connect") != 0 && strcmp(optarg, "notify") != 0)
                                return usage_fail("invalid --ready '%s': use connect or notify", optarg);
                        ready = optarg;
                        break;
                case ARG_USER:
                        user = optarg;
                        break;
                case ARG_START_TIMEOUT:
                        if ((r = parse_duration_opt("start-timeout", optarg, false, &start_timeout)) != 0)
                                return r;
                        break;
                case ARG_STOP_TIMEOUT:
                        if ((r = parse_duration_opt("stop-timeout", optarg, false, &stop_timeout)) != 0)
                                return r;
                        break;
                case ARG_CLIENT_IDLE_TIMEOUT:
                        if ((r = parse_duration_opt("client-idle-timeout", optarg, false, &client_idle)) != 0)
                                return r;
                        break;
                case ARG_MAX_CONNECTIONS:
                        if (parse_uint64(optarg, &max_connections) < 0 || strchr(optarg, '\n') ||
                            max_connections == 0 || max_connections > 65536)
                                return usage_fail("invalid --max-connections '%s': use a number from 1 to 65536", optarg);
                        break;
                case ARG_UNIT_DIR:
                        if (optarg[0] != '/')
                                return usage_fail("invalid --unit-dir '%s': use an absolute path", optarg);
                        unit_dir = optarg;
                        break;
                case ARG_FORCE:
                        force = true;
                        break;
                case '?':
                        if (optopt > 0 && optopt < 0x100 && isprint(optopt))
                                return usage_fail("new: option '-%c' is not known", optopt);
                        return usage_fail("new: option '%s' is not known or lacks its value", argv[optind - 1]);
                default:
                        return EXIT_SOFTWARE;
                }
        }

        if (optind >= dd)
                return usage_fail("new: missing NAME");
        if (optind + 1 < dd)
                return usage_fail("new: unexpected argument '%s' (COMMAND goes after '--')", argv[optind + 1]);
        name = argv[optind];
        if (!app_name_is_valid(name))
                return usage_fail("invalid NAME '%s': use 1-%d of [A-Za-z0-9_.-], not starting with '-', not . or ..",
                                   name, APP_NAME_MAX);
        if (strlen(name) > 8 && strcmp(name + strlen(name) - 8, "-backend") == 0)
                return usage_fail("invalid NAME '%s': names ending in -backend would clash with another app's units", name);
        if (!listen_s)
                return usage_fail("new: --listen=ADDR is required");
        if (!backend_s)
                return usage_fail("new: --backend=ADDR is required");
        if (parse_addr(listen_s, &listen_a) < 0)
                return usage_fail("invalid --listen address '%s': use HOST:PORT, [V6]:PORT, PORT or an absolute unix path", listen_s);
        if (listen_a.sa.sa_family == AF_UNIX && !listen_path_is_ok(listen_s))
                return usage_fail("invalid --listen path '%s': no whitespace, quotes, backslashes or control characters", listen_s);
        if (parse_addr(backend_s, &backend_a) < 0)
                return usage_fail("invalid --backend address '%s': use HOST:PORT, [V6]:PORT, PORT or an absolute unix path", backend_s);
        if (listen_a.port_only)
                snprintf(listen_f, sizeof(listen_f), "%u", ntohs(listen_a.in.sin_port)); /* all addresses */
        else if (format_addr(&listen_a, listen_f, sizeof(listen_f)) < 0)
                return EXIT_SOFTWARE;
        if (format_addr(&backend_a, backend_f, sizeof(backend_f)) < 0)
                return EXIT_SOFTWARE;
        if (listen_a.len == backend_a.len && memcmp(&listen_a.storage, &backend_a.storage, listen_a.len) == 0)
                return usage_fail("--listen and --backend are the same address (%s): the backend must listen elsewhere", backend_f);
        if (listen_a.port_only && backend_a.sa.sa_family != AF_UNIX &&
            (backend_a.sa.sa_family == AF_INET ? backend_a.in.sin_port : backend_a.in6.sin6_port) == listen_a.in.sin_port)
                return usage_fail("--listen port %s would take the backend's address %s", listen_f, backend_f);
        if (user && !getpwnam(user))
                return usage_fail("invalid --user '%s': no such user", user);
        if (command_argc == 0)
                return usage_fail("new: missing COMMAND after '--'");
        r = resolve_command(command[0], &command0);
        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory"), EXIT_OSERR;
        if (r < 0)
                return usage_fail("invalid COMMAND '%s': %s", command[0],
                                   r == -ENOEXEC ? "not an executable file" :
                                   strchr(command[0], '/') ? strerror(-r) : "not found in $PATH");
        r = check_policy(policy_s, &policy);
        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory"), EXIT_OSERR;
        if (r < 0) {
                if (strchr(policy_s, '/'))
                        log_error("invalid --policy '%s': %s", policy_s,
                                  r == -EBADFD ? "not a readable regular file" : strerror(-r));
                else
                        log_error("invalid --policy '%s': use default, strict, none, a policy installed in %s or a path",
                                  policy_s, policy_dir());
                return EXIT_CONFIG;
        }

        format_duration(idle, idle_f, sizeof(idle_f));
        format_duration(start_timeout, start_f, sizeof(start_f));
        format_duration(stop_timeout, stop_f, sizeof(stop_f));
        format_duration(start_timeout == USEC_INFINITY ? USEC_INFINITY
                                                       : start_timeout + SUPERVISOR_BACKOFF_MAX + SYSTEMD_TIMEOUT_SLACK,
                        tstart_f, sizeof(tstart_f));
        format_duration(stop_timeout == USEC_INFINITY ? USEC_INFINITY : stop_timeout + SYSTEMD_TIMEOUT_SLACK,
                        tstop_f, sizeof(tstop_f));
        snprintf(maxc_f, sizeof(maxc_f), "%" PRIu64, max_connections);
        format_duration(client_idle, client_idle_f, sizeof(client_idle_f));

        /* Open both directories before writing anything. */
        tdirfd = open(template_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tdirfd < 0) {
                log_error_errno(-errno, "cannot open template directory %s (set EMBER_TEMPLATE_DIR?)", template_dir());
                return EXIT_OSERR;
        }
        udirfd = open(unit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (udirfd < 0) {
                log_error_errno(-errno, "cannot open unit directory %s", unit_dir);
                return EXIT_CANTCREAT;
        }
        if (!force) {
                bool exists = false;
                for (size_t i = 0; i < ELEMENTSOF(unit_templates); i++) {
                        char u[NAME_MAX + 1];
                        struct stat st;

                        unit_name(unit_templates[i], name, u, sizeof(u));
                        if (fstatat(udirfd, u, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                                log_error("%s/%s exists", unit_dir, u);
                                exists = true;
                        }
                }
                if (exists) {
                        log_error("refusing to overwrite; use --force to replace the units of '%s'", name);
                        return EXIT_CANTCREAT;
                }
        }

        /* The substitutions, each escaped for the place the templates use it. */
        {
                buf b = {};

                r = set_subst(&substs[n_substs++], "NAME", name);
                if (r >= 0 && (r = unit_escape_specifiers(&b, listen_f)) >= 0)
                        r = set_subst(&substs[n_substs++], "LISTEN", b.data);
                if (r >= 0)
                        r = set_subst_buf(&substs[n_substs++], "LISTEN_DESC", &b);
                if (r >= 0 && (r = unit_escape_specifiers(&b, RUNTIME_DIR_DEFAULT)) >= 0)
                        r = set_subst_buf(&substs[n_substs++], "RUNTIME_DIR", &b);
                if (r >= 0 && (r = unit_escape_specifiers(&b, LIBEXECDIR)) >= 0)
                        r = set_subst_buf(&substs[n_substs++], "LIBEXECDIR", &b);
                if (r >= 0)
                        r = set_subst(&substs[n_substs++], "TEMPLATE_DIR", template_dir());
                if (r >= 0)
                        r = set_subst(&substs[n_substs++], "IDLE", idle_f);
                if (r >= 0)
                        r = set_subst(&substs[n_substs++], "MAX_CONNECTIONS", maxc_f);
                if (r >= 0)
                        r = set_subst(&substs[n_substs++], "TIMEOUT_START_SEC", tstart_f);
                if (r >= 0)
                        r = set_subst(&substs[n_substs++], "TIMEOUT_STOP_SEC", tstop_f);

                /* ember-launch --app --backend --start-on --start-timeout [--idle-timeout] */
                if (r >= 0)
                        r = exec_option(&b, "app", name);
                if (r >= 0)
                        r = exec_option(&b, "backend", backend_f);
                if (r >= 0)
                        r = exec_option(&b, "start-on", start_on);
                if (r >= 0)
                        r = exec_option(&b, "start-timeout", start_f);
                if (r >= 0 && client_idle != USEC_INFINITY)
                        r = exec_option(&b, "idle-timeout", client_idle_f);
                if (r >= 0)
                        r = set_subst_buf(&substs[n_substs++], "LAUNCH_ARGS", &b);

                /* ember-sandbox --app --backend --idle --ready --policy [--user] --start-timeout --stop-timeout */
                if (r >= 0)
                        r = exec_option(&b, "app", name);
                if (r >= 0)
                        r = exec_option(&b, "backend", backend_f);
                if (r >= 0)
                        r = exec_option(&b, "idle", idle_f);
                if (r >= 0)
                        r = exec_option(&b, "ready", ready);
                if (r >= 0)
                        r = exec_option(&b, "policy", policy);
                if (r >= 0 && user)
                        r = exec_option(&b, "user", user);
                if (r >= 0)
                        r = exec_option(&b, "start-timeout", start_f);
                if (r >= 0)
                        r = exec_option(&b, "stop-timeout", stop_f);
                if (r >= 0)
                        r = set_subst_buf(&substs[n_substs++], "SANDBOX_ARGS", &b);

                if (r >= 0)
                        r = exec_quote(&b, command0);
                for (int i = 1; r >= 0 && i < command_argc; i++)
                        if ((r = buf_putc(&b, ' ')) >= 0)
                                r = exec_quote(&b, command[i]);
                if (r >= 0)
                        r = set_subst_buf(&substs[n_substs++], "COMMAND", &b);
                buf_done(&b);
                if (r < 0) {
                        substs_free(substs, n_substs);
                        log_error_errno(r, "cannot prepare the units");
                        return EXIT_OSERR;
                }
        }

        /* The per-connection unit's hardening block is a template of its own, rendered with the same values. */
        {
                _cleanup_free_ char *text = NULL;
                char file[64];
                buf b = {};

                snprintf(file, sizeof(file), "hardening-%s.conf", hardening);
                r = read_file_at(tdirfd, file, &text);
                if (r < 0)
                        log_error_errno(r, "cannot read template %s/%s", template_dir(), file);
                else if ((r = render(file, text, substs, n_substs, &b)) >= 0)
                        r = set_subst_buf(&substs[n_substs++], "HARDENING", &b);
                buf_done(&b);
                if (r < 0) {
                        substs_free(substs, n_substs);
                        return r == -EBADMSG || r == -EFBIG || r == -EBADFD ? EXIT_DATAERR : EXIT_OSERR;
                }
        }

        /* Render all units first, so a broken template writes nothing. */
        buf rendered[ELEMENTSOF(unit_templates)] = {};
        for (size_t i = 0; i < ELEMENTSOF(unit_templates); i++) {
                _cleanup_free_ char *text = NULL;

                r = read_file_at(tdirfd, unit_templates[i], &text);
                if (r < 0) {
                        log_error_errno(r, "cannot read template %s/%s", template_dir(), unit_templates[i]);
                        ret = r == -EBADMSG || r == -EFBIG || r == -EBADFD ? EXIT_DATAERR : EXIT_OSERR;
                        goto finish;
                }
                r = render(unit_templates[i], text, substs, n_substs, &rendered[i]);
                if (r < 0) {
                        if (r != -EBADMSG)
                                log_error_errno(r, "cannot render template %s", unit_templates[i]);
                        ret = r == -EBADMSG ? EXIT_DATAERR : EXIT_OSERR;
                        goto finish;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(unit_templates); i++) {
                char u[NAME_MAX + 1];

                unit_name(unit_templates[i], name, u, sizeof(u));
                r = write_atomic(udirfd, u, &rendered[i], force);
                if (r < 0) {
                        log_error_errno(r, "cannot write %s/%s", unit_dir, u);
                        ret = r == -EEXIST ? EXIT_CANTCREAT : r == -EACCES || r == -EPERM || r == -EROFS ? EXIT_CANTCREAT : EXIT_OSERR;
                        goto finish;
                }
                printf("Wrote %s/%s\n", unit_dir, u);
        }
        printf("App '%s': clients connect to %s%s, backend %s on %s (idle %s, policy %s%s%s).\n",
               name, listen_f, listen_a.port_only ? " (all addresses)" : "", command0, backend_f, idle_f, policy,
               user ? ", user " : "", user ? user : "");
        printf("Next:\n  systemctl daemon-reload\n  systemctl enable --now %s.socket\n", name);

finish:
        for (size_t i = 0; i < ELEMENTSOF(unit_templates); i++)
                buf_done(&rendered[i]);
        substs_free(substs, n_substs);
        return ret;
}

/* ---- status ------------------------------------------------------------------------------------------------- */

#define VALUE_MAX 64

typedef struct app_entry {
        char name[APP_NAME_MAX + 1];
        app_status st;
} app_entry;

/* The state directory and its files belong to root (or to us, when EMBER_RUNTIME_DIR points at our own tree); they
 * are world-readable, so status needs no privileges. */
static int app_entry_read(const char *app, app_entry *e) {
        _cleanup_close_ int dirfd = -1;
        int r;

        *e = (app_entry){};
        snprintf(e->name, sizeof(e->name), "%s", app);
        r = state_open(app, false, &dirfd);
        if (r < 0)
                return r;
        return app_status_read(dirfd, &e->st);
}

static const char *state_label(const app_status *s) {
        return app_state_to_string(s->state);
}

static void json_string(const char *s) {
        putchar('"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p < 0x20 || *p >= 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static void json_u64_or_null(const char *key, bool have, uint64_t v, bool last) {
        if (have)
                printf("\"%s\":%" PRIu64 "%s", key, v, last ? "" : ",");
        else
                printf("\"%s\":null%s", key, last ? "" : ",");
}

static void print_json(const app_entry *e, uint64_t now) {
        const app_status *s = &e->st;
        bool up = app_status_is_up(s);

        printf("{\"app\":");
        json_string(e->name);
        printf(",\"state\":");
        json_string(up ? state_label(s) : app_state_to_string(APP_COLD));
        printf(",\"stale_state\":");
        if (s->stale)
                json_string(state_label(s));
        else
                printf("null");
        printf(",");
        json_u64_or_null("connections_live", true, s->have_refcount ? s->refcount : 0, false);
        json_u64_or_null("backend_pid", up && s->backend_pid > 0, s->backend_pid, false);
        json_u64_or_null("supervisor_pid", s->supervisor_pid > 0, (uint64_t) s->supervisor_pid, false);
        printf("\"supervisor_running\":%s,", s->supervisor_alive ? "true" : "false");
        json_u64_or_null("generation", s->generation > 0, s->generation, false);
        json_u64_or_null("up_sec", up && s->have_started_at,
                         s->have_started_at && now > s->started_at ? now - s->started_at : 0, false);
        json_u64_or_null("idle_sec", s->have_idle_since && s->refcount == 0,
                         s->have_idle_since && now > s->idle_since ? now - s->idle_since : 0, false);
        json_u64_or_null("cold_starts", true, s->cold_starts, false);
        json_u64_or_null("connections_served", true, s->connections, false);
        json_u64_or_null("last_cold_start_ms", s->have_ready_ms, s->ready_ms, true);
        printf("}");
}

typedef struct row {
        char col[9][VALUE_MAX + 32];
} row;

static void status_row(const app_entry *e, uint64_t now, row *r) {
        const app_status *s = &e->st;
        bool up = app_status_is_up(s);

        snprintf(r->col[0], sizeof(r->col[0]), "%s", e->name);
        if (s->stale)
                snprintf(r->col[1], sizeof(r->col[1]), "cold (stale '%s': its supervisor is gone)", state_label(s));
        else
                snprintf(r->col[1], sizeof(r->col[1]), "%s", state_label(s));
        snprintf(r->col[2], sizeof(r->col[2]), "%" PRIu64, s->have_refcount ? s->refcount : 0);
        if (up && s->backend_pid > 0)
                snprintf(r->col[3], sizeof(r->col[3]), "%" PRIu64, s->backend_pid);
        else
                snprintf(r->col[3], sizeof(r->col[3]), "-");
        if (up && s->have_started_at)
                format_age(now > s->started_at ? now - s->started_at : 0, r->col[4], sizeof(r->col[4]));
        else
                snprintf(r->col[4], sizeof(r->col[4]), "-");
        if (s->have_idle_since && s->refcount == 0)
                format_age(now > s->idle_since ? now - s->idle_since : 0, r->col[5], sizeof(r->col[5]));
        else
                snprintf(r->col[5], sizeof(r->col[5]), "-");
        snprintf(r->col[6], sizeof(r->col[6]), "%" PRIu64, s->cold_starts);
        snprintf(r->col[7], sizeof(r->col[7]), "%" PRIu64, s->connections);
        if (s->have_ready_ms)
                snprintf(r->col[8], sizeof(r->col[8]), "%" PRIu64 "ms", s->ready_ms);
        else
                snprintf(r->col[8], sizeof(r->col[8]), "-");
}

static void print_table(const app_entry *apps, size_t n, uint64_t now) {
        static const row header = { { "APP", "STATE", "CONNECTIONS", "BACKEND-PID", "UP", "IDLE", "COLD-STARTS",
                                      "SERVED", "LAST-COLD-START" } };
        size_t width[9];
        row *rows;

        rows = calloc(n + 1, sizeof(row));
        if (!rows) {
                log_error_errno(-ENOMEM, "out of memory");
                return;
        }
        rows[0] = header;
        for (size_t i = 0; i < n; i++)
                status_row(&apps[i], now, &rows[i + 1]);
        for (size_t c = 0; c < 9; c++) {
                width[c] = 0;
                for (size_t i = 0; i <= n; i++)
                        if (strlen(rows[i].col[c]) > width[c])
                                width[c] = strlen(rows[i].col[c]);
        }
        for (size_t i = 0; i <= n; i++) {
                for (size_t c = 0; c < 9; c++) {
                        if (c == 8)
                                printf("%s\n", rows[i].col[c]);
                        else
                                printf("%-*s  ", (int) width[c], rows[i].col[c]);
                }
        }
        free(rows);
}

static int cmp_status(const void *a, const void *b) {
        return strcmp(((const app_entry *) a)->name, ((const app_entry *) b)->name);
}

static void help_status(FILE *f) {
        fprintf(f,
                "Usage: emberctl status [NAME] [--json]\n"
                "Show state, live connections, backend pid, up and idle time, cold starts, connections served and\n"
                "the last cold start's time to ready, for every app in %s or for NAME.\n\n"
                "  --json                  one JSON object for NAME, an array of them for all apps\n",
                runtime_dir());
}

static int status_error(const char *app, int r) {
        if (r == -ENOENT) {
                log_error("no such app '%s': %s/%s does not exist (is %s.socket enabled?)", app, runtime_dir(), app, app);
                return EXIT_UNAVAILABLE;
        }
        log_error_errno(r, "refusing to read %s/%s", runtime_dir(), app);
        return r == -ELOOP || r == -ENOTDIR || r == -EPERM || r == -EACCES ? EXIT_NOPERM : EXIT_OSERR;
}

static int verb_status(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        _cleanup_close_ int rootfd = -1;
        _cleanup_free_ app_entry *apps = NULL;
        size_t n_apps = 0, allocated = 0;
        const char *app = NULL;
        bool json = false;
        uint64_t now;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help_status(stdout);
                        return EXIT_SUCCESS;
                case 'j':
                        json = true;
                        break;
                case '?':
                        return usage_fail("status: option '%s' is not known", argv[optind - 1]);
                default:
                        return EXIT_SOFTWARE;
                }
        if (optind < argc)
                app = argv[optind++];
        if (optind < argc)
                return usage_fail("status: unexpected argument '%s'", argv[optind]);
        if (app && !app_name_is_valid(app))
                return usage_fail("invalid NAME '%s'", app);

        now = (uint64_t) time(NULL);
        rootfd = open(runtime_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 && (errno != ENOENT || app))
                return app ? status_error(app, -errno) : (log_error_errno(-errno, "cannot open %s", runtime_dir()), EXIT_OSERR);

        if (app) {
                app_entry s;

                r = app_entry_read(app, &s);
                if (r < 0)
                        return status_error(app, r);
                if (json) {
                        print_json(&s, now);
                        putchar('\n');
                } else
                        print_table(&s, 1, now);
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_OSERR;
        }

        if (rootfd >= 0) {
                _cleanup_close_ int dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
                DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
                struct dirent *de;

                if (!d)
                        return log_error_errno(-errno, "cannot read %s", runtime_dir()), EXIT_OSERR;
                dfd = -1; /* owned by d now */
                while ((de = readdir(d))) {
                        if (!app_name_is_valid(de->d_name) || de->d_type == DT_LNK ||
                            (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                                continue;
                        if (n_apps == allocated) {
                                size_t na = allocated ? allocated * 2 : 16;
                                app_entry *p = realloc(apps, na * sizeof(*apps));
                                if (!p) {
                                        closedir(d);
                                        return log_error_errno(-ENOMEM, "out of memory"), EXIT_OSERR;
                                }
                                apps = p;
                                allocated = na;
                        }
                        r = app_entry_read(de->d_name, &apps[n_apps]);
                        if (r == -ENOTDIR || r == -ENOENT)
                                continue;
                        if (r < 0) {
                                log_warning_errno(r, "skipping %s/%s", runtime_dir(), de->d_name);
                                continue;
                        }
                        n_apps++;
                }
                closedir(d);
        }
        if (n_apps > 1)
                qsort(apps, n_apps, sizeof(*apps), cmp_status);

        if (json) {
                putchar('[');
                for (size_t i = 0; i < n_apps; i++) {
                        if (i > 0)
                                putchar(',');
                        print_json(&apps[i], now);
                }
                printf("]\n");
        } else if (n_apps == 0)
                printf("No ember apps in %s.\n", runtime_dir());
        else
                print_table(apps, n_apps, now);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_OSERR;
}

/* ---- stop --------------------------------------------------------------------------------------------------- */

static void help_stop(FILE *f) {
        fprintf(f,
                "Usage: emberctl stop NAME [--timeout=DUR]\n"
                "Stop NAME's backend now: SIGTERM to its supervisor, which stops the backend and closes live\n"
                "connections; wait until the app is cold. The next connection wakes it again.\n\n"
                "  --timeout=DUR           how long to wait for the stop (default 15s)\n");
}

/* The supervisor, named by the kernel as the holder of its lifetime lock, as a pidfd: a pid reused between the
 * question and the signal cannot be hit, since the lock is asked again once the pidfd pins the process. */
static int supervisor_pidfd(int dirfd, pid_t *ret_pid) {
        _cleanup_close_ int pidfd = -1;
        pid_t pid = 0, again = 0;
        int r;

        r = supervisor_find(dirfd, &pid);
        if (r <= 0)
                return r;
        if (pid <= 0)
                return -ESRCH; /* alive, but in a pid namespace we cannot see into */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        r = supervisor_find(dirfd, &again);
        if (r <= 0 || again != pid)
                return r < 0 ? r : 0;
        *ret_pid = pid;
        return take_fd(&pidfd);
}

static int wait_pidfd(int pidfd, uint64_t deadline) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        do {
                r = poll(&p, 1, poll_ms_until(deadline));
                if (r > 0)
                        return 0;
        } while ((r == 0 && now_usec(CLOCK_MONOTONIC) < deadline) || (r < 0 && errno == EINTR));
        return r < 0 ? -errno : -ETIMEDOUT;
}

static int verb_stop(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "timeout", required_argument, NULL, 't' },
                {}
        };
        _cleanup_close_ int dirfd = -1, pidfd = -1;
        uint64_t timeout = STOP_TIMEOUT_DEFAULT;
        app_status st;
        char tbuf[32];
        const char *app;
        pid_t pid = 0;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "ht:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help_stop(stdout);
                        return EXIT_SUCCESS;
                case 't':
                        if ((r = parse_duration_opt("timeout", optarg, false, &timeout)) != 0)
                                return r;
                        break;
                case '?':
                        return usage_fail("stop: option '%s' is not known or lacks its value", argv[optind - 1]);
                default:
                        return EXIT_SOFTWARE;
                }
        if (optind >= argc)
                return usage_fail("stop: missing NAME");
        app = argv[optind++];
        if (optind < argc)
                return usage_fail("stop: unexpected argument '%s'", argv[optind]);
        if (!app_name_is_valid(app))
                return usage_fail("invalid NAME '%s'", app);

        r = state_open(app, false, &dirfd);
        if (r < 0)
                return status_error(app, r);
        pidfd = supervisor_pidfd(dirfd, &pid);
        if (pidfd == -ESRCH) {
                log_error("the supervisor of %s runs in a pid namespace this emberctl cannot see into", app);
                return EXIT_NOPERM;
        }
        if (pidfd < 0)
                return status_error(app, pidfd);
        if (pidfd == 0) {
                r = app_status_read(dirfd, &st);
                if (r >= 0 && st.stale)
                        printf("%s is not running (its recorded state '%s' is stale: the supervisor is gone; the next "
                               "connection starts afresh).\n", app, state_label(&st));
                else
                        printf("%s is not running.\n", app);
                return EXIT_SUCCESS;
        }
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
                if (errno == ESRCH) {
                        printf("%s is not running (its supervisor just exited).\n", app);
                        return EXIT_SUCCESS;
                }
                log_error_errno(-errno, "cannot signal the supervisor of %s (pid %d)%s", app, (int) pid,
                                errno == EPERM ? "; run as root" : "");
                return errno == EPERM ? EXIT_NOPERM : EXIT_OSERR;
        }
        r = wait_pidfd(pidfd, deadline_in(timeout));
        if (r < 0) {
                format_duration(timeout, tbuf, sizeof(tbuf));
                log_error("%s did not stop within %s (supervisor pid %d)", app, tbuf, (int) pid);
                return EXIT_UNAVAILABLE;
        }
        r = app_status_read(dirfd, &st);
        if (r >= 0 && app_status_is_up(&st))
                printf("Stopped %s; a new connection has already woken it again (state %s).\n", app, state_label(&st));
        else
                printf("Stopped %s.\n", app);
        return EXIT_SUCCESS;
}

/* ---- main --------------------------------------------------------------------------------------------------- */

static void help(FILE *f) {
        fprintf(f,
                "Usage: emberctl COMMAND ...\n"
                "Socket-activated, scale-to-zero services on systemd.\n\n"
                "  new NAME --listen=ADDR --backend=ADDR [OPTIONS] -- COMMAND [ARG...]\n"
                "                          write NAME's systemd units (see 'emberctl new --help')\n"
                "  status [NAME] [--json]  show every app's state, or NAME's\n"
                "  stop NAME               stop NAME's backend now\n"
                "  help                    show this help\n\n"
                "  -h, --help              show this help\n"
                "      --version           show the version\n\n"
                "Exit status: 0 ok, 64 usage, 65 bad data, 69 no such app or not stopped in time, 71 system error,\n"
                "73 unit exists or unit directory unusable, 77 permission refused, 78 bad policy. See emberctl(1).\n");
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*fn)(int argc, char *argv[]);
        } verbs[] = {
                { "new", verb_new },
                { "status", verb_status },
                { "stop", verb_stop },
        };

        log_setup("emberctl", NULL);
        if (argc < 2) {
                help(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help(stdout);
                return EXIT_SUCCESS;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("emberctl " PACKAGE_VERSION "\n");
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].fn(argc - 1, argv + 1);
        return usage_fail("unknown command '%s'", argv[1]);
}
