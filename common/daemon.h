#pragma once
#include <stddef.h>

/* systemd's two protocols for daemons, without libsystemd (whose loader cost every exec would pay):
 * sd_notify(3)'s datagram to $NOTIFY_SOCKET and sd_listen_fds(3)'s LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES. */

#define LISTEN_FDS_START 3

/* Sends MESSAGE ("READY=1", ...) to $NOTIFY_SOCKET: a path, or '@' for the abstract namespace. Returns 1 if sent,
 * 0 if there is no $NOTIFY_SOCKET, -errno otherwise. */
int notify_send(const char *message);

/* The number of sockets passed from LISTEN_FDS_START on if LISTEN_PID is us, else 0; copies the first name of
 * LISTEN_FDNAMES into FIRST_NAME (empty if none) and unsets the three variables either way, as children must not
 * see them. -EBADMSG for a LISTEN_FDS that is not a number. */
int listen_fds_take(char *first_name, size_t size);
