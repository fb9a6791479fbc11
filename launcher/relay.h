#pragma once
#include <signal.h>
#include <stdint.h>

/* Turns Nagle off on both sides (TCP_NODELAY, where they are TCP), then moves bytes both ways with splice() until
 * both directions have seen EOF (passed on as shutdown(SHUT_WR)), an error, idle_timeout without traffic, or *stop.
 * Returns 0 on a clean end. */
int relay(int client, int backend, uint64_t idle_timeout, volatile sig_atomic_t *stop);
/* TCP_NODELAY on both, as relay() sets it: for the in-kernel relay, whose sends from the kernel Nagle would hold up
 * as much. */
void relay_nodelay(int client, int backend);
