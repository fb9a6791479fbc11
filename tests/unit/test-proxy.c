/* The PROXY protocol codec (common/proxy.c) against HAProxy's doc/proxy-protocol.txt: the spec's own examples,
 * every way a header is refused, headers arriving byte by byte, and what the launcher sends on. Every parse reads
 * from a buffer of exactly N bytes, so a sanitizer build sees any read past what has arrived. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"
#include "tap.h"

#define S(lit) (const uint8_t *) (lit), sizeof(lit) - 1
#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"

static int parse(const uint8_t *data, size_t n, proxy_header *h, const char **why) {
        uint8_t *copy = malloc(n ? n : 1);
        int r;

        if (!copy)
                bail_out("out of memory");
        memcpy(copy, data, n);
        r = proxy_parse(copy, n, h, why);
        free(copy);
        return r;
}

/* A v2 header, byte by byte: the signature, VER_CMD, FAM, LEN (as sent, whatever follows), then ALEN bytes. */
static size_t v2(uint8_t *b, uint8_t ver_cmd, uint8_t fam, uint16_t len, const void *addr, size_t alen) {
        memcpy(b, V2_SIG, 12);
        b[12] = ver_cmd;
        b[13] = fam;
        b[14] = (uint8_t) (len >> 8);
        b[15] = (uint8_t) len;
        if (alen)
                memcpy(b + 16, addr, alen);
        return 16 + alen;
}

static const char *source(const proxy_header *h) {
        static char buf[256];
        return proxy_format_source(h, buf, sizeof(buf)) >= 0 ? buf : "(format failed)";
}

static const char *destination(const proxy_header *h) {
        proxy_header d = *h;
        d.src = h->dst;
        d.src_len = h->dst_len;
        return source(&d);
}

/* Parses as a complete header of length WANT, whose source and destination format as SRC and DST. */
static void accepted(const uint8_t *b, size_t n, int want, const char *src, const char *dst, const char *what) {
        proxy_header h;
        const char *why = NULL;
        int r = parse(b, n, &h, &why);

        if (!is_int(tap_fmt("%s: accepted, %d bytes long", what, want), r, want)) {
                diag("     why: %s", why ? why : "(none)");
                skip(2, "not parsed");
                return;
        }
        is_str(tap_fmt("%s: source %s", what, src), source(&h), src);
        is_str(tap_fmt("%s: destination %s", what, dst), destination(&h), dst);
}

/* Refused, with a reason that contains WANT. */
static void refused(const uint8_t *b, size_t n, const char *want, const char *what) {
        proxy_header h;
        const char *why = NULL;
        int r = parse(b, n, &h, &why);

        if (is_int(tap_fmt("%s: refused", what), r, -EBADMSG))
                ok(tap_fmt("%s: because '%s'", what, why ? why : "(null)"), why && strstr(why, want));
        else
                skip(1, "not refused");
}

static void more(const uint8_t *b, size_t n, const char *what) {
        proxy_header h;
        const char *why = NULL;
        int r = parse(b, n, &h, &why);

        if (!is_int(tap_fmt("%s: a prefix, read more", what), r, 0) && r < 0)
                diag("     why: %s", why ? why : "(none)");
}

/* Every proper prefix of a valid header asks for more, and the whole is accepted. */
static void prefixes(const uint8_t *b, size_t n, const char *what) {
        proxy_header h;
        const char *why = NULL;
        size_t k;
        int r = 0;

        for (k = 0; k < n && (r = parse(b, k, &h, &why)) == 0; k++)
                ;
        if (!ok(tap_fmt("%s: each of its %zu proper prefixes asks for more", what, n), k == n))
                diag("     prefix of %zu bytes: %d (%s)", k, r, r < 0 && why ? why : "");
        is_int(tap_fmt("%s: and the whole of it is the header", what), parse(b, n, &h, &why), (long long) n);
}

static void test_v1_spec_examples(void) {
        static const char tcp4[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        static const char http[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"
                                   "Host: 192.168.0.11\r\n\r\n";
        static const char tcp6_max[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        static const char unknown_max[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        proxy_header h;

        accepted(S(tcp4), (int) strlen(tcp4), "192.168.0.1:56324", "192.168.0.11:443", "the spec's v1 example");
        accepted(S(http), (int) strlen(tcp4), "192.168.0.1:56324", "192.168.0.11:443",
                 "the spec's v1 example before its HTTP request");
        accepted(S("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"), 56, "255.255.255.255:65535",
                 "255.255.255.255:65535", "the spec's longest TCP4 line (56 bytes)");
        accepted(S(tcp6_max), 104, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "the spec's longest TCP6 line (104 bytes)");
        accepted(S("PROXY UNKNOWN\r\n"), 15, "unknown", "unknown", "the spec's short UNKNOWN line (15 bytes)");
        accepted(S(unknown_max), 107, "unknown", "unknown", "the spec's worst case, UNKNOWN with fields (107 bytes)");

        if (parse(S("PROXY UNKNOWN\r\n"), &h, NULL) > 0) {
                ok("UNKNOWN is local: use the real connection's addresses", h.local);
                is_int("UNKNOWN has family AF_UNSPEC", h.family, AF_UNSPEC);
                ok("UNKNOWN has no addresses", h.src_len == 0 && h.dst_len == 0);
                is_int("UNKNOWN is version 1", h.version, 1);
        } else
                skip(4, "not parsed");
        if (parse(S(tcp4), &h, NULL) > 0) {
                ok("TCP4 is not local", !h.local);
                is_int("TCP4 has family AF_INET", h.family, AF_INET);
                ok("TCP4 addresses are sockaddr_in long",
                   h.src_len == sizeof(struct sockaddr_in) && h.dst_len == sizeof(struct sockaddr_in));
                is_int("TCP4 source is an AF_INET sockaddr", h.src.ss_family, AF_INET);
        } else
                skip(4, "not parsed");

        accepted(S("PROXY TCP6 ::1 ::ffff:10.0.0.1 0 80\r\n"), 37, "[::1]:0", "[::ffff:10.0.0.1]:80",
                 "TCP6 with '::' and an embedded dotted quad, port 0");
        accepted(S("PROXY TCP6 FE80::A 2001:DB8::1 1 2\r\n"), 36, "[fe80::a]:1", "[2001:db8::1]:2",
                 "TCP6 in upper case hex");
        accepted(S("PROXY UNKNOWN whatever the sender had\r\n"), 39, "unknown", "unknown",
                 "UNKNOWN: what follows is ignored");
}

static void test_v1_refused(void) {
        uint8_t line[200];

        refused(S("GET / HTTP/1.1\r\n"), "no PROXY signature", "an HTTP request");
        refused(S("G"), "no PROXY signature", "its first byte already");
        refused(S("PROXX"), "no PROXY signature", "'PROXX'");
        refused(S("PROXY\r\n"), "no PROXY signature", "'PROXY' without its space");
        refused(S("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "no PROXY signature", "a signature in lower case");
        refused(S("PROXY TCP5"), "v1 protocol 'TCP5' is not TCP4, TCP6 or UNKNOWN", "'PROXY TCP5', before the rest");
        refused(S("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), "v1 protocol 'tcp4'", "a protocol in lower case");
        refused(S("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), "v1 protocol 'UDP4'", "UDP4");
        refused(S("PROXY UNKNOWNX\r\n"), "v1 protocol 'UNKNOWNX'", "a word that begins with UNKNOWN");
        refused(S("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "empty field", "two spaces after PROXY");
        refused(S("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), "empty field", "two spaces between addresses");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), "TCP4 line goes on after its 5 fields", "a space before the CRLF");
        refused(S("PROXY \r\n"), "empty field", "no protocol");
        refused(S("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n"), "TCP4 address '1.2.3' is not IPv4", "a TCP4 address of 3 parts");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n"), "TCP4 address '5.6.7.8.9' is not IPv4", "one of 5 parts");
        refused(S("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), "TCP4 address '01.2.3.4'", "a TCP4 address with a heading zero");
        refused(S("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n"), "TCP4 address '256.2.3.4'", "a TCP4 address over 255");
        refused(S("PROXY TCP4 1.2.3.4 0x5.6.7.8 1 2\r\n"), "TCP4 address '0x5.6.7.8'", "a TCP4 address in hex");
        refused(S("PROXY TCP4 ::1 ::1 1 2\r\n"), "TCP4 address '::1' is not IPv4", "IPv6 addresses in a TCP4 line");
        refused(S("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), "TCP6 address '1.2.3.4' is not IPv6", "an IPv4 address in TCP6");
        refused(S("PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n"), "TCP6 address 'fe80::1%eth0'", "an IPv6 zone");
        refused(S("PROXY TCP6 1:::2 ::1 1 2\r\n"), "TCP6 address '1:::2'", "':::'");
        refused(S("PROXY TCP6 1::2::3 ::1 1 2\r\n"), "TCP6 address '1::2::3'", "two '::'");
        refused(S("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), "TCP6 address", "nine groups");
        refused(S("PROXY TCP6 12345:: ::1 1 2\r\n"), "TCP6 address '12345::'", "a group of five digits");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), "TCP4 port '65536'", "a port over 65535");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n"), "TCP4 port '080'", "a port with a heading zero");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 00 1\r\n"), "TCP4 port '00'", "port '00'");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), "TCP4 port '+1'", "a port with a sign");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), "TCP4 port '-1'", "a negative port");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n"), "TCP4 port '1a'", "a port with a letter");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n"), "TCP4 port '100000'", "a port of six digits");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "TCP4 line ends after 4 of its 5 fields", "no destination port");
        refused(S("PROXY TCP4\r\n"), "TCP4 line ends after 1 of its 5 fields", "TCP4 alone");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), "TCP4 line goes on after its 5 fields", "a field too many");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), "v1 line has CR without LF", "a CR that is not CRLF");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), "v1 line has CR without LF", "CR CR LF");
        refused(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "v1 line ends in LF without CR", "a bare LF");
        refused(S("PROXY UNKNOWN \n\r\n"), "v1 line ends in LF without CR", "a bare LF in UNKNOWN's ignored part");
        refused(S("PROXY UNKNOWN \x01\r\n"), "byte 0x01", "a control byte in UNKNOWN's ignored part");
        refused(S("PROXY UNKNOWN \xc3\xa9\r\n"), "byte 0xc3", "a non-ASCII byte");
        refused(S("PROXY TCP4 1.2.3.4\0"), "byte 0x00", "a NUL");
        refused(S("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), "byte 0x09", "a tab for a space");

        /* the bound: 107 bytes with the CRLF; refused once 106 bytes hold no CR */
        memset(line, 'x', sizeof(line));
        memcpy(line, "PROXY UNKNOWN ", 14);
        memcpy(line + 105, "\r\n", 2);
        accepted(line, 107, 107, "unknown", "unknown", "an UNKNOWN line of 107 bytes");
        memset(line + 105, 'x', 2);
        memcpy(line + 106, "\r\n", 2);
        refused(line, 108, "v1 line longer than 107 bytes", "an UNKNOWN line of 108 bytes");
        refused(line, 106, "v1 line longer than 107 bytes", "as soon as 106 bytes without a CR arrived");
        more(line, 105, "105 bytes without a CR");
        refused(line, sizeof(line), "v1 line longer than 107 bytes", "200 bytes without a CRLF");
}

static void test_v1_partial(void) {
        static const char *const valid[] = {
                "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
                "PROXY TCP4 0.0.0.0 10.20.30.40 0 65535\r\n",
                "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.128 1 22\r\n",
                "PROXY TCP6 1:2:3:4:5:6:7:8 1:2:3:4:5:6:1.2.3.4 10 20\r\n",
                "PROXY TCP6 :: 1:: 100 200\r\n",
                "PROXY UNKNOWN\r\n",
                "PROXY UNKNOWN 1.2.3.4 whatever\r\n",
        };

        for (size_t i = 0; i < ELEMENTS(valid); i++)
                prefixes((const uint8_t *) valid[i], strlen(valid[i]), tap_esc(valid[i]));
        more(S("PROX"), "'PROX'");
        more(S("PROXY TCP4 1.2.3.4"), "'PROXY TCP4 1.2.3.4'");
        more(S("PROXY TCP4 1.2.3.4 5.6.7.8 0"), "a port '0' cut short");
        more(S("PROXY TCP6 2001:db8::"), "an IPv6 address ending in '::' cut short");
        more(S("PROXY TCP6 ::ffff:1.2."), "an embedded dotted quad cut short");
        more(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), "a complete line waiting for its LF");
        refused(S("PROXY TCP4 1.2.3.4."), "TCP4 address '1.2.3.4.'", "an IPv4 address with a fifth dot, cut short");
        refused(S("PROXY TCP4 1.2.3.456"), "TCP4 address '1.2.3.456'", "an IPv4 address over 255, cut short");
}

static void test_v2_spec_examples(void) {
        static const uint8_t in4[] = { 192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb };
        uint8_t in6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1, [16] = 0x20, 0x01, 0x0d, 0xb8, [31] = 2,
                            [32] = 0x1f, 0x90, 0x00, 0x50 };
        uint8_t un[216] = { 0 }, b[PROXY_HEADER_MAX + 64], tlv[12 + 3 + 11];
        proxy_header h;
        size_t n;

        n = v2(b, 0x20, 0x00, 0, NULL, 0);
        accepted(b, n, 16, "unknown", "unknown", "HAProxy's health check: LOCAL, UNSPEC, no addresses (16 bytes)");
        if (parse(b, n, &h, NULL) == 16) {
                ok("the health check is local", h.local);
                is_int("the health check is version 2", h.version, 2);
                is_int("the health check has family AF_UNSPEC", h.family, AF_UNSPEC);
                ok("the health check has no addresses", h.src_len == 0 && h.dst_len == 0);
        } else
                skip(4, "not parsed");

        n = v2(b, 0x21, 0x11, 12, in4, sizeof(in4));
        accepted(b, n, 28, "192.168.0.1:56324", "192.168.0.11:443", "v2 PROXY TCP over IPv4 (\\x11, 12 bytes)");
        n = v2(b, 0x21, 0x21, 36, in6, sizeof(in6));
        accepted(b, n, 52, "[2001:db8::1]:8080", "[2001:db8::2]:80", "v2 PROXY TCP over IPv6 (\\x21, 36 bytes)");
        strcpy((char *) un, "/run/client.sock");
        strcpy((char *) un + 108, "/run/ember/app.sock");
        n = v2(b, 0x21, 0x31, 216, un, sizeof(un));
        accepted(b, n, 232, "/run/client.sock", "/run/ember/app.sock", "v2 PROXY UNIX stream (\\x31, 216 bytes)");
        if (parse(b, n, &h, NULL) == 232)
                is_int("a v2 unix path's length counts its NUL, as getpeername() does", h.dst_len,
                       offsetof(struct sockaddr_un, sun_path) + strlen("/run/ember/app.sock") + 1);
        else
                skip(1, "not parsed");
        memset(un, 0, sizeof(un));
        n = v2(b, 0x21, 0x31, 216, un, sizeof(un));
        accepted(b, n, 232, "unknown", "unknown", "v2 UNIX with unnamed sockets");
        un[0] = 0;
        memcpy(un + 1, "ember\nx", 7);
        n = v2(b, 0x21, 0x31, 216, un, sizeof(un));
        accepted(b, n, 232, "@ember\\x0ax", "unknown", "v2 UNIX with an abstract name (made printable)");

        memcpy(tlv, in4, sizeof(in4));
        memcpy(tlv + 12, "\x02\x00\x0b" "example.com", 14);
        n = v2(b, 0x21, 0x11, sizeof(tlv), tlv, sizeof(tlv));
        accepted(b, n, 16 + (int) sizeof(tlv), "192.168.0.1:56324", "192.168.0.11:443",
                 "v2 TCP4 with a PP2_TYPE_AUTHORITY TLV after the addresses, skipped");

        n = v2(b, 0x20, 0x11, 12, in4, sizeof(in4));
        accepted(b, n, 28, "unknown", "unknown", "v2 LOCAL with TCP4 addresses: they are ignored");
        n = v2(b, 0x20, 0xff, 5, "abcde", 5);
        accepted(b, n, 21, "unknown", "unknown", "v2 LOCAL with an unassigned family and 5 bytes: ignored");
        n = v2(b, 0x20, 0x12, 0, NULL, 0);
        accepted(b, n, 16, "unknown", "unknown", "v2 LOCAL over DGRAM: the family is ignored");

        n = v2(b, 0x21, 0x00, 0, NULL, 0);
        if (is_int("v2 PROXY with family UNSPEC: accepted", parse(b, n, &h, NULL), 16))
                ok("not local, no addresses", !h.local && h.family == AF_UNSPEC && h.src_len == 0);
        else
                skip(1, "not parsed");

        /* the bound on the address block: 512 is taken, 513 refused as soon as its length arrived */
        memset(b + 16, 0, PROXY_V2_ADDR_MAX);
        n = v2(b, 0x21, 0x11, PROXY_V2_ADDR_MAX, in4, sizeof(in4));
        accepted(b, 16 + PROXY_V2_ADDR_MAX, 16 + PROXY_V2_ADDR_MAX, "192.168.0.1:56324", "192.168.0.11:443",
                 "a v2 address block of 512 bytes");
        n = v2(b, 0x21, 0x11, PROXY_V2_ADDR_MAX + 1, NULL, 0);
        refused(b, n, "v2 address block of 513 bytes is over 512", "a v2 address block of 513 bytes");
        n = v2(b, 0x20, 0x00, PROXY_V2_ADDR_MAX + 1, NULL, 0);
        refused(b, n, "is over 512", "a LOCAL one of 513 bytes");
        n = v2(b, 0x21, 0x11, 600, NULL, 0);
        refused(b, n, "v2 address block of 600 bytes is over 512", "a v2 address block of 600 bytes");
}

static void test_v2_refused(void) {
        static const uint8_t in4[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2 };
        uint8_t b[PROXY_HEADER_MAX], bad[16];
        size_t n;

        for (size_t i = 1; i < 12; i++) {
                char what[64];

                v2(bad, 0x21, 0x11, 12, NULL, 0);
                bad[i] ^= 0x20;
                snprintf(what, sizeof(what), "v2 signature wrong in byte %zu, as soon as it arrived", i);
                refused(bad, i + 1, "no PROXY signature", what);
        }
        refused(S("\r\n\r\n\0\r\nQUIT\r"), "no PROXY signature", "a signature ending in CR");
        refused(S("\r\n\r\nGET"), "no PROXY signature", "half a signature and then HTTP");
        n = v2(b, 0x11, 0x11, 12, in4, 12);
        refused(b, 13, "v2 version 1", "v2 version 1, on its 13th byte");
        n = v2(b, 0x31, 0x11, 12, in4, 12);
        refused(b, n, "v2 version 3", "v2 version 3");
        n = v2(b, 0x01, 0x11, 12, in4, 12);
        refused(b, n, "v2 version 0", "v2 version 0");
        n = v2(b, 0x22, 0x11, 12, in4, 12);
        refused(b, 13, "v2 command 2 is neither LOCAL (0) nor PROXY (1)", "v2 command 2");
        n = v2(b, 0x2f, 0x11, 12, in4, 12);
        refused(b, n, "v2 command 15", "v2 command 15");
        n = v2(b, 0x21, 0x12, 12, in4, 12);
        refused(b, 14, "v2 transport DGRAM (0x12)", "UDP over IPv4, on its 14th byte");
        n = v2(b, 0x21, 0x22, 36, NULL, 0);
        refused(b, n, "v2 transport DGRAM (0x22)", "UDP over IPv6");
        n = v2(b, 0x21, 0x32, 216, NULL, 0);
        refused(b, n, "v2 transport DGRAM (0x32)", "unix datagrams");
        n = v2(b, 0x21, 0x10, 12, in4, 12);
        refused(b, n, "v2 family and transport 0x10 are not valid", "IPv4 over an UNSPEC transport");
        n = v2(b, 0x21, 0x01, 0, NULL, 0);
        refused(b, n, "0x01 are not valid", "family UNSPEC over STREAM");
        n = v2(b, 0x21, 0x41, 12, in4, 12);
        refused(b, n, "0x41 are not valid", "family 4");
        n = v2(b, 0x21, 0x13, 12, in4, 12);
        refused(b, n, "0x13 are not valid", "transport 3");
        n = v2(b, 0x21, 0x11, 11, in4, 11);
        refused(b, 16, "v2 TCP4 address block of 11 bytes is under 12", "TCP4 with 11 bytes of addresses");
        n = v2(b, 0x21, 0x11, 0, NULL, 0);
        refused(b, n, "v2 TCP4 address block of 0 bytes is under 12", "TCP4 with no addresses");
        n = v2(b, 0x21, 0x21, 35, NULL, 0);
        refused(b, n, "v2 TCP6 address block of 35 bytes is under 36", "TCP6 with 35 bytes");
        n = v2(b, 0x21, 0x31, 215, NULL, 0);
        refused(b, n, "v2 UNIX address block of 215 bytes is under 216", "UNIX with 215 bytes");
}

static void test_v2_partial(void) {
        static const uint8_t in4[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x50 };
        uint8_t b[PROXY_HEADER_MAX];
        size_t n;

        prefixes(b, v2(b, 0x20, 0x00, 0, NULL, 0), "v2 health check");
        prefixes(b, v2(b, 0x21, 0x11, 12, in4, 12), "v2 TCP4");
        memset(b, 0, sizeof(b));
        prefixes(b, v2(b, 0x21, 0x21, 36, b + 100, 36), "v2 TCP6 of ::");
        prefixes(b, v2(b, 0x21, 0x31, 216, b + 300, 216), "v2 UNIX");
        prefixes(b, v2(b, 0x20, 0x00, 40, b + 300, 40), "v2 LOCAL with 40 bytes to skip");
        n = v2(b, 0x21, 0x11, 12, in4, 12);
        more(b, n - 1, "v2 TCP4 one byte short");
        more(S(V2_SIG), "the v2 signature alone");
}

static void test_trailing_bytes(void) {
        static const uint8_t in4[12] = { 127, 0, 0, 1, 127, 0, 0, 2, 0x04, 0xd2, 0x00, 0x50 };
        uint8_t b[64];
        size_t n;

        n = v2(b, 0x21, 0x11, 12, in4, 12);
        memcpy(b + n, "\x16\x03\x01 client hello", 16);
        accepted(b, n + 16, 28, "127.0.0.1:1234", "127.0.0.2:80", "v2 TCP4 followed by a TLS hello");
        n = v2(b, 0x20, 0x00, 0, NULL, 0);
        memcpy(b + n, "PROXY TCP4", 10);
        accepted(b, n + 10, 16, "unknown", "unknown", "a health check followed by anything");
        accepted(S("PROXY UNKNOWN\r\n\r\nPROXY"), 15, "unknown", "unknown", "UNKNOWN followed by CRLF and more");
        accepted(S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\n\x01\xff"), 32, "1.2.3.4:1", "5.6.7.8:2",
                 "TCP4 followed by bytes it would refuse in a line");
}

static void set4(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port) {
        struct sockaddr_in *in = (struct sockaddr_in *) ss;

        memset(ss, 0, sizeof(*ss));
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, ip, &in->sin_addr);
        *len = sizeof(*in);
}

static void set6(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

        memset(ss, 0, sizeof(*ss));
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        *len = sizeof(*in6);
}

static void setun(struct sockaddr_storage *ss, socklen_t *len, const char *path) {
        struct sockaddr_un *un = (struct sockaddr_un *) ss;

        memset(ss, 0, sizeof(*ss));
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
                      socklen_t blen) {
        return alen == blen && memcmp(a, b, alen) == 0;
}

/* Encodes HDR in VERSION and parses it back: same length, the header the spec's format can carry. */
static void round_trip(const proxy_header *hdr, int version, const char *what, const char *want_src) {
        uint8_t b[PROXY_HEADER_MAX];
        proxy_header back;
        int n = proxy_encode(hdr, version, b, sizeof(b)), r;

        if (!ok(tap_fmt("v%d %s: encodes (%d bytes)", version, what, n), n > 0)) {
                skip(4, "not encoded");
                return;
        }
        r = parse(b, (size_t) n, &back, NULL);
        is_int(tap_fmt("v%d %s: parses back to its whole length", version, what), r, n);
        if (r != n) {
                skip(3, "not parsed");
                return;
        }
        is_int(tap_fmt("v%d %s: of version %d", version, what, version), back.version, version);
        is_str(tap_fmt("v%d %s: source %s", version, what, want_src), source(&back), want_src);
        if (strcmp(want_src, "unknown") == 0)
                ok(tap_fmt("v%d %s: local, no addresses", version, what),
                   back.local && back.src_len == 0 && back.dst_len == 0);
        else
                ok(tap_fmt("v%d %s: the same addresses", version, what),
                   !back.local && back.family == hdr->family && same_addr(&back.src, back.src_len, &hdr->src, hdr->src_len) &&
                           same_addr(&back.dst, back.dst_len, &hdr->dst, hdr->dst_len));
}

static void test_encode(void) {
        proxy_header h4 = { .family = AF_INET }, h6 = { .family = AF_INET6 }, hu = { .family = AF_UNIX },
                     local = { .local = true, .family = AF_UNSPEC }, unspec = { .family = AF_UNSPEC }, bad;
        uint8_t b[PROXY_HEADER_MAX], health[16];
        proxy_header back;
        int n;

        set4(&h4.src, &h4.src_len, "192.168.0.1", 56324);
        set4(&h4.dst, &h4.dst_len, "192.168.0.11", 443);
        set6(&h6.src, &h6.src_len, "2001:db8::1", 65535);
        set6(&h6.dst, &h6.dst_len, "::ffff:10.0.0.1", 0);
        setun(&hu.src, &hu.src_len, "/run/client.sock");
        setun(&hu.dst, &hu.dst_len, "/run/ember/app.sock");
        for (int v = 1; v <= 2; v++) {
                round_trip(&h4, v, "TCP4", "192.168.0.1:56324");
                round_trip(&h6, v, "TCP6", "[2001:db8::1]:65535");
                round_trip(&local, v, "LOCAL", "unknown");
        }
        round_trip(&hu, 2, "UNIX", "/run/client.sock");
        round_trip(&hu, 1, "UNIX (becomes UNKNOWN)", "unknown");

        n = proxy_encode(&h4, 1, b, sizeof(b));
        ok("v1 TCP4 is the spec's example line",
           n == 47 && memcmp(b, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", 47) == 0);
        n = proxy_encode(&hu, 1, b, sizeof(b));
        ok("v1 cannot carry AF_UNIX: 'PROXY UNKNOWN\\r\\n'", n == 15 && memcmp(b, "PROXY UNKNOWN\r\n", 15) == 0);
        n = proxy_encode(&local, 1, b, sizeof(b));
        ok("v1 LOCAL: 'PROXY UNKNOWN\\r\\n'", n == 15 && memcmp(b, "PROXY UNKNOWN\r\n", 15) == 0);
        v2(health, 0x20, 0x00, 0, NULL, 0);
        n = proxy_encode(&local, 2, b, sizeof(b));
        ok("v2 LOCAL is HAProxy's 16-byte health check", n == 16 && memcmp(b, health, 16) == 0);
        bad = h4;
        bad.local = true;
        n = proxy_encode(&bad, 2, b, sizeof(b));
        ok("v2 LOCAL with addresses leaves them out", n == 16 && memcmp(b, health, 16) == 0);
        n = proxy_encode(&unspec, 2, b, sizeof(b));
        ok("v2 not LOCAL, AF_UNSPEC: PROXY of family UNSPEC", n == 16 && b[12] == 0x21 && b[13] == 0x00);
        if (parse(b, 16, &back, NULL) == 16)
                ok("and it parses back as such", !back.local && back.family == AF_UNSPEC);
        else
                skip(1, "not parsed");
        n = proxy_encode(&unspec, 1, b, sizeof(b));
        ok("v1 AF_UNSPEC: 'PROXY UNKNOWN\\r\\n'", n == 15 && memcmp(b, "PROXY UNKNOWN\r\n", 15) == 0);

        is_int("v1 TCP4 into one byte less than it needs: -ENOBUFS", proxy_encode(&h4, 1, b, 46), -ENOBUFS);
        is_int("v1 TCP4 into exactly what it needs", proxy_encode(&h4, 1, b, 47), 47);
        is_int("v2 TCP6 into 51 bytes: -ENOBUFS", proxy_encode(&h6, 2, b, 51), -ENOBUFS);
        is_int("v2 TCP6 into 52", proxy_encode(&h6, 2, b, 52), 52);
        is_int("v2 LOCAL into 15 bytes: -ENOBUFS", proxy_encode(&local, 2, b, 15), -ENOBUFS);
        is_int("version 3: -EINVAL", proxy_encode(&h4, 3, b, sizeof(b)), -EINVAL);
        is_int("version 0: -EINVAL", proxy_encode(&h4, 0, b, sizeof(b)), -EINVAL);
        bad = h4;
        bad.family = AF_PACKET;
        is_int("v2 AF_PACKET: -EAFNOSUPPORT", proxy_encode(&bad, 2, b, sizeof(b)), -EAFNOSUPPORT);
        is_int("v1 AF_PACKET: -EAFNOSUPPORT", proxy_encode(&bad, 1, b, sizeof(b)), -EAFNOSUPPORT);
        bad = h4;
        bad.dst = h6.dst;
        bad.dst_len = h6.dst_len;
        is_int("a TCP4 header with an IPv6 destination: -EINVAL", proxy_encode(&bad, 1, b, sizeof(b)), -EINVAL);
        bad = h4;
        bad.src_len = 0;
        is_int("a TCP4 header without a source: -EINVAL", proxy_encode(&bad, 2, b, sizeof(b)), -EINVAL);
}

static void test_format_source(void) {
        proxy_header h = { .family = AF_INET };
        char buf[32];

        set4(&h.src, &h.src_len, "1.2.3.4", 5678);
        is_int("IPv4 source: its length", proxy_format_source(&h, buf, sizeof(buf)), 12);
        is_str("IPv4 source: HOST:PORT", buf, "1.2.3.4:5678");
        is_int("IPv4 source without room for its NUL: -ENOBUFS", proxy_format_source(&h, buf, 12), -ENOBUFS);
        h.family = AF_INET6;
        set6(&h.src, &h.src_len, "::1", 80);
        proxy_format_source(&h, buf, sizeof(buf));
        is_str("IPv6 source: [V6]:PORT", buf, "[::1]:80");
        h.family = AF_UNIX;
        setun(&h.src, &h.src_len, "/path");
        proxy_format_source(&h, buf, sizeof(buf));
        is_str("unix source: its path", buf, "/path");
        setun(&h.src, &h.src_len, "/a\\b");
        proxy_format_source(&h, buf, sizeof(buf));
        is_str("a backslash in a unix path is escaped", buf, "/a\\x5cb");
        h.local = true;
        proxy_format_source(&h, buf, sizeof(buf));
        is_str("local: unknown", buf, "unknown");
        h.local = false;
        h.family = AF_UNSPEC;
        h.src_len = 0;
        proxy_format_source(&h, buf, sizeof(buf));
        is_str("AF_UNSPEC: unknown", buf, "unknown");
        is_int("'unknown' into 7 bytes: -ENOBUFS", proxy_format_source(&h, buf, 7), -ENOBUFS);
}

int main(void) {
        test_v1_spec_examples();
        test_v1_refused();
        test_v1_partial();
        test_v2_spec_examples();
        test_v2_refused();
        test_v2_partial();
        test_trailing_bytes();
        test_encode();
        test_format_source();
        return done();
}
