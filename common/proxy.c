#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "macro.h"
#include "proxy.h"

#define V1_SIG "PROXY "
#define V1_SIG_LEN (sizeof(V1_SIG) - 1)
#define V1_CR_MAX (PROXY_V1_MAX - 2) /* the last index the CR of a line that fits can have */
#define V2_HEADER 16
#define V2_UNIX_PATH 108
#define SHOWN 48 /* client bytes quoted in a message, at most */

enum { V2_LOCAL = 0x0, V2_PROXY = 0x1 };

static const uint8_t v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

_Static_assert(sizeof(((struct sockaddr_un *) 0)->sun_path) == V2_UNIX_PATH, "v2 carries sun_path whole");

typedef union sockaddr_union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
} sockaddr_union;

static _Thread_local char why_buf[192];

static inline size_t min_size(size_t a, size_t b) {
        return a < b ? a : b;
}

static int fail(const char **why, const char *fmt, ...) _printf_(2, 3);
static int fail(const char **why, const char *fmt, ...) {
        va_list ap;

        if (why) {
                va_start(ap, fmt);
                vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
                va_end(ap);
                *why = why_buf;
        }
        return -EBADMSG;
}

static const struct {
        const char *name;
        int family;
} v1_protos[] = {
        { "TCP4", AF_INET },
        { "TCP6", AF_INET6 },
        { "UNKNOWN", AF_UNSPEC },
};

enum { V1_PROTO, V1_SRC, V1_DST, V1_SPORT, V1_DPORT, V1_FIELDS };

/* The protocol's index in v1_protos; a cut-short one only needs to begin one of them. */
static int v1_proto(const char *s, size_t n, bool whole) {
        for (size_t i = 0; i < ELEMENTSOF(v1_protos); i++) {
                size_t l = strlen(v1_protos[i].name);
                if ((whole ? n == l : n <= l) && memcmp(s, v1_protos[i].name, n) == 0)
                        return (int) i;
        }
        return -EBADMSG;
}

/* A cut-short address is fine while some completion of it parses. These suffixes complete every proper prefix of a
 * dotted quad or of an IPv6 address: a missing group, "::", or the rest of a (possibly embedded) dotted quad. */
static bool v1_addr(int family, const char *s, size_t n, bool whole, void *ret) {
        static const char *const completions[] = {
                "", "0", ":", "::", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0",
        };
        char text[INET6_ADDRSTRLEN + 8];
        struct in6_addr a;

        if (n >= INET6_ADDRSTRLEN)
                return false;
        memcpy(text, s, n);
        for (size_t i = 0; i < (whole ? 1 : ELEMENTSOF(completions)); i++) {
                memcpy(text + n, completions[i], strlen(completions[i]) + 1);
                if (inet_pton(family, text, &a) == 1) {
                        memcpy(ret, &a, family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr));
                        return true;
                }
        }
        return false;
}

/* Decimal 0-65535 without heading zeroes. Every prefix of such a port is one too: a cut-short port checks the same. */
static bool v1_port(const char *s, size_t n, uint16_t *ret) {
        unsigned v = 0;

        if (n > 5 || (n > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = (uint16_t) v;
        return v <= 65535;
}

static void set_inet(struct sockaddr_storage *ss, socklen_t *len, int family, const void *addr) {
        sockaddr_union *u = (sockaddr_union *) ss;

        if (family == AF_INET) {
                u->in.sin_family = AF_INET;
                memcpy(&u->in.sin_addr, addr, sizeof(u->in.sin_addr));
                *len = sizeof(u->in);
        } else {
                u->in6.sin6_family = AF_INET6;
                memcpy(&u->in6.sin6_addr, addr, sizeof(u->in6.sin6_addr));
                *len = sizeof(u->in6);
        }
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
        sockaddr_union *u = (sockaddr_union *) ss;

        if (u->sa.sa_family == AF_INET)
                u->in.sin_port = htons(port);
        else
                u->in6.sin6_port = htons(port);
}

/* LINE (LEN bytes, printable ASCII) is what follows "PROXY ": up to the CRLF if COMPLETE, else all that has arrived,
 * its last field possibly cut short. */
static int v1_fields(const char *line, size_t len, bool complete, proxy_header *h, const char **why) {
        const char *p = line, *end = line + len, *proto = NULL;
        unsigned char addr[sizeof(struct in6_addr)];
        uint16_t port;
        int i;

        for (int f = 0; f < V1_FIELDS; f++) {
                const char *sp = memchr(p, ' ', (size_t) (end - p));
                size_t n = (size_t) ((sp ? sp : end) - p);
                bool whole = sp || complete;
                int shown = (int) min_size(n, SHOWN);

                if (whole && n == 0)
                        return fail(why, "v1 line has an empty field (two spaces, or one before the CRLF)");
                switch (f) {
                case V1_PROTO:
                        i = v1_proto(p, n, whole);
                        if (i < 0)
                                return fail(why, "v1 protocol '%.*s' is not TCP4, TCP6 or UNKNOWN", shown, p);
                        proto = v1_protos[i].name;
                        h->family = v1_protos[i].family;
                        /* the spec has receivers ignore whatever follows UNKNOWN */
                        if (whole && h->family == AF_UNSPEC) {
                                h->local = true;
                                return 0;
                        }
                        break;
                case V1_SRC:
                case V1_DST:
                        if (!v1_addr(h->family, p, n, whole, addr))
                                return fail(why, "%s address '%.*s' is not %s", proto, shown, p,
                                            h->family == AF_INET ? "IPv4" : "IPv6");
                        if (whole && f == V1_SRC)
                                set_inet(&h->src, &h->src_len, h->family, addr);
                        else if (whole)
                                set_inet(&h->dst, &h->dst_len, h->family, addr);
                        break;
                default:
                        if (!v1_port(p, n, &port))
                                return fail(why, "%s port '%.*s' is not 0-65535 without heading zeroes", proto, shown, p);
                        set_port(f == V1_SPORT ? &h->src : &h->dst, port);
                        break;
                }
                if (!whole)
                        return 0;
                if (!sp)
                        return f == V1_DPORT ? 0 : fail(why, "%s line ends after %d of its 5 fields", proto, f + 1);
                p = sp + 1;
        }
        return fail(why, "%s line goes on after its 5 fields", proto);
}

static int parse_v1(const uint8_t *buf, size_t n, proxy_header *ret, const char **why) {
        proxy_header h = { .version = 1 };
        size_t end = min_size(n, V1_CR_MAX + 1), cr;
        bool complete;
        int r;

        if (memcmp(buf, V1_SIG, min_size(n, V1_SIG_LEN)) != 0)
                return fail(why, "no PROXY signature");
        if (n < V1_SIG_LEN)
                return 0;
        for (cr = V1_SIG_LEN; cr < end && buf[cr] != '\r'; cr++) {
                if (buf[cr] == '\n')
                        return fail(why, "v1 line ends in LF without CR");
                if (buf[cr] < 0x20 || buf[cr] > 0x7e)
                        return fail(why, "v1 line has byte 0x%02x, which is not printable ASCII", buf[cr]);
        }
        complete = cr < end;
        r = v1_fields((const char *) buf + V1_SIG_LEN, cr - V1_SIG_LEN, complete, &h, why);
        if (r < 0)
                return r;
        if (!complete && n > V1_CR_MAX)
                return fail(why, "v1 line longer than %d bytes", PROXY_V1_MAX);
        if (!complete || cr + 1 == n)
                return 0;
        if (buf[cr + 1] != '\n')
                return fail(why, "v1 line has CR without LF");
        *ret = h;
        return (int) cr + 2;
}

/* The v2 byte of family and transport for each family we carry (only streams: that is what the launcher relays),
 * and the length of its addresses. */
static const struct {
        uint8_t fam;
        int family;
        size_t len;
} v2_families[] = {
        { 0x00, AF_UNSPEC, 0 },
        { 0x11, AF_INET, 2 * 4 + 2 * 2 },
        { 0x21, AF_INET6, 2 * 16 + 2 * 2 },
        { 0x31, AF_UNIX, 2 * V2_UNIX_PATH },
};

static int v2_family(uint8_t fam, int *family, size_t *need, const char **why) {
        for (size_t i = 0; i < ELEMENTSOF(v2_families); i++)
                if (v2_families[i].fam == fam) {
                        *family = v2_families[i].family;
                        *need = v2_families[i].len;
                        return 0;
                }
        if ((fam >> 4) >= 1 && (fam >> 4) <= 3 && (fam & 0xf) == 2)
                return fail(why, "v2 transport DGRAM (0x%02x): only streams are relayed", fam);
        return fail(why, "v2 family and transport 0x%02x are not valid", fam);
}

static const char *v2_family_name(int family) {
        return family == AF_INET ? "TCP4" : family == AF_INET6 ? "TCP6" : "UNIX";
}

/* v2 sends sun_path whole: a path ends at its NUL, an abstract name (leading NUL) at its last non-NUL byte, and
 * all NULs is an unnamed socket. */
static socklen_t unix_from_v2(const uint8_t *p, struct sockaddr_un *un) {
        size_t n;

        if (p[0] != 0) {
                n = strnlen((const char *) p, V2_UNIX_PATH);
                n += n < V2_UNIX_PATH; /* the NUL, as getpeername() counts it */
        } else
                for (n = V2_UNIX_PATH; n > 0 && p[n - 1] == 0; n--)
                        ;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, p, n);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
}

static void v2_addresses(const uint8_t *a, proxy_header *h) {
        sockaddr_union *src = (sockaddr_union *) &h->src, *dst = (sockaddr_union *) &h->dst;

        switch (h->family) {
        case AF_INET:
                set_inet(&h->src, &h->src_len, AF_INET, a);
                set_inet(&h->dst, &h->dst_len, AF_INET, a + 4);
                memcpy(&src->in.sin_port, a + 8, 2);
                memcpy(&dst->in.sin_port, a + 10, 2);
                break;
        case AF_INET6:
                set_inet(&h->src, &h->src_len, AF_INET6, a);
                set_inet(&h->dst, &h->dst_len, AF_INET6, a + 16);
                memcpy(&src->in6.sin6_port, a + 32, 2);
                memcpy(&dst->in6.sin6_port, a + 34, 2);
                break;
        case AF_UNIX:
                h->src_len = unix_from_v2(a, &src->un);
                h->dst_len = unix_from_v2(a + V2_UNIX_PATH, &dst->un);
                break;
        }
}

static int parse_v2(const uint8_t *buf, size_t n, proxy_header *ret, const char **why) {
        proxy_header h = { .version = 2, .family = AF_UNSPEC };
        size_t len, need = 0;
        int r;

        if (memcmp(buf, v2_sig, min_size(n, sizeof(v2_sig))) != 0)
                return fail(why, "no PROXY signature");
        if (n <= 12)
                return 0;
        if (buf[12] >> 4 != 2)
                return fail(why, "v2 version %u", buf[12] >> 4);
        if ((buf[12] & 0xf) != V2_LOCAL && (buf[12] & 0xf) != V2_PROXY)
                return fail(why, "v2 command %u is neither LOCAL (0) nor PROXY (1)", buf[12] & 0xfu);
        h.local = (buf[12] & 0xf) == V2_LOCAL;
        if (n <= 13)
                return 0;
        /* LOCAL: the spec has receivers ignore the family and the addresses */
        if (!h.local) {
                r = v2_family(buf[13], &h.family, &need, why);
                if (r < 0)
                        return r;
        }
        if (n < V2_HEADER)
                return 0;
        len = (size_t) buf[14] << 8 | buf[15];
        if (len > PROXY_V2_ADDR_MAX)
                return fail(why, "v2 address block of %zu bytes is over %d", len, PROXY_V2_ADDR_MAX);
        if (len < need)
                return fail(why, "v2 %s address block of %zu bytes is under %zu", v2_family_name(h.family), len, need);
        if (n < V2_HEADER + len)
                return 0;
        v2_addresses(buf + V2_HEADER, &h);
        *ret = h;
        return (int) (V2_HEADER + len);
}

int proxy_parse(const uint8_t *buf, size_t n, proxy_header *ret, const char **why) {
        /* the first byte tells the two apart: 'P' or CR */
        if (n == 0)
                return 0;
        if (buf[0] == V1_SIG[0])
                return parse_v1(buf, n, ret, why);
        if (buf[0] == v2_sig[0])
                return parse_v2(buf, n, ret, why);
        return fail(why, "no PROXY signature");
}

static int check_addresses(const proxy_header *h) {
        size_t min;

        switch (h->family) {
        case AF_INET:
                min = sizeof(struct sockaddr_in);
                break;
        case AF_INET6:
                min = sizeof(struct sockaddr_in6);
                break;
        case AF_UNIX:
                min = offsetof(struct sockaddr_un, sun_path);
                break;
        default:
                return -EAFNOSUPPORT;
        }
        if (h->src.ss_family != h->family || h->dst.ss_family != h->family || h->src_len < min || h->dst_len < min ||
            h->src_len > sizeof(h->src) || h->dst_len > sizeof(h->dst))
                return -EINVAL;
        return 0;
}

static int encode_v1(const proxy_header *h, uint8_t *buf, size_t size) {
        const sockaddr_union *src = (const sockaddr_union *) &h->src, *dst = (const sockaddr_union *) &h->dst;
        char line[PROXY_V1_MAX + 1], s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
        int n;

        if (h->local || (h->family != AF_INET && h->family != AF_INET6))
                n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
        else if (h->family == AF_INET)
                n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n",
                             inet_ntop(AF_INET, &src->in.sin_addr, s, sizeof(s)),
                             inet_ntop(AF_INET, &dst->in.sin_addr, d, sizeof(d)), ntohs(src->in.sin_port),
                             ntohs(dst->in.sin_port));
        else
                n = snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n",
                             inet_ntop(AF_INET6, &src->in6.sin6_addr, s, sizeof(s)),
                             inet_ntop(AF_INET6, &dst->in6.sin6_addr, d, sizeof(d)), ntohs(src->in6.sin6_port),
                             ntohs(dst->in6.sin6_port));
        if ((size_t) n > size)
                return -ENOBUFS;
        memcpy(buf, line, (size_t) n);
        return n;
}

static void unix_to_v2(const struct sockaddr_un *un, socklen_t len, uint8_t *p) {
        size_t n = min_size(len - offsetof(struct sockaddr_un, sun_path), V2_UNIX_PATH);

        memcpy(p, un->sun_path, n);
        memset(p + n, 0, V2_UNIX_PATH - n);
}

static int encode_v2(const proxy_header *h, uint8_t *buf, size_t size) {
        const sockaddr_union *src = (const sockaddr_union *) &h->src, *dst = (const sockaddr_union *) &h->dst;
        int family = h->local ? AF_UNSPEC : h->family;
        uint8_t *a = buf + V2_HEADER;
        size_t i = 0;

        while (v2_families[i].family != family)
                i++;
        if (size < V2_HEADER + v2_families[i].len)
                return -ENOBUFS;
        memcpy(buf, v2_sig, sizeof(v2_sig));
        buf[12] = 0x20 | (h->local ? V2_LOCAL : V2_PROXY);
        buf[13] = v2_families[i].fam;
        buf[14] = (uint8_t) (v2_families[i].len >> 8);
        buf[15] = (uint8_t) v2_families[i].len;
        switch (family) {
        case AF_INET:
                memcpy(a, &src->in.sin_addr, 4);
                memcpy(a + 4, &dst->in.sin_addr, 4);
                memcpy(a + 8, &src->in.sin_port, 2);
                memcpy(a + 10, &dst->in.sin_port, 2);
                break;
        case AF_INET6:
                memcpy(a, &src->in6.sin6_addr, 16);
                memcpy(a + 16, &dst->in6.sin6_addr, 16);
                memcpy(a + 32, &src->in6.sin6_port, 2);
                memcpy(a + 34, &dst->in6.sin6_port, 2);
                break;
        case AF_UNIX:
                unix_to_v2(&src->un, h->src_len, a);
                unix_to_v2(&dst->un, h->dst_len, a + V2_UNIX_PATH);
                break;
        }
        return (int) (V2_HEADER + v2_families[i].len);
}

int proxy_encode(const proxy_header *hdr, int version, uint8_t *buf, size_t size) {
        int r;

        if (version != 1 && version != 2)
                return -EINVAL;
        if (!hdr->local && hdr->family != AF_UNSPEC) {
                r = check_addresses(hdr);
                if (r < 0)
                        return r;
        }
        return version == 1 ? encode_v1(hdr, buf, size) : encode_v2(hdr, buf, size);
}

/* A unix peer's name, with what is not printable (or a backslash) as \xNN and an abstract name's NUL as '@'. */
static int format_unix(const struct sockaddr_un *un, socklen_t len, char *buf, size_t size) {
        const uint8_t *p = (const uint8_t *) un->sun_path;
        size_t path = offsetof(struct sockaddr_un, sun_path), o = 0;
        size_t n = len > path ? min_size(len - path, V2_UNIX_PATH) : 0;

        if (n > 0 && p[0] != 0)
                n = strnlen((const char *) p, n);
        if (n == 0) {
                int w = snprintf(buf, size, "unknown");
                return w < 0 || (size_t) w >= size ? -ENOBUFS : w;
        }
        for (size_t i = 0; i < n; i++) {
                int w;

                if (i == 0 && p[i] == 0)
                        w = snprintf(buf + o, size - o, "@");
                else if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '\\')
                        w = snprintf(buf + o, size - o, "\\x%02x", p[i]);
                else
                        w = snprintf(buf + o, size - o, "%c", p[i]);
                if (w < 0 || (size_t) w >= size - o)
                        return -ENOBUFS;
                o += (size_t) w;
        }
        return (int) o;
}

int proxy_format_source(const proxy_header *hdr, char *buf, size_t size) {
        const sockaddr_union *src = (const sockaddr_union *) &hdr->src;
        char host[INET6_ADDRSTRLEN];
        int n;

        if (hdr->local || hdr->src_len == 0 || hdr->src.ss_family != hdr->family)
                n = snprintf(buf, size, "unknown");
        else if (hdr->family == AF_INET)
                n = snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &src->in.sin_addr, host, sizeof(host)),
                             ntohs(src->in.sin_port));
        else if (hdr->family == AF_INET6)
                n = snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &src->in6.sin6_addr, host, sizeof(host)),
                             ntohs(src->in6.sin6_port));
        else if (hdr->family == AF_UNIX)
                return format_unix(&src->un, hdr->src_len, buf, size);
        else
                n = snprintf(buf, size, "unknown");
        return n < 0 || (size_t) n >= size ? -ENOBUFS : n;
}
