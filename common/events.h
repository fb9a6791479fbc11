#pragma once
/* Every lifecycle event ember logs (EMBER_EVENT=NAME) has a fixed MESSAGE_ID, explained by the message catalog
 * catalog/ember.catalog (installed for journalctl -x). tests/unit/test-events checks the two agree. */
#include <stddef.h>

typedef struct ember_event {
        const char *name;
        const char *message_id; /* 32 lowercase hex digits */
} ember_event;

extern const ember_event ember_events[];
extern const size_t ember_events_n;

/* "MESSAGE_ID=…" for EVENT, NULL for an event without one. */
const char *event_message_id_field(const char *event);
