#pragma once
/* The unit templates: reading them, replacing @KEY@ placeholders, writing the result atomically. */
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct subst {
        const char *key;
        char *value; /* already escaped for where the templates use it */
} subst;

void substs_free(subst *s, size_t n);
int set_subst(subst *s, const char *key, const char *value);
/* Takes over B's text (B is left empty). */
int set_subst_buf(subst *s, const char *key, buf *b);

/* $EMBER_TEMPLATE_DIR, or the installed templates. */
const char *template_dir(void);
/* A regular file of at most 256 KiB without NUL bytes; -EBADFD, -EFBIG, -EBADMSG otherwise. */
int read_file_at(int dirfd, const char *name, char **ret);
/* Replaces each @KEY@ by its value; an unknown KEY is logged as FILE:LINE and gives -EBADMSG. */
int render(const char *file, const char *text, const subst *substs, size_t n_substs, buf *out);
/* Writes CONTENT to a temporary file, fsyncs it and renames it to NAME (never over an existing one unless REPLACE). */
int write_atomic(int dirfd, const char *name, const buf *content, bool replace);
