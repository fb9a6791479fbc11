/* A tiny TAP producer for ember's C tests (run through automake's tap-driver). Every check reads as the shell
 * layers' (tests/lib/tap.sh) do: what it asserts first, then what was got, then what was wanted.
 *
 *   plan(3);                       or no plan() at all: done() prints "1..N" at the end
 *   ok("x is positive", x > 0);
 *   is_int(tap_fmt("parse_addr(\"%s\") fails", s), r, -EINVAL);
 *   is_str("state reads back", buf, "warm");
 *   skip(2, "not root");
 *   return done();
 *
 * Every check prints exactly one "ok N - ..." or "not ok N - ..." line; failures add "# got/expected" diagnostics.
 * done() returns the exit status: 0 once the plan was met, even with "not ok" lines (those are counted by the TAP
 * driver; a non-zero status would add a second, ERROR result for the same failure), 1 if the plan was not met. */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

static inline void plan(int n) {
        tap_planned = n;
        printf("1..%d\n", n);
        fflush(stdout);
}

static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...) {
        va_list ap;

        fflush(stdout);
        printf("# ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

/* A description with printf arguments, for the checks below: tap_fmt("parse_addr(\"%s\") fails", s). Its result
 * lives until four more are made, long enough for the one check it describes. */
static inline const char *tap_fmt(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline const char *tap_fmt(const char *fmt, ...) {
        static char bufs[4][1024];
        static unsigned k;
        char *b = bufs[k++ % 4];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(b, sizeof(bufs[0]), fmt, ap);
        va_end(ap);
        return b;
}

static inline bool tap_ok(const char *desc, bool cond) {
        tap_run++;
        if (!cond)
                tap_failed++;
        printf("%sok %d - %s\n", cond ? "" : "not ", tap_run, desc);
        fflush(stdout);
        return cond;
}

static inline bool ok(const char *desc, bool cond) {
        return tap_ok(desc, cond);
}

static inline bool is_int(const char *desc, long long got, long long expected) {
        bool r = tap_ok(desc, got == expected);

        if (!r)
                diag("     got: %lld\n#     expected: %lld", got, expected);
        return r;
}

static inline bool is_u64(const char *desc, uint64_t got, uint64_t expected) {
        bool r = tap_ok(desc, got == expected);

        if (!r)
                diag("     got: %" PRIu64 "\n#     expected: %" PRIu64, got, expected);
        return r;
}

static inline bool is_str(const char *desc, const char *got, const char *expected) {
        bool r = tap_ok(desc, got && expected ? strcmp(got, expected) == 0 : got == expected);

        if (!r)
                diag("     got: %s%s%s\n#     expected: %s%s%s", got ? "'" : "", got ? got : "(null)", got ? "'" : "",
                     expected ? "'" : "", expected ? expected : "(null)", expected ? "'" : "");
        return r;
}

/* Records n checks as skipped, with the reason. */
static inline void skip(int n, const char *reason) {
        for (int i = 0; i < n; i++) {
                tap_run++;
                printf("ok %d # SKIP %s\n", tap_run, reason);
        }
        fflush(stdout);
}

static inline void bail_out(const char *reason) {
        printf("Bail out! %s\n", reason);
        fflush(stdout);
        exit(99);
}

/* Printable form of s for descriptions: control and non-ASCII bytes as \xNN; NULL as (null). Up to 4 results
 * may be used in one call (rotating static buffers). */
static inline const char *tap_esc(const char *s) {
        static char bufs[4][512];
        static unsigned k;
        char *b = bufs[k++ % 4], *p = b;

        if (!s)
                return "(null)";
        for (; *s && p < b + sizeof(bufs[0]) - 5; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c >= 0x7f || c == '#')
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        *p = '\0';
        return b;
}

#define ELEMENTS(x) (sizeof(x) / sizeof((x)[0]))

static inline int done(void) {
        if (tap_planned < 0)
                printf("1..%d\n", tap_run);
        else if (tap_run != tap_planned)
                diag("planned %d checks but ran %d", tap_planned, tap_run);
        fflush(stdout);
        if (tap_failed > 0)
                diag("%d of %d checks failed", tap_failed, tap_run);
        return tap_planned < 0 || tap_run == tap_planned ? 0 : 1;
}
