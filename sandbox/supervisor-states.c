/* The supervisor's states (supervisor.h's supervisor_state, drawn in doc/ARCHITECTURE.md): entered here only, so
 * that the generation's role, which launchers and emberctl see through the state directory, always follows. */
#include <stdbool.h>

#include "supervisor.h"

static generation_role role_of(supervisor_state state) {
        switch (state) {
        case SUP_UPGRADING:
        case SUP_UPGRADE_STALLED:
                return ROLE_PENDING;
        case SUP_DRAINING:
                return ROLE_DRAINING;
        case SUP_STARTING:
        case SUP_AWAITING_PREVIOUS:
        case SUP_WARM:
        case SUP_FROZEN:
        default:
                return ROLE_SERVING;
        }
}

void enter_state(supervisor *s, supervisor_state state) {
        s->state = state;
        s->role = role_of(state);
}

bool supervisor_ready(const supervisor *s) {
        return s->state == SUP_WARM || s->state == SUP_FROZEN || s->state == SUP_DRAINING ||
               s->state == SUP_UPGRADE_STALLED;
}
