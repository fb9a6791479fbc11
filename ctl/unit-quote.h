#pragma once
/* Values as systemd will read them back from a unit file. */
#include "buf.h"

/* A value for a unit setting that expands specifiers (%n, %i, ...): "%" is written "%%". */
int unit_escape_specifiers(buf *b, const char *s);
/* One word of an ExecStart= command line, quoted so that systemd passes exactly S in argv. */
int exec_quote(buf *b, const char *s);
/* " --NAME=VALUE" (no leading space into an empty buffer) as one quoted ExecStart= word. */
int exec_option(buf *b, const char *name, const char *value);
