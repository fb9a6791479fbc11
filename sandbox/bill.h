#pragma once
/* What a backend run cost: CPU time and peak memory. From the unit's cgroup where systemd gave us one on the
 * unified (v2) hierarchy (cpu.stat usage_usec, memory.peak: the whole backend, children included); else from
 * wait4()'s rusage of the backend once it has ended (it and the descendants it waited for). */
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

typedef struct bill {
        uint64_t cpu_usec;
        uint64_t memory_peak_bytes;
        bool from_cgroup;
} bill;

/* Our own cgroup v2 directory (/sys/fs/cgroup/PATH) if it is a service's that has cpu.stat; -ENOENT otherwise. */
int bill_cgroup_open(int *ret_dirfd);
/* The cgroup's figures so far. */
int bill_read_cgroup(int cgroup_fd, bill *ret);
/* The figures of an ended backend. */
void bill_from_rusage(const struct rusage *ru, bill *ret);
