#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "unit-quote.h"

/* A value for a unit setting that expands specifiers (%n, %i, ...): "%" must be written "%%". */
int unit_escape_specifiers(buf *b, const char *s) {
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
int exec_quote(buf *b, const char *s) {
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
int exec_option(buf *b, const char *name, const char *value) {
        _cleanup_free_ char *word = NULL;
        int r;

        if (asprintf(&word, "--%s=%s", name, value) < 0)
                return -ENOMEM;
        if (b->len > 0 && (r = buf_putc(b, ' ')) < 0)
                return r;
        return exec_quote(b, word);
}
