/* Why an app's last start failed: the supervisor's record of the run and the backend's own last words. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "ctl.h"
#include "failure.h"
#include "macro.h"
#include "parse.h"
#include "state.h"

#define OUTPUT_LINES_MAX 20
#define OUTPUT_LINE_MAX 300
#define FAILURE_LINES_DEFAULT 5
#define OUTPUT_LATE_USEC (250 * 1000) /* a line written just before the end reaches the journal after it */

void last_failure_summary(const last_failure *f, char *out, size_t size) {
        snprintf(out, size, "%s%s%s", f->event, f->reason[0] ? ": " : "", f->reason);
}

/* One journal entry's MESSAGE, cut at OUTPUT_LINE_MAX and at control characters: the backend wrote it. */
static void message_of(sd_journal *j, char *out, size_t size) {
        const void *data;
        size_t len;

        out[0] = '\0';
        if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < strlen("MESSAGE="))
                return;
        len -= strlen("MESSAGE=");
        if (len >= size)
                len = size - 1;
        memcpy(out, (const char *) data + strlen("MESSAGE="), len);
        out[len] = '\0';
        for (char *c = out; *c; c++)
                if ((unsigned char) *c < ' ' && *c != '\t')
                        *c = '?';
}

/* The last LINES lines the failed run's backend wrote: its stdout and stderr (the journal's "stdout" transport of its
 * unit, of whichever process wrote them) from the run's start to a moment after it failed (journald stamps a line
 * when it reads it). The number found, or -errno where the journal cannot be read (not root, nor in the group
 * systemd-journal or adm). */
static int backend_output(const char *app, const last_failure *f, unsigned lines, char out[][OUTPUT_LINE_MAX]) {
        char unit[APP_NAME_MAX + 64];
        sd_journal *j = NULL;
        uint64_t t;
        int r, n = 0;

        snprintf(unit, sizeof(unit), "_SYSTEMD_UNIT=%s-backend.service", app);
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        if ((r = sd_journal_add_match(j, unit, 0)) >= 0)
                r = sd_journal_add_match(j, "_TRANSPORT=stdout", 0);
        if (r >= 0)
                r = sd_journal_seek_realtime_usec(j, f->at_usec + OUTPUT_LATE_USEC);
        while (r >= 0 && (unsigned) n < lines && (r = sd_journal_previous(j)) > 0) {
                if (sd_journal_get_realtime_usec(j, &t) < 0 || t > f->at_usec + OUTPUT_LATE_USEC)
                        continue;
                if (t < f->started_usec)
                        break;
                message_of(j, out[n++], OUTPUT_LINE_MAX);
        }
        sd_journal_close(j);
        return r < 0 ? r : n;
}

/* One field of the current journal entry, "" if it has none. */
static void field_of(sd_journal *j, const char *field, char *out, size_t size) {
        const void *data;
        size_t len, flen = strlen(field) + 1;

        out[0] = '\0';
        if (sd_journal_get_data(j, field, &data, &len) < 0 || len < flen)
                return;
        snprintf(out, size, "%.*s", (int) (len - flen), (const char *) data + flen);
}

/* What systemd logged about UNIT (UNIT=, from PID 1 and from the unit's process before it ran ExecStart=) up to its
 * main process's failed end, the last LINES of it: why it could not start it. */
/* The system journal, at the end of UNIT's entries (UNIT=: PID 1's about it, and its processes' before ExecStart=). */
static int unit_journal_tail(const char *unit, sd_journal **ret) {
        char match[APP_NAME_MAX + 64];
        int r;

        snprintf(match, sizeof(match), "UNIT=%s", unit);
        r = sd_journal_open(ret, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        r = sd_journal_add_match(*ret, match, 0);
        if (r >= 0)
                r = sd_journal_seek_tail(*ret);
        if (r < 0) {
                sd_journal_close(*ret);
                *ret = NULL;
        }
        return r;
}

static int systemd_lines(const char *unit, unsigned lines, char out[][OUTPUT_LINE_MAX]) {
        char st[32];
        sd_journal *j = NULL;
        bool at_end = false;
        int r = unit_journal_tail(unit, &j), n = 0;

        if (r < 0)
                return r;
        while (r >= 0 && (unsigned) n < lines && (r = sd_journal_previous(j)) > 0) {
                if (!at_end) {
                        field_of(j, "EXIT_STATUS", st, sizeof(st));
                        at_end = st[0] != '\0';
                }
                if (at_end)
                        message_of(j, out[n++], OUTPUT_LINE_MAX);
        }
        sd_journal_close(j);
        return r < 0 ? r : n;
}

static void print_lines(FILE *o, const char *what, int n, char out[][OUTPUT_LINE_MAX]) {
        if (n < 0)
                fprintf(o, "%s in the journal, which cannot be read here (%s): run as root, or in the group "
                        "systemd-journal.\n", what, strerror(-n));
        else if (n == 0)
                fprintf(o, "%s: none in the journal.\n", what);
        else {
                fprintf(o, "%s:\n", what);
                for (int i = n - 1; i >= 0; i--)
                        fprintf(o, "  %s\n", out[i]);
        }
}

/* systemd's exit statuses for what failed before ExecStart= ran (systemd.exec(5), "Process Exit Codes"). */
static const char *exec_status_hint(int status) {
        switch (status) {
        case 200: return "CHDIR: the working directory cannot be entered";
        case 203: return "EXEC: ember-sandbox could not be executed";
        case 217: return "USER: the unit's user could not be had";
        case 226: return "NAMESPACE: the unit's sandbox could not be set up (a --rw-path= that does not exist?)";
        case 238: return "STATE_DIRECTORY: the state directory could not be made";
        default: return NULL;
        }
}

/* Whether UNIT's last start failed before it ran, as systemd logged it: walking back through its entries (UNIT=), a
 * main process that ended badly (EXIT_CODE=, EXIT_STATUS=: systemd logs only those) comes before any success ("Started",
 * "Deactivated successfully"). Its exit code and status in CODE and STATUS. */
static int unit_start_failed(const char *unit, char *code, size_t size, int *status) {
        static const char *const success_ids[] = {
                "39f53479d3a045ac8e11786248231fbf", /* SD_MESSAGE_UNIT_STARTED */
                "7ad2d189f7e94e70a38c781354912448", /* SD_MESSAGE_UNIT_SUCCESS */
        };
        char id[64], st[32];
        sd_journal *j = NULL;
        int r = unit_journal_tail(unit, &j), seen = 0;

        if (r < 0)
                return r;
        for (; r >= 0 && seen < 1000 && (r = sd_journal_previous(j)) > 0; seen++) {
                field_of(j, "EXIT_CODE", code, size);
                field_of(j, "EXIT_STATUS", st, sizeof(st));
                if (code[0] && st[0]) {
                        *status = atoi(st);
                        break;
                }
                field_of(j, "MESSAGE_ID", id, sizeof(id));
                if (strcmp(id, success_ids[0]) == 0 || strcmp(id, success_ids[1]) == 0) {
                        r = 0;
                        break;
                }
        }
        sd_journal_close(j);
        return r;
}

bool unit_failure(const char *app) {
        char unit[APP_NAME_MAX + 32], code[32];
        int status = 0;

        snprintf(unit, sizeof(unit), "%s-backend.service", app);
        return unit_start_failed(unit, code, sizeof(code), &status) > 0;
}

bool unit_failure_print(FILE *o, const char *app) {
        char unit[APP_NAME_MAX + 32], code[32], out[OUTPUT_LINES_MAX][OUTPUT_LINE_MAX];
        const char *hint;
        int status = 0, n;

        snprintf(unit, sizeof(unit), "%s-backend.service", app);
        if (unit_start_failed(unit, code, sizeof(code), &status) <= 0)
                return false;
        hint = strcmp(code, "exited") == 0 ? exec_status_hint(status) : NULL;
        fprintf(o, "\nThe last start failed: systemd could not start %s (its main process %s, status %d%s%s)\n",
                unit, code, status, hint ? "/" : "", hint ? hint : "");
        n = systemd_lines(unit, FAILURE_LINES_DEFAULT, out);
        print_lines(o, "systemd's last lines about it", n, out);
        fprintf(o, "Next: emberctl logs %s (the whole story); fix the cause, and the next connection starts it "
                "again.\n", app);
        return true;
}

void last_failure_print(FILE *o, const char *app, const last_failure *f, unsigned lines, uint64_t now) {
        char out[OUTPUT_LINES_MAX][OUTPUT_LINE_MAX], age[32], what[600];
        int n;

        if (lines > OUTPUT_LINES_MAX)
                lines = OUTPUT_LINES_MAX;
        format_age(now > f->at_usec / 1000000 ? now - f->at_usec / 1000000 : 0, age, sizeof(age));
        last_failure_summary(f, what, sizeof(what));
        fprintf(o, "\nThe last start failed %s ago: %s\n", age, what);
        n = backend_output(app, f, lines, out);
        if (n < 0)
                fprintf(o, "Its output is in the journal, which cannot be read here (%s): run as root, or in the "
                        "group systemd-journal.\n", strerror(-n));
        else if (n == 0)
                fprintf(o, "The backend wrote nothing to the journal in that run.\n");
        else {
                fprintf(o, "Its last %s of output:\n", n == 1 ? "line" : "lines");
                for (int i = n - 1; i >= 0; i--)
                        fprintf(o, "  %s\n", out[i]);
        }
        fprintf(o, "Next: emberctl logs %s (the whole story); fix the cause, and the next connection starts it "
                "again.\n", app);
}
