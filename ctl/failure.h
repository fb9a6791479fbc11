#pragma once
/* The last failed backend run of an app, as its supervisor recorded it (ember-state(7), last-failure), and the
 * backend's last lines of output from the journal: for emberctl status and list. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol.h" /* last_failure, last_failure_read() */

/* "crash: exited with status 1" */
void last_failure_summary(const last_failure *f, char *out, size_t size);
/* The failure, up to LINES lines the backend wrote in that run, and what to run next. */
void last_failure_print(FILE *out, const char *app, const last_failure *f, unsigned lines, uint64_t now);
/* Where ember-sandbox never ran (systemd could not set up the backend unit: its namespace, working directory, user)
 * there is no record of the supervisor's, but systemd's in the journal: whether NAME-backend.service's last start
 * failed so; and the same saying how, with systemd's last lines about it. */
bool unit_failure(const char *app);
bool unit_failure_print(FILE *out, const char *app);
