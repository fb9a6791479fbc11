/* libFuzzer target: the PROXY protocol parser on arbitrary bytes, as the launcher meets them from a client. The
 * input is all that has arrived: the parser must not read past it (ASan), must say "read more" only below the
 * longest header, must find a header it accepted in its own bytes again, and what it accepted must re-encode and
 * parse back to the same addresses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static void same_header(const proxy_header *a, const proxy_header *b) {
        if (a->version != b->version || a->local != b->local || a->family != b->family || a->src_len != b->src_len ||
            a->dst_len != b->dst_len || memcmp(&a->src, &b->src, a->src_len) != 0 ||
            memcmp(&a->dst, &b->dst, a->dst_len) != 0)
                abort();
}

/* Re-encoded in VERSION, the header parses back with the same addresses, or as local where VERSION cannot carry
 * them (v1 and AF_UNIX). */
static void round_trip(const proxy_header *h, int version) {
        uint8_t buf[PROXY_HEADER_MAX];
        proxy_header back;
        int n, r;

        n = proxy_encode(h, version, buf, sizeof(buf));
        if (n <= 0)
                abort();
        r = proxy_parse(buf, (size_t) n, &back, NULL);
        if (r != n || back.version != version)
                abort();
        if (h->local || h->family == AF_UNSPEC || (version == 1 && h->family == AF_UNIX)) {
                if (back.src_len != 0 || back.dst_len != 0)
                        abort();
                return;
        }
        back.version = h->version;
        same_header(h, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char source[4 * 108 + 2];
        const char *why = NULL;
        proxy_header h, again;
        int r;

        r = proxy_parse(data, size, &h, &why);
        if (r < 0) {
                if (r != -EBADMSG || !why || !why[0])
                        abort();
                return 0;
        }
        if (r == 0) {
                if (size >= PROXY_HEADER_MAX)
                        abort();
                return 0;
        }
        if ((size_t) r > size || r > PROXY_HEADER_MAX)
                abort();
        /* the header alone is the same header; any less of it asks for more */
        if (proxy_parse(data, (size_t) r, &again, NULL) != r)
                abort();
        same_header(&h, &again);
        for (int k = 0; k < r; k++)
                if (proxy_parse(data, (size_t) k, &again, NULL) != 0)
                        abort();
        round_trip(&h, 1);
        round_trip(&h, 2);
        r = proxy_format_source(&h, source, sizeof(source));
        if (r < 0 || (size_t) r != strlen(source))
                abort();
        return 0;
}
