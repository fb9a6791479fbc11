#pragma once

/* Loads the verdict program for maps PEERS (sockets by their peer's cookie) and FLOWS (by a socket's cookie, the
 * TCP sequence number where its relayed bytes end: a uint32_t): its fd, or -errno (the verifier's word is logged at
 * debug level). */
int relay_prog_load(int peers, int flows);
