#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#define USEC_INFINITY UINT64_MAX
#define USEC_PER_MSEC ((uint64_t) 1000)
#define USEC_PER_SEC ((uint64_t) 1000000)
#define APP_NAME_MAX 64

/* A parsed ADDR: HOST:PORT, [V6]:PORT, PORT, or an absolute unix socket path. */
typedef struct ember_addr {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                struct sockaddr_un un;
                struct sockaddr_storage storage;
        };
        socklen_t len;
        bool port_only; /* given as a bare PORT */
        bool port_auto; /* HOST:auto: a free port is picked for each backend run (the port is 0 until then) */
} ember_addr;

/* A bare PORT means 127.0.0.1:PORT for a backend; callers that listen may widen it. */
int parse_addr(const char *s, ember_addr *ret);
/* A backend's ADDR: also HOST:auto, [V6]:auto and a bare "auto" (127.0.0.1:auto). */
int parse_backend_addr(const char *s, ember_addr *ret);
/* HOST:auto for an address whose port is still to be picked. */
int format_addr(const ember_addr *a, char *buf, size_t size);
/* "500ms", "2s", "1m30s", "1h", plain seconds, or "infinity" (USEC_INFINITY). */
int parse_duration(const char *s, uint64_t *ret_usec);
bool app_name_is_valid(const char *s);
/* A named policy (NAME.policy in the policy directory): [A-Za-z0-9_.-]+, not starting with '.'. */
bool policy_name_is_valid(const char *s);
/* Decimal, no sign, no garbage, optional trailing newline. */
int parse_uint64(const char *s, uint64_t *ret);
