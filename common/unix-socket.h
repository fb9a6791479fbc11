#pragma once
/* Unix sockets named by a path that someone less trusted may control (a backend's socket, in a directory the backend
 * writes): opened once without following symlinks, checked, and then reached through that descriptor, so that
 * nothing resolves the path a second time. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* An O_PATH descriptor of PATH (absolute) with no symlink and no /proc magic link followed in any of its components
 * (-ELOOP if there is one), and its stat into *ret_st (may be NULL). -ENOTSOCK if it is not a socket (*ret_st then
 * says what it is). */
int unix_socket_open(const char *path, struct stat *ret_st);

/* A new stream socket connected to the socket PATH_FD (from unix_socket_open()) names, through /proc/self/fd: the
 * inode checked is the one connected to. TIMEOUT_USEC > 0 bounds a connect that waits for room in a full backlog
 * (SO_SNDTIMEO: EAGAIN then); 0 waits as long as it takes. */
int unix_socket_connect_fd(int path_fd, uint64_t timeout_usec);

/* 1 if a socket of this network namespace listens on the socket file ST describes (its inode and device), 0 if one
 * is bound to it but does not listen (yet), -ESRCH if none of this namespace is bound to it (a file left over, or
 * a socket of another network namespace), other -errno if the kernel could not be asked (NETLINK_SOCK_DIAG).
 * Asks the kernel's socket table (sock_diag): nothing connects to the socket, so its server sees nothing. */
int unix_socket_listening(const struct stat *st);
