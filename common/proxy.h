/* HAProxy's PROXY protocol, versions 1 and 2 (doc/proxy-protocol.txt): what a balancer puts in front of a
 * connection to say whose it is. The parser is the launcher's first look at client bytes: strict and incremental. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107             /* the spec's longest v1 line, CRLF included */
#define PROXY_V2_ADDR_MAX 512        /* the longest v2 address block (addresses + TLVs) we accept */
#define PROXY_HEADER_MAX (16 + PROXY_V2_ADDR_MAX)

typedef struct proxy_header {
        int version;                 /* 1 or 2 */
        bool local;                  /* v2 command LOCAL, or v1 "PROXY UNKNOWN": a health check; no addresses */
        int family;                  /* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC (local / unknown / v2 UNSPEC) */
        struct sockaddr_storage src, dst;
        socklen_t src_len, dst_len;  /* 0 when there is no address */
} proxy_header;

/* A header at the start of BUF (N bytes, what has arrived so far). Returns the header's length (> 0) once it is
 * complete and valid; 0 if BUF is a proper prefix of what could still become a valid header (read more); -EBADMSG
 * if it cannot be one, with *WHY a static string saying what is wrong ("no PROXY signature", "v1 line longer than
 * 107 bytes", "v2 address block of 600 bytes is over 512", "v2 version 3", "TCP4 address '1.2.3' is not IPv4" ...).
 * *WHY is static storage of this thread, valid until its next call; client bytes in it are made printable. RET is
 * written only on success; WHY may be NULL. */
int proxy_parse(const uint8_t *buf, size_t n, proxy_header *ret, const char **why);
/* HDR in VERSION (1 or 2) into BUF, in one piece as the spec asks; returns its length, or -ENOBUFS / -EAFNOSUPPORT
 * (v1 cannot carry AF_UNIX: it becomes "PROXY UNKNOWN"). LOCAL / AF_UNSPEC headers encode as v2 LOCAL or
 * "PROXY UNKNOWN\r\n"; a v2 header that is not LOCAL but has no addresses (AF_UNSPEC) stays a v2 PROXY of family
 * UNSPEC, as it was received. -EINVAL for another VERSION, or addresses that are not of HDR's family. */
int proxy_encode(const proxy_header *hdr, int version, uint8_t *buf, size_t size);
/* "1.2.3.4:5678", "[::1]:80", "/path", or "unknown", for logs and EMBER_CLIENT=. Bytes of a unix path that are
 * not printable come out as \xNN. Returns the length written (without the NUL), or -ENOBUFS. */
int proxy_format_source(const proxy_header *hdr, char *buf, size_t size);
