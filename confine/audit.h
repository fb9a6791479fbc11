#pragma once
/* Best effort: the name of the system call that made the kernel kill PID by seccomp, from the last audit record
 * (type 1326) of that pid in /dev/kmsg. Returns 0 and fills NAME, or a negative errno if it cannot be told. */
int audit_seccomp_killed_syscall(int pid, char *name, unsigned size);
