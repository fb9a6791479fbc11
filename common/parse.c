#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p == '\n')
                p++;
        if (*p != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_port(const char *s, uint16_t *ret) {
        uint64_t v;

        if (strlen(s) > 5 || parse_uint64(s, &v) < 0 || strchr(s, '\n'))
                return -EINVAL;
        if (v == 0 || v > 65535)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static int parse_unix_addr(const char *s, ember_addr *ret) {
        size_t n = strlen(s);

        if (n >= sizeof(ret->un.sun_path))
                return -ENAMETOOLONG;
        memset(ret, 0, sizeof(*ret));
        ret->un.sun_family = AF_UNIX;
        memcpy(ret->un.sun_path, s, n + 1);
        ret->len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
}

static int parse_inet_addr(const char *host, const char *port, ember_addr *ret) {
        uint16_t p;
        int r;

        r = parse_port(port, &p);
        if (r < 0)
                return r;
        memset(ret, 0, sizeof(*ret));
        if (strcmp(host, "localhost") == 0)
                host = "127.0.0.1";
        if (inet_pton(AF_INET, host, &ret->in.sin_addr) == 1) {
                ret->in.sin_family = AF_INET;
                ret->in.sin_port = htons(p);
                ret->len = sizeof(ret->in);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &ret->in6.sin6_addr) == 1) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons(p);
                ret->len = sizeof(ret->in6);
                return 0;
        }
        return -EINVAL;
}

int parse_addr(const char *s, ember_addr *ret) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *colon, *port;
        size_t hlen;

        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '/')
                return parse_unix_addr(s, ret);
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                hlen = (size_t) (end - s - 1);
                port = end + 2;
                if (hlen == 0 || hlen >= sizeof(host) || !memchr(s + 1, ':', hlen))
                        return -EINVAL;
                memcpy(host, s + 1, hlen);
                host[hlen] = '\0';
                return parse_inet_addr(host, port, ret);
        }
        colon = strrchr(s, ':');
        if (!colon) {
                int r = parse_inet_addr("127.0.0.1", s, ret);
                if (r >= 0)
                        ret->port_only = true;
                return r;
        }
        hlen = (size_t) (colon - s);
        if (hlen == 0 || hlen >= sizeof(host) || memchr(s, ':', hlen))
                return -EINVAL; /* a bare IPv6 address needs brackets */
        memcpy(host, s, hlen);
        host[hlen] = '\0';
        return parse_inet_addr(host, colon + 1, ret);
}

int parse_backend_addr(const char *s, ember_addr *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        size_t n = s ? strlen(s) : 0;
        int r;

        if (!s || (strcmp(s, "auto") != 0 && (n < 6 || strcmp(s + n - 5, ":auto") != 0)) || s[0] == '/')
                return parse_addr(s, ret);
        if (n - 4 + 1 >= sizeof(buf))
                return -EINVAL;
        /* the same HOST rules as for a numbered port: parse it with a stand-in port, then clear the port */
        snprintf(buf, sizeof(buf), "%.*s1", (int) (n - 4), s);
        r = parse_addr(buf, ret);
        if (r < 0)
                return r;
        if (ret->sa.sa_family == AF_INET)
                ret->in.sin_port = 0;
        else
                ret->in6.sin6_port = 0;
        ret->port_only = false;
        ret->port_auto = true;
        return 0;
}

int format_addr(const ember_addr *a, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN];
        int n;

        switch (a->sa.sa_family) {
        case AF_UNIX:
                n = snprintf(buf, size, "%s", a->un.sun_path);
                break;
        case AF_INET:
                inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof(host));
                n = a->port_auto && a->in.sin_port == 0 ? snprintf(buf, size, "%s:auto", host)
                                                        : snprintf(buf, size, "%s:%u", host, ntohs(a->in.sin_port));
                break;
        case AF_INET6:
                inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
                n = a->port_auto && a->in6.sin6_port == 0
                            ? snprintf(buf, size, "[%s]:auto", host)
                            : snprintf(buf, size, "[%s]:%u", host, ntohs(a->in6.sin6_port));
                break;
        default:
                return -EAFNOSUPPORT;
        }
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        /* longest first where one is a prefix of another */
        { "usec", 1 }, { "us", 1 },
        { "msec", USEC_PER_MSEC }, { "ms", USEC_PER_MSEC },
        { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC }, { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC }, { "minute", 60 * USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC }, { "hour", 3600 * USEC_PER_SEC }, { "hr", 3600 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC }, { "day", 86400 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },
};

static int parse_duration_unit(const char **p, uint64_t *ret) {
        size_t best = 0;
        uint64_t mult = USEC_PER_SEC; /* a bare number is seconds */

        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
                size_t n = strlen(duration_units[i].suffix);
                if (n > best && strncmp(*p, duration_units[i].suffix, n) == 0 && !isalpha((unsigned char) (*p)[n])) {
                        best = n;
                        mult = duration_units[i].usec;
                }
        }
        if (best == 0 && isalpha((unsigned char) **p))
                return -EINVAL;
        *p += best;
        *ret = mult;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (strcmp(s, "infinity") == 0) {
                *ret_usec = USEC_INFINITY;
                return 0;
        }
        while (*p) {
                uint64_t v = 0, mult;
                int r;

                while (*p == ' ')
                        p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                for (; isdigit((unsigned char) *p); p++) {
                        if (v > (UINT64_MAX / 10) - 9)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (*p - '0');
                }
                while (*p == ' ')
                        p++;
                r = parse_duration_unit(&p, &mult);
                if (r < 0)
                        return r;
                if (v > (USEC_INFINITY - 1) / mult || total > USEC_INFINITY - 1 - v * mult)
                        return -ERANGE;
                total += v * mult;
                while (*p == ' ')
                        p++;
        }
        *ret_usec = total;
        return 0;
}

bool app_name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        /* a leading '-' would read as an option to systemctl */
        if (n == 0 || n > APP_NAME_MAX || s[0] == '-' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

bool policy_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        /* a leading '.' would name a hidden file; anything with '/' is a path, not a name */
        if (n == 0 || n > APP_NAME_MAX || s[0] == '.')
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}
