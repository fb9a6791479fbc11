/* probe NAME: attempts one system call a sandboxed server should (or should not) be able to make, with
 * arguments chosen so that the call does no harm if it does reach the kernel, and prints what happened:
 *   "allowed"        the call succeeded
 *   "denied EPERM"   it failed with EPERM, what the shipped policies return (an unprivileged caller gets EPERM
 *                    from the kernel for some of these calls too: the tests compare with --policy=none as root,
 *                    and with a policy whose action is an errno the kernel never returns for the call)
 *   "errno ENAME"    it failed with another errno: either the kernel rejected the harmless arguments (it was let
 *                    through), or a policy with "action errno ENAME" denied it
 * or the probe is killed by SIGSYS (action kill, or a foreign ABI), which the caller sees in the exit status.
 * Exit status: 0 after printing, 2 for an unknown probe. `probe --list` prints the names, `probe --nr NAME` the
 * number of the system call NAME makes (as the kernel's audit records show it). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef long (*probe_fn)(void);

static long p_mount(void) {
        return syscall(SYS_mount, "none", "/nonexistent/ember-probe", "tmpfs", 0UL, NULL);
}
static long p_umount(void) {
        return syscall(SYS_umount2, "/nonexistent/ember-probe", 0);
}
static long p_chroot(void) {
        return syscall(SYS_chroot, "/nonexistent/ember-probe");
}
static long p_unshare_user(void) {
        return syscall(SYS_unshare, CLONE_NEWUSER);
}
static long p_unshare_mount(void) {
        return syscall(SYS_unshare, CLONE_NEWNS);
}
static long p_unshare_net(void) {
        return syscall(SYS_unshare, CLONE_NEWNET);
}
/* clone(CLONE_NEWUSER): the child, if any, exits at once. */
static long p_clone_newuser(void) {
        long r = syscall(SYS_clone, (unsigned long) (CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0UL);
        if (r == 0)
                _exit(0);
        if (r > 0) {
                waitpid((pid_t) r, NULL, 0);
                return 0;
        }
        return r;
}
/* An ordinary fork through clone(2), as glibc does it: must keep working. */
static long p_fork(void) {
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return -1;
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                errno = ECHILD;
                return -1;
        }
        return 0;
}
/* clone3 with a NULL argument: the kernel says EFAULT/EINVAL, the policy ENOSYS. */
static long p_clone3(void) {
        return syscall(SYS_clone3, NULL, 0UL);
}
static long p_setns(void) {
        return syscall(SYS_setns, -1, 0);
}
static long p_ptrace(void) {
        return syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 0x7ffffff0, NULL, NULL); /* no such pid */
}
static long p_process_vm_readv(void) {
        return syscall(SYS_process_vm_readv, getpid(), NULL, 0UL, NULL, 0UL, 0UL);
}
static long p_perf_event_open(void) {
        return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL);
}
static long p_kexec(void) {
        return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdeadbeefUL); /* invalid flags */
}
static long p_bpf(void) {
        return syscall(SYS_bpf, 0xdead, NULL, 0U); /* invalid command */
}
static long p_init_module(void) {
        return syscall(SYS_init_module, NULL, 0UL, "");
}
static long p_finit_module(void) {
        return syscall(SYS_finit_module, -1, "", 0);
}
static long p_reboot(void) {
        return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: never reboots */
}
static long p_swapon(void) {
        return syscall(SYS_swapon, "/nonexistent/ember-probe", 0);
}
static long p_settime(void) {
        struct timespec ts = { 0, 0 };
        return syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts); /* the monotonic clock cannot be set */
}
#if defined(__x86_64__) || defined(__i386__)
static long p_ioperm(void) {
        return syscall(SYS_ioperm, 0UL, 0UL, 0); /* empty range */
}
static long p_iopl(void) {
        return syscall(SYS_iopl, 4); /* invalid level */
}
#endif
static long p_keyctl(void) {
        return syscall(SYS_keyctl, 0x7fff, 0UL, 0UL, 0UL, 0UL); /* invalid operation */
}
static long p_add_key(void) {
        return syscall(SYS_add_key, NULL, NULL, NULL, 0UL, 0);
}
static long p_io_uring(void) {
        return syscall(SYS_io_uring_setup, 0U, NULL); /* zero entries */
}
static long p_userfaultfd(void) {
        long r = syscall(SYS_userfaultfd, 0xdead0000); /* invalid flags */
        return r;
}
static long p_getpid(void) {
        return syscall(SYS_getpid);
}
static long p_socket(void) {
        long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                close((int) fd);
        return fd;
}
/* The unit settings the default policy stands in for when systemd's sandbox is not around the backend. Each makes the
 * kernel fail another way when the filter lets it through (ENOENT, EINVAL, EPERM or ESOCKTNOSUPPORT). */
static long p_chmod_suid(void) {
        return syscall(SYS_chmod, "/nonexistent/ember-probe", 04755);
}
static long p_sched_fifo(void) {
        return syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, NULL); /* no parameters: EINVAL */
}
static long p_socket_packet(void) {
        long fd = syscall(SYS_socket, AF_PACKET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* no such type for packets */
        if (fd >= 0)
                close((int) fd);
        return fd;
}
#if defined(__x86_64__)
/* getpid through the i386 ABI (int 0x80) from 64-bit code: the filter's foreign-ABI action applies. */
static long p_i386_getpid(void) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L /* i386 __NR_getpid */) : "memory");
        if (r < 0 && r > -4096) {
                errno = (int) -r;
                return -1;
        }
        return r;
}
#endif

static const struct {
        const char *name;
        long nr; /* the system call it makes, for matching the kernel's audit records */
        probe_fn fn;
} probes[] = {
        { "mount", SYS_mount, p_mount },
        { "umount", SYS_umount2, p_umount },
        { "chroot", SYS_chroot, p_chroot },
        { "unshare-user", SYS_unshare, p_unshare_user },
        { "unshare-mount", SYS_unshare, p_unshare_mount },
        { "unshare-net", SYS_unshare, p_unshare_net },
        { "clone-newuser", SYS_clone, p_clone_newuser },
        { "clone3", SYS_clone3, p_clone3 },
        { "fork", SYS_clone, p_fork },
        { "setns", SYS_setns, p_setns },
        { "ptrace", SYS_ptrace, p_ptrace },
        { "process_vm_readv", SYS_process_vm_readv, p_process_vm_readv },
        { "perf_event_open", SYS_perf_event_open, p_perf_event_open },
        { "kexec", SYS_kexec_load, p_kexec },
        { "bpf", SYS_bpf, p_bpf },
        { "init_module", SYS_init_module, p_init_module },
        { "finit_module", SYS_finit_module, p_finit_module },
        { "reboot", SYS_reboot, p_reboot },
        { "swapon", SYS_swapon, p_swapon },
        { "settime", SYS_clock_settime, p_settime },
#if defined(__x86_64__) || defined(__i386__)
        { "ioperm", SYS_ioperm, p_ioperm },
        { "iopl", SYS_iopl, p_iopl },
#endif
        { "keyctl", SYS_keyctl, p_keyctl },
        { "add_key", SYS_add_key, p_add_key },
        { "io_uring", SYS_io_uring_setup, p_io_uring },
        { "userfaultfd", SYS_userfaultfd, p_userfaultfd },
        { "getpid", SYS_getpid, p_getpid },
        { "socket", SYS_socket, p_socket },
        { "chmod-suid", SYS_chmod, p_chmod_suid },
        { "sched-fifo", SYS_sched_setscheduler, p_sched_fifo },
        { "socket-packet", SYS_socket, p_socket_packet },
#if defined(__x86_64__)
        { "i386-getpid", 20, p_i386_getpid },
#endif
};

int main(int argc, char *argv[]) {
        if (argc == 3 && strcmp(argv[1], "--nr") == 0) {
                for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
                        if (strcmp(argv[2], probes[i].name) == 0) {
                                printf("%ld\n", probes[i].nr);
                                return 0;
                        }
                return 2;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: %s PROBE | --list | --nr PROBE\n", argv[0]);
                return 2;
        }
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                if (strcmp(argv[1], "--list") == 0) {
                        printf("%s\n", probes[i].name);
                        continue;
                }
                if (strcmp(argv[1], probes[i].name) != 0)
                        continue;
                errno = 0;
                long r = probes[i].fn();
                if (r >= 0)
                        printf("allowed\n");
                else if (errno == EPERM)
                        printf("denied EPERM\n");
                else
                        printf("errno %s\n", strerrorname_np(errno) ?: "unknown-errno");
                fflush(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--list") == 0)
                return 0;
        fprintf(stderr, "%s: unknown probe '%s'\n", argv[0], argv[1]);
        return 2;
}
