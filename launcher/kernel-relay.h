#pragma once
/* The experimental in-kernel relay, built only with ./configure --enable-kernel-relay. Without it --relay=kernel is
 * refused as it is parsed (usage_parse_relay), the launcher calls none of this and kernel-relay.c is not compiled:
 * the per-connection launcher carries none of it. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#if ENABLE_KERNEL_RELAY

typedef struct kernel_relay_side {
        int fd;
        uint64_t read_before;  /* what we read ourselves before the hand-over (a PROXY header) */
        uint64_t wrote_before; /* what we wrote ourselves before (the PROXY header we sent) */
        uint64_t taken;        /* what we read off it since: what the kernel passed to us, held back or left */
        uint64_t given;        /* what we wrote into it since */
        size_t len, off;       /* a chunk taken from it, written on to the other up to off */
        bool in_order;         /* all the kernel redirected from it is in the other: what we take may follow */
        bool detached;         /* out of the kernel's hands: see check_backlogs() */
        bool refused;          /* a request for that failed (said once) */
        uint64_t retry_at;     /* not asked again before (CLOCK_MONOTONIC µs) */
        uint64_t quiet_since;  /* when its window was clamped before that, 0 if not */
        uint64_t quiet_received; /* its tcpi_bytes_received at the last look since */
        int clamp_before;      /* its TCP_WINDOW_CLAMP before */
        bool eof, done;        /* EOF seen on it; its EOF passed on to the other */
        uint64_t short_at, short_since; /* written into it while short of what came for it, and since when */
} kernel_relay_side;

typedef struct kernel_relay {
        const char *app;
        kernel_relay_side s[2]; /* client, backend */
        uint64_t seen;          /* bytes received and acked on both at the last look, for the idle timeout */
        uint64_t check_seen;    /* the same at the last look at the backlogs */
        uint64_t check_every, next_check; /* how often we look at the backlogs (µs), and when next */
} kernel_relay;

/* Hands both sockets to the app's supervisor (relay.sock), to be relayed in the kernel from now on. 1 if they are,
 * 0 if not (not offered, refused, not both TCP: splice them instead), -ETIMEDOUT if the supervisor did not answer
 * (then neither is safe: close the connection). */
int kernel_relay_begin(const char *app, int client, int backend, kernel_relay *ret);
/* Waits for the end as relay() would: half-closes passed on once the kernel delivered the bytes before them,
 * until both directions are done (0), an error or reset, idle_timeout without traffic (-ETIMEDOUT), or *stop
 * (-EINTR). -EPROTO: the kernel lost or repeated bytes; both sockets are then set to be reset as they close. */
int kernel_relay_wait(kernel_relay *k, uint64_t idle_timeout, volatile sig_atomic_t *stop);
/* What the kernel took from FROM: what its TCP received, less its FIN, what we read before the hand-over and since,
 * and what waits for us to read (exposed for tests/unit/test-kernel-relay.c). */
int kernel_relay_took(const kernel_relay_side *from, uint64_t *ret);
#endif
