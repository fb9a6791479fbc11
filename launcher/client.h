#pragma once
#include <stdint.h>

#include "proxy.h"

/* The connection's own addresses (peer and local), as a PROXY header would carry them. */
int client_socket_addresses(int fd, proxy_header *ret);
/* --accept-proxy-protocol: the upstream balancer's v1 or v2 header, read strictly by DEADLINE and consumed, the
 * client's own bytes after it left for the relay. 1 with the header; 0 if the connection closed before a byte;
 * -EBADMSG or -ETIMEDOUT with *WHY saying what was wrong; -errno. */
int client_read_proxy_header(int fd, uint64_t deadline, proxy_header *ret, const char **why);
/* --proxy-protocol: CLIENT's addresses to the backend as a VERSION (1 or 2) header, in one write. */
int client_send_proxy_header(int backend, const proxy_header *client, int version);
