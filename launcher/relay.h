#pragma once
#include <signal.h>
#include <stdint.h>

/* Moves bytes both ways with splice() until both directions have seen EOF (passed on as shutdown(SHUT_WR)),
 * an error, idle_timeout without traffic, or *stop. Returns 0 on a clean end. */
int relay(int client, int backend, uint64_t idle_timeout, volatile sig_atomic_t *stop);
