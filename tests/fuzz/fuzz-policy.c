/* libFuzzer target: the .policy parser and compiler on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int policy_parse_string(const char *text, const char *filename, ember_policy **ret, char **ret_error);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ember_policy *p = NULL;
        char *error = NULL, *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (policy_parse_string(s, "fuzz.policy", &p, &error) < 0) {
                if (!error || strncmp(error, "fuzz.policy:", 12) != 0)
                        abort(); /* every refusal says FILE:LINE */
        } else
                policy_free(p);
        free(error);
        free(s);
        return 0;
}
