#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void buf_done(buf *b) {
        free(b->data);
        *b = (buf){};
}

int buf_put(buf *b, const char *s, size_t n) {
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

int buf_puts(buf *b, const char *s) {
        return buf_put(b, s, strlen(s));
}

int buf_printf(buf *b, const char *fmt, ...) {
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

int buf_putc(buf *b, char c) {
        return buf_put(b, &c, 1);
}

bool utf8_is_valid(const char *s) {
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
