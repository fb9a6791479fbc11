#pragma once

/* The Landlock ABI this kernel offers: 0 if none (not built in, disabled at boot, or refused by an outer filter),
 * -errno on another failure. ABI 1: files; 4: TCP bind and connect by port; 6: signals and abstract sockets. */
int landlock_abi(void);

#define LANDLOCK_ABI_NET 4
