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
#define OUTPUT_LATE_USEC (250 * 1000) /* a line written just before the end reaches the journal after it */

int last_failure_read(int dirfd, last_failure *f) {
        char line[STATE_KV_MAX];
        int n = 0, r;

        *f = (last_failure){};
        r = state_kv_read(dirfd, STATE_LAST_FAILURE, line, sizeof(line));
        if (r < 0)
                return r;
        if (!line[0])
                return -ENOENT;
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %47s %n", &f->at_usec, &f->started_usec, f->event, &n) < 3 || n == 0)
                return -EBADMSG;
        snprintf(f->reason, sizeof(f->reason), "%s", line + n);
        return 0;
}

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
