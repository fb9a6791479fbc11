#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Logging for all ember programs. Under systemd (JOURNAL_STREAM set, or EMBER_LOG=journal) each line goes to the
 * journal as one structured entry through the native protocol, so the warm path needs no libsystemd; otherwise to
 * stderr. */
void log_setup(const char *ident, const char *app);
/* After closing every fd (a daemon's fork): the journal socket again. */
void log_reopen(void);
/* One more field on every entry from now on ("EMBER_GENERATION=7"); copied. */
void log_set_field(const char *field);
/* Extra structured fields (e.g. "EMBER_EVENT=ready", "EMBER_READY_MS=12"), NULL-terminated. */
int log_fullv(int priority, int error, const char *const *fields, const char *fmt, va_list ap) _printf_(4, 0);
int log_full(int priority, int error, const char *const *fields, const char *fmt, ...) _printf_(4, 5);
#define log_error_errno(e, ...) log_full(LOG_ERR, (e), NULL, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full(LOG_WARNING, (e), NULL, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, 0, NULL, __VA_ARGS__)
/* A lifecycle event: log_event(LOG_INFO, FIELDS("EMBER_EVENT=ready", ms), "…", …) */
#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define log_event(prio, fields, ...) log_full((prio), 0, (fields), __VA_ARGS__)
bool log_to_journal(void);
