#pragma once
/* Time done once: microseconds on CLOCK_MONOTONIC for every deadline, USEC_INFINITY ("infinity") for never. */
#include <limits.h>
#include <stdint.h>

#include "parse.h"

uint64_t now_usec(int clock);

/* a + b, saturating at USEC_INFINITY: a deadline of now + infinity is never, not a wrapped past. */
static inline uint64_t usec_add(uint64_t a, uint64_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

/* A monotonic deadline DELAY from now; USEC_INFINITY stays infinity. */
uint64_t deadline_in(uint64_t delay);

/* poll()'s timeout for a wait of USEC: rounded up to whole milliseconds (never an early wake that spins),
 * clamped to INT_MAX, and -1 (forever) for USEC_INFINITY. */
static inline int usec_to_poll_ms(uint64_t usec) {
        if (usec == USEC_INFINITY)
                return -1;
        uint64_t ms = usec / USEC_PER_MSEC + (usec % USEC_PER_MSEC != 0);
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* poll()'s timeout until DEADLINE (CLOCK_MONOTONIC): 0 once it has passed, -1 for USEC_INFINITY. */
int poll_ms_until(uint64_t deadline);
