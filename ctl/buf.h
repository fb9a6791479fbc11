#pragma once
/* A growing string buffer for rendering unit files, and a UTF-8 check (unit files must be UTF-8). */
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct buf {
        char *data;
        size_t len, size;
} buf;

void buf_done(buf *b);
int buf_put(buf *b, const char *s, size_t n);
int buf_puts(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) _printf_(2, 3);
int buf_putc(buf *b, char c);
bool utf8_is_valid(const char *s);
