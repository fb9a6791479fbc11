#pragma once
/* Who listens on a TCP address: the kernel's socket table (sock_diag) names the listening sockets that would get a
 * connection to it, and /proc names the processes that hold them. The supervisor asks before it takes a backend as
 * ready (issue 24: a local user who binds the backend's port first would otherwise get its clients). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

#define TCP_LISTENERS_MAX 1 /* the one the kernel picks (tcp-listener.c says why one is enough) */

typedef struct tcp_listener {
        uint64_t inode; /* the socket's, as /proc/PID/fd names it: socket:[INODE] */
        uid_t uid;      /* who made it (the socket's owner as the kernel keeps it) */
        bool held;      /* set by tcp_listeners_held_by(): a process asked about holds it */
} tcp_listener;

/* The listening TCP socket of our network namespace that a local connection to A (AF_INET or AF_INET6, its port
 * set) would reach, as the kernel's own lookup picks it: A's address over a wildcard, an IPv6 wildcard that is not
 * IPV6_V6ONLY for IPv4 too. Into OUT[0] (N > 0); returns 1, 0 if nobody listens there, or -errno if the kernel
 * could not be asked. Nothing connects: no listener sees anything. */
int tcp_listeners_find(const ember_addr *a, tcp_listener *out, size_t n);

/* Marks (held = true) each of the N listeners whose socket PID has open. Returns how many of them are now held, or
 * -errno if PID's descriptors could not be read (gone: -ENOENT; -EACCES: not ours to read, such as a process that
 * is not dumpable, whose descriptors only CAP_SYS_PTRACE may see, or one of another user where we are not root).
 * As root without CAP_SYS_PTRACE (the backend unit has none), another user's /proc/PID/fd is read with that user's
 * file system ids (setfsuid(), setfsgid()). */
int tcp_listeners_held_by(pid_t pid, tcp_listener *l, size_t n);

/* The process holding socket INODE of user UID, looked for in all of /proc: its pid and comm into *ret_pid and
 * COMM. -ESRCH if none can be seen (another pid namespace's, or not ours to look at). A full scan: only for
 * naming a process that should not be there. */
int tcp_listener_holder(uint64_t inode, uid_t uid, pid_t *ret_pid, char comm[static 16]);
