/* Every lifecycle event has a well-formed, unique MESSAGE_ID and an entry in catalog/ember.catalog; every entry
 * in the catalog belongs to an event; every EMBER_EVENT= the programs log is one of them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "macro.h"
#include "tap.h"

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        char *data = NULL;
        size_t size = 0;

        if (!f || getdelim(&data, &size, '\0', f) < 0)
                bail_out("cannot read a source file");
        fclose(f);
        return data;
}

static bool is_id(const char *s) {
        for (int i = 0; i < 32; i++)
                if (!isxdigit((unsigned char) s[i]) || isupper((unsigned char) s[i]))
                        return false;
        return s[32] == '\0';
}

/* Every event name FILE logs ("EMBER_EVENT=NAME", or a literal passed to the supervisor's run-end helpers) is a
 * known event. */
static void check_source(const char *top, const char *file) {
        static const char *const patterns[] = { "\"EMBER_EVENT=", "log_run_end(s, \"", "stop_locked(s, \"" };
        char path[4096];
        _cleanup_free_ char *text = NULL;
        bool all_known = true;
        unsigned seen = 0;

        snprintf(path, sizeof(path), "%s/%s", top, file);
        text = slurp(path);
        for (size_t k = 0; k < ELEMENTSOF(patterns); k++)
                for (const char *p = text; (p = strstr(p, patterns[k])); p++) {
                        const char *name = p + strlen(patterns[k]);
                        size_t n = strcspn(name, "\"");
                        char ev[64];

                        if (n == 0 || n >= sizeof(ev) || name[n] != '"' || name[0] == '%')
                                continue; /* "EMBER_EVENT=%s": its names are the literals the helpers get */
                        memcpy(ev, name, n);
                        ev[n] = '\0';
                        seen++;
                        if (!event_message_id_field(ev)) {
                                diag("%s: event %s has no MESSAGE_ID", file, ev);
                                all_known = false;
                        }
                }
        ok(tap_fmt("every event %s logs (%u) has a MESSAGE_ID", file, seen), all_known && seen > 0);
}

int main(void) {
        const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
        char path[4096];
        _cleanup_free_ char *catalog = NULL;
        unsigned entries = 0;

        snprintf(path, sizeof(path), "%s/catalog/ember.catalog", top);
        catalog = slurp(path);

        for (size_t i = 0; i < ember_events_n; i++) {
                char needle[64];
                const char *entry;

                ok(tap_fmt("%s: MESSAGE_ID is 32 lowercase hex digits", ember_events[i].name),
                   is_id(ember_events[i].message_id));
                for (size_t j = 0; j < i; j++)
                        if (strcmp(ember_events[i].message_id, ember_events[j].message_id) == 0)
                                ok(tap_fmt("%s and %s share a MESSAGE_ID", ember_events[i].name, ember_events[j].name),
                                   false);
                snprintf(needle, sizeof(needle), "\n-- %s\n", ember_events[i].message_id);
                entry = strstr(catalog, needle);
                ok(tap_fmt("%s: the catalog has an entry with a Subject", ember_events[i].name),
                   entry && strstr(entry + strlen(needle), "Subject: ") == entry + strlen(needle));
        }
        for (const char *p = catalog; (p = strstr(p, "\n-- ")); p++)
                entries++;
        is_int("the catalog has one entry per event, no more", entries, (long long) ember_events_n);
        is_str("an unknown event has no MESSAGE_ID", event_message_id_field("no-such-event") ? "id" : "none", "none");

        check_source(top, "sandbox/ember-sandbox.c");
        check_source(top, "launcher/session.c");
        check_source(top, "common/protocol.c");
        return done();
}
