#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

/* Under the lock (waited for until DEADLINE, then -ETIMEDOUT): take this connection's lease and count it. */
int session_join(int dirfd, uint64_t deadline, int *ret_lease);
/* Under the lock: drop the lease and the count; the last one out records idle-since. Closes lease. */
int session_leave(int dirfd, int lease);
/* A socket of TYPE connected to NAME in the app's state directory. */
int state_socket_connect(const char *app, const char *name, int type);
/* The backend connection of a session: its socket, the lease on its generation (-1 from a supervisor of an older
 * ember) and the address reached (a HOST:auto backend's is known only now). */
typedef struct backend_conn {
        int fd;
        int lease;
        ember_addr address;
} backend_conn;

/* Connects to the serving generation's backend, waking it first if it is not warm. Returns -ETIMEDOUT if it did
 * not become ready by DEADLINE (START_TIMEOUT is for the log line), -EHOSTDOWN if it failed to start, -EPERM if a
 * unix backend's socket was refused (a symlink on its path, not a socket, or not OWNER's; said in the log).
 * command != NULL: inetd mode, start it ourselves. */
int backend_acquire(int dirfd, const char *app, const ember_addr *backend, uid_t owner, char **command,
                    uint64_t start_timeout, uint64_t deadline, backend_conn *ret);
