#include <time.h>

#include "timeutil.h"

uint64_t now_usec(int clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000ULL;
}

uint64_t deadline_in(uint64_t delay) {
        if (delay == USEC_INFINITY)
                return USEC_INFINITY; /* and no clock read on the relay's hot path */
        return usec_add(now_usec(CLOCK_MONOTONIC), delay);
}

int poll_ms_until(uint64_t deadline) {
        uint64_t now;

        if (deadline == USEC_INFINITY)
                return -1;
        now = now_usec(CLOCK_MONOTONIC);
        return deadline <= now ? 0 : usec_to_poll_ms(deadline - now);
}
