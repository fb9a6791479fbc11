#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "template.h"

#define TEMPLATE_MAX (256 * 1024)

void substs_free(subst *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(s[i].value);
}

const char *template_dir(void) {
        const char *e = getenv("EMBER_TEMPLATE_DIR");
        return e && *e ? e : PKGDATADIR "/templates";
}

int read_file_at(int dirfd, const char *name, char **ret) {
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
int render(const char *file, const char *text, const subst *substs, size_t n_substs, buf *out) {
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

int write_atomic(int dirfd, const char *name, const buf *content, bool replace) {
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

int set_subst(subst *s, const char *key, const char *value) {
        s->key = key;
        s->value = strdup(value);
        return s->value ? 0 : -ENOMEM;
}

int set_subst_buf(subst *s, const char *key, buf *b) {
        s->key = key;
        s->value = b->data ? b->data : strdup("");
        *b = (buf){};
        return s->value ? 0 : -ENOMEM;
}
