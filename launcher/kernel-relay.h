#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct kernel_relay_side {
        int fd;
        uint64_t read_before;  /* what we read ourselves before the hand-over (a PROXY header) */
        uint64_t wrote_before; /* what we wrote ourselves before (the PROXY header we sent) */
        bool eof, done;        /* EOF seen on it; its EOF passed on to the other */
        uint64_t short_at, short_since; /* written into it while short of what came for it, and since when */
} kernel_relay_side;

typedef struct kernel_relay {
        kernel_relay_side s[2]; /* client, backend */
        uint64_t seen;          /* bytes received and acked on both at the last look, for the idle timeout */
} kernel_relay;

/* Hands both sockets to the app's supervisor (relay.sock), to be relayed in the kernel from now on. 1 if they are,
 * 0 if not (not offered, refused, not both TCP: splice them instead), -ETIMEDOUT if the supervisor did not answer
 * (then neither is safe: close the connection). */
int kernel_relay_begin(const char *app, int client, int backend, kernel_relay *ret);
/* Waits for the end as relay() would: half-closes passed on once the kernel delivered the bytes before them,
 * until both directions are done (0), an error or reset, idle_timeout without traffic (-ETIMEDOUT), or *stop
 * (-EINTR). -EPROTO: the kernel lost or repeated bytes; both sockets are then set to be reset as they close. */
int kernel_relay_wait(kernel_relay *k, uint64_t idle_timeout, volatile sig_atomic_t *stop);
