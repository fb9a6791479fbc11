/* Specification of ADDR, DUR, NAME and counter parsing (common/parse.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "parse.h"
#include "tap.h"

/* parse_addr(s) succeeds and formats back to want; family/port_only as given. */
static void addr_ok(const char *s, int family, bool port_only, const char *want) {
        ember_addr a;
        char buf[256] = "";
        int r;

        memset(&a, 0xAA, sizeof(a)); /* the parser must not rely on a zeroed struct */
        r = parse_addr(s, &a);
        if (!is_int(tap_fmt("ADDR '%s' is accepted", s), r, 0)) {
                skip(3, "parse failed");
                return;
        }
        is_int(tap_fmt("ADDR '%s' has family %d", s, family), a.sa.sa_family, family);
        ok(tap_fmt("ADDR '%s' port_only=%s", s, port_only ? "true" : "false"), a.port_only == port_only);
        is_int(tap_fmt("ADDR '%s' formats", s), format_addr(&a, buf, sizeof(buf)), 0);
        is_str(tap_fmt("ADDR '%s' formats as '%s'", s, want), buf, want);
}

static void addr_bad(const char *s, const char *why) {
        ember_addr a;
        int r = parse_addr(s, &a);
        ok(tap_fmt("ADDR '%s' is refused (%s)", tap_esc(s), why), r < 0);
        if (r >= 0)
                diag("     got: %d", r);
}

static void test_addr(void) {
        ember_addr a;
        char path[200], buf[16];

        addr_ok("127.0.0.1:8080", AF_INET, false, "127.0.0.1:8080");
        addr_ok("0.0.0.0:1", AF_INET, false, "0.0.0.0:1");
        addr_ok("10.1.2.3:65535", AF_INET, false, "10.1.2.3:65535");
        addr_ok("localhost:80", AF_INET, false, "127.0.0.1:80");
        addr_ok("[::1]:8080", AF_INET6, false, "[::1]:8080");
        addr_ok("[::]:443", AF_INET6, false, "[::]:443");
        addr_ok("[fe80::1:2]:9", AF_INET6, false, "[fe80::1:2]:9");
        addr_ok("8080", AF_INET, true, "127.0.0.1:8080");
        addr_ok("1", AF_INET, true, "127.0.0.1:1");
        addr_ok("/run/ember/x.sock", AF_UNIX, false, "/run/ember/x.sock");

        /* exact byte lengths, and ports in network order */
        if (parse_addr("127.0.0.1:8080", &a) == 0) {
                is_int("IPv4 ADDR length is sizeof(sockaddr_in)", a.len, sizeof(struct sockaddr_in));
                is_int("IPv4 port is stored in network byte order", ntohs(a.in.sin_port), 8080);
        } else
                skip(2, "parse failed");
        if (parse_addr("[::1]:8080", &a) == 0) {
                is_int("IPv6 ADDR length is sizeof(sockaddr_in6)", a.len, sizeof(struct sockaddr_in6));
                is_int("IPv6 port is stored in network byte order", ntohs(a.in6.sin6_port), 8080);
        } else
                skip(2, "parse failed");
        if (parse_addr("/x", &a) == 0)
                is_int("unix ADDR length covers path and NUL", a.len, offsetof(struct sockaddr_un, sun_path) + 3);
        else
                skip(1, "parse failed");

        /* unix paths: the longest that fits sun_path (107 chars + NUL) and one longer */
        memset(path, 'p', sizeof(path));
        path[0] = '/';
        path[sizeof(((struct sockaddr_un *) 0)->sun_path) - 1] = '\0';
        addr_ok(path, AF_UNIX, false, path);
        path[sizeof(((struct sockaddr_un *) 0)->sun_path) - 1] = 'p';
        path[sizeof(((struct sockaddr_un *) 0)->sun_path)] = '\0';
        addr_bad(path, "unix path of 108 chars does not fit sun_path");
        memset(path, 'p', sizeof(path));
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        addr_bad(path, "unix path of 199 chars");

        /* ports */
        addr_bad("127.0.0.1:0", "port 0");
        addr_bad("127.0.0.1:65536", "port 65536");
        addr_bad("127.0.0.1:99999999999999999999999", "port overflowing 64 bits");
        addr_bad("0", "bare port 0");
        addr_bad("65536", "bare port 65536");
        addr_bad("127.0.0.1:", "empty port");
        addr_bad("127.0.0.1:http", "service name for port");
        addr_bad("127.0.0.1:80x", "garbage after port");
        addr_bad("127.0.0.1:-1", "negative port");
        addr_bad("127.0.0.1:+80", "signed port");
        addr_bad("127.0.0.1: 80", "space before port");
        addr_bad("127.0.0.1:80\n", "newline after port");
        addr_bad("abc", "garbage");
        addr_bad("-80", "negative bare port");

        /* hosts */
        addr_bad("::1:80", "bare IPv6 without brackets");
        addr_bad("::1", "bare IPv6 without port");
        addr_bad("fe80::1", "bare IPv6 without brackets or port");
        addr_bad("[::1]", "bracketed IPv6 without port");
        addr_bad("[::1]:", "bracketed IPv6 with empty port");
        addr_bad("[::1]80", "bracketed IPv6 without colon");
        addr_bad("[::1:80", "unclosed bracket");
        addr_bad("[]:80", "empty brackets");
        addr_bad("[127.0.0.1]:80", "IPv4 in brackets");
        addr_bad(":80", "empty host");
        addr_bad("example.com:80", "host names other than localhost");
        addr_bad("256.0.0.1:80", "invalid IPv4");
        addr_bad("127.0.0.1:80:90", "two ports");
        addr_bad("relative/path.sock", "relative unix path");
        addr_bad("", "empty");
        addr_bad(NULL, "NULL");

        /* format_addr never overflows its buffer */
        if (parse_addr("[fe80::1:2]:65535", &a) == 0)
                ok("format_addr refuses a too small buffer", format_addr(&a, buf, 8) < 0);
        else
                skip(1, "parse failed");
}

static void dur_ok(const char *s, uint64_t want) {
        uint64_t v = 12345;
        int r = parse_duration(s, &v);
        if (is_int(tap_fmt("DUR '%s' is accepted", s), r, 0))
                is_u64(tap_fmt("DUR '%s' = %" PRIu64 " usec", s, want), v, want);
        else
                skip(1, "parse failed");
}

static void dur_bad(const char *s, const char *why) {
        uint64_t v = 12345;
        int r = parse_duration(s, &v);
        ok(tap_fmt("DUR '%s' is refused (%s)", tap_esc(s), why), r < 0);
        if (r >= 0)
                diag("     got: %d, value %" PRIu64, r, v);
}

static void test_duration(void) {
        const uint64_t S = USEC_PER_SEC, MS = USEC_PER_MSEC;

        dur_ok("500ms", 500 * MS);
        dur_ok("2s", 2 * S);
        dur_ok("5", 5 * S); /* bare number is seconds */
        dur_ok("0", 0);
        dur_ok("0s", 0);
        dur_ok("10us", 10);
        dur_ok("10usec", 10);
        dur_ok("7msec", 7 * MS);
        dur_ok("3sec", 3 * S);
        dur_ok("1min", 60 * S);
        dur_ok("2m", 120 * S);
        dur_ok("1h", 3600 * S);
        dur_ok("1hour", 3600 * S);
        dur_ok("1d", 86400 * S);
        dur_ok("1m30s", 90 * S);
        dur_ok("1s500ms", 1500 * MS);
        dur_ok("1h2m3s", 3723 * S);
        dur_ok("1d1h1m1s1ms1us", 90061 * S + MS + 1);
        dur_ok("infinity", USEC_INFINITY);
        dur_ok("200000d", 200000ULL * 86400 * S); /* large but representable */

        dur_bad("18446744073709551616", "overflows 64 bits");
        dur_bad("18446744073709551615s", "overflows when scaled");
        dur_bad("999999999999999d", "overflows when scaled by days");
        dur_bad("18446744073709551615us", "would equal infinity");
        dur_bad("9223372036854775807s9223372036854775807s", "sum overflows");
        dur_bad("abc", "garbage");
        dur_bad("5x", "unknown unit");
        dur_bad("5sx", "garbage after unit");
        dur_bad("s", "unit without number");
        dur_bad("1.5s", "fractions");
        dur_bad("-1s", "negative");
        dur_bad("-1", "negative bare number");
        dur_bad("+1s", "signed");
        dur_bad("", "empty");
        dur_bad(" ", "blank");
        dur_bad("inf", "abbreviated infinity");
        dur_bad("infinityx", "garbage after infinity");
        dur_bad("1S", "units are case-sensitive");
        dur_bad(NULL, "NULL");
}

static void test_name(void) {
        char name[80];
        static const char *const good[] = { "a", "foo", "Foo_Bar", "my-app_1.2", "a.b", ".hidden", "x-", "0", "redis" };
        static const struct {
                const char *s, *why;
        } bad[] = {
                { "", "empty" },
                { "-foo", "leading '-' would read as an option" },
                { "-", "a lone '-'" },
                { ".", "'.'" },
                { "..", "'..'" },
                { "a@b", "'@' is a template instance separator" },
                { "a/b", "'/' would escape the state dir" },
                { "/a", "absolute path" },
                { "../a", "path traversal" },
                { "a b", "space" },
                { "a\n", "newline" },
                { "a:b", "colon" },
                { "a\\b", "backslash" },
                { "caf\xc3\xa9", "non-ASCII" },
                { "a*", "glob" },
        };

        for (size_t i = 0; i < ELEMENTS(good); i++)
                ok(tap_fmt("NAME '%s' is valid", good[i]), app_name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTS(bad); i++)
                ok(tap_fmt("NAME '%s' is invalid (%s)", tap_esc(bad[i].s), bad[i].why), !app_name_is_valid(bad[i].s));
        ok("NAME NULL is invalid", !app_name_is_valid(NULL));

        memset(name, 'n', sizeof(name));
        name[64] = '\0';
        ok("NAME of 64 chars is valid", app_name_is_valid(name));
        name[64] = 'n';
        name[65] = '\0';
        ok("NAME of 65 chars is invalid", !app_name_is_valid(name));
}

static void u64_ok(const char *s, uint64_t want) {
        uint64_t v = 12345;
        if (is_int(tap_fmt("uint64 '%s' is accepted", tap_esc(s)), parse_uint64(s, &v), 0))
                is_u64(tap_fmt("uint64 '%s' = %" PRIu64, tap_esc(s), want), v, want);
        else
                skip(1, "parse failed");
}

static void test_uint64(void) {
        static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1\n\n", "0x10", "1a", "\n", "18446744073709551616" };
        uint64_t v;

        u64_ok("0", 0);
        u64_ok("42", 42);
        u64_ok("42\n", 42);
        u64_ok("18446744073709551615", UINT64_MAX);
        for (size_t i = 0; i < ELEMENTS(bad); i++)
                ok(tap_fmt("uint64 '%s' is refused", tap_esc(bad[i])), parse_uint64(bad[i], &v) < 0);
        is_int("uint64 overflow is -ERANGE", parse_uint64("18446744073709551616", &v), -ERANGE);
}

int main(void) {
        test_addr();
        test_duration();
        test_name();
        test_uint64();
        return done();
}
