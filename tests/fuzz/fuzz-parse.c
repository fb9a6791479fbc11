/* libFuzzer target: every command-line parser (ADDR, DUR, NAME, decimal) on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        char buf[128];
        ember_addr a;
        uint64_t u;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (parse_addr(s, &a) >= 0 && format_addr(&a, buf, sizeof(buf)) >= 0) {
                ember_addr b;
                /* what we print, we parse back to the same address */
                if (a.sa.sa_family != AF_UNIX && (parse_addr(buf, &b) < 0 || b.len != a.len || memcmp(&a.sa, &b.sa, a.len) != 0))
                        abort();
        }
        (void) parse_duration(s, &u);
        (void) app_name_is_valid(s);
        (void) parse_uint64(s, &u);
        free(s);
        return 0;
}
