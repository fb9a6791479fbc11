#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include "landlock.h"
#include "lockdown.h"
#include "macro.h"

/* ---- seccomp ---------------------------------------------------------------------------------------------- */

#if defined(__x86_64__) && !defined(__ILP32__)
#  define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#  define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#  define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && __BYTE_ORDER == __LITTLE_ENDIAN
#  define NATIVE_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#  define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#  define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#  define NATIVE_ARCH AUDIT_ARCH_S390X
#endif

/* Everything the launcher does once locked down: the state files, locks, the backend and wake sockets, the
 * journal, the splice relay, and what libc needs for memory, signals and time. Most frequent first (the filter
 * is a linear scan). No fork, exec, kill, ptrace, mount, namespace, module, key, bpf or io_uring call. */
static const int allowed_syscalls[] = {
        __NR_splice,
#ifdef __NR_poll
        __NR_poll,
#endif
#ifdef __NR_ppoll
        __NR_ppoll,
#endif
#ifdef __NR_ppoll_time64
        __NR_ppoll_time64,
#endif
        __NR_read, __NR_write, __NR_readv, __NR_writev, __NR_pread64, __NR_pwrite64, __NR_close,
#ifdef __NR_open
        __NR_open,
#endif
        __NR_openat,
        /* a unix backend's socket is opened with RESOLVE_NO_SYMLINKS (O_PATH: no file is opened for access) */
#ifdef __NR_openat2
        __NR_openat2,
#else
        437,
#endif
        __NR_fstat,
#ifdef __NR_fstat64
        __NR_fstat64,
#endif
#ifdef __NR_newfstatat
        __NR_newfstatat,
#endif
#ifdef __NR_fstatat64
        __NR_fstatat64,
#endif
#ifdef __NR_statx
        __NR_statx,
#endif
        __NR_lseek,
#ifdef __NR__llseek
        __NR__llseek,
#endif
        __NR_fcntl,
#ifdef __NR_fcntl64
        __NR_fcntl64,
#endif
        __NR_flock, __NR_ftruncate,
#ifdef __NR_ftruncate64
        __NR_ftruncate64,
#endif
#ifdef __NR_socketcall
        __NR_socketcall, /* i386 may multiplex its socket calls through it: no arguments to check then */
#endif
        __NR_connect, __NR_getsockopt, __NR_shutdown, __NR_sendmsg, __NR_sendto, __NR_recvfrom, __NR_recvmsg,
        __NR_getpeername, __NR_getsockname,
#ifdef __NR_pipe
        __NR_pipe,
#endif
        __NR_pipe2,
#ifdef __NR_clock_gettime
        __NR_clock_gettime,
#endif
#ifdef __NR_clock_gettime64
        __NR_clock_gettime64,
#endif
#ifdef __NR_gettimeofday
        __NR_gettimeofday,
#endif
#ifdef __NR_time
        __NR_time,
#endif
#ifdef __NR_clock_nanosleep
        __NR_clock_nanosleep,
#endif
#ifdef __NR_clock_nanosleep_time64
        __NR_clock_nanosleep_time64,
#endif
#ifdef __NR_nanosleep
        __NR_nanosleep,
#endif
        __NR_setitimer, /* bounds the wait for the state lock */
        __NR_getpid, __NR_gettid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid,
        __NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn,
#ifdef __NR_sigreturn
        __NR_sigreturn,
#endif
        __NR_restart_syscall, __NR_exit, __NR_exit_group,
        __NR_brk, __NR_munmap, __NR_mremap, __NR_madvise, __NR_futex,
};

#if __BYTE_ORDER == __LITTLE_ENDIAN
#  define ARG_LOW(i) (offsetof(struct seccomp_data, args[i]))
#else
#  define ARG_LOW(i) (offsetof(struct seccomp_data, args[i]) + 4)
#endif

#define STMT(code, k) ((struct sock_filter) BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter) BPF_JUMP((code), (k), (jt), (jf)))
#define RET_ALLOW STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define RET_ERRNO(e) STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))
#define LOAD(off) STMT(BPF_LD | BPF_W | BPF_ABS, (off))
/* if (A == k) fall through to the next instruction, else skip it */
#define IF_EQ(k) JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, 1)

typedef struct filter {
        struct sock_filter insn[256];
        size_t n;
} filter;

static void emit(filter *f, struct sock_filter insn) {
        if (f->n < ELEMENTSOF(f->insn))
                f->insn[f->n] = insn;
        f->n++; /* an overflow is caught before the filter is loaded */
}

/* if (A == k) return ret; */
static void emit_return_if(filter *f, uint32_t k, struct sock_filter ret) {
        emit(f, IF_EQ(k));
        emit(f, ret);
}

/* if (nr == syscall && (arg & flag)) return EPERM; else if (nr == syscall) return ALLOW; — MemoryDenyWriteExecute
 * in its simplest form: the launcher never needs a new executable mapping once it runs. */
static void emit_deny_flag(filter *f, int syscall_nr, unsigned arg, uint32_t flag) {
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) syscall_nr, 0, 4));
        emit(f, LOAD(ARG_LOW(arg)));
        emit(f, JUMP(BPF_JMP | BPF_JSET | BPF_K, flag, 0, 1));
        emit(f, RET_ERRNO(EPERM));
        emit(f, RET_ALLOW);
}

/* socket(): AF_UNIX (wake.sock, notify, journal) of any type, and TCP for the backend; anything else is EAFNOSUPPORT as
 * with RestrictAddressFamilies=. The protocol is checked too: a stream socket of AF_INET or AF_INET6 may be TCP only
 * (0 or IPPROTO_TCP; not SCTP or MPTCP, which Landlock's TCP rules would not govern), a unix one protocol 0 only; any
 * other is EPERM. Each rule either returns or, for another system call, falls through with A unchanged. */
static void emit_socket_rule(filter *f) {
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 15));
        emit(f, LOAD(ARG_LOW(0)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 3, 0));   /* to the type */
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 2, 0));  /* to the type */
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 7, 0));   /* to protocol 0 */
        emit(f, RET_ERRNO(EAFNOSUPPORT));
        emit(f, LOAD(ARG_LOW(1)));
        emit(f, STMT(BPF_ALU | BPF_AND | BPF_K, 0xf)); /* strip SOCK_CLOEXEC and SOCK_NONBLOCK */
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM, 1, 0));
        emit(f, RET_ERRNO(EPERM));
        emit(f, LOAD(ARG_LOW(2)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 3, 0)); /* to allow */
        emit(f, LOAD(ARG_LOW(2)));                                  /* protocol 0: */
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));           /* to allow */
        emit(f, RET_ERRNO(EPERM));
        emit(f, RET_ALLOW);
}

/* setsockopt(): TCP_NODELAY, which the relay sets on both its connections once locked down (under systemd the
 * backend's is made only then), and TCP_WINDOW_CLAMP and SO_LINGER, with which the in-kernel relay quiets a sender
 * before it takes its socket out of the kernel's hands and resets a connection the kernel damaged; any other level
 * or option (buffer sizes, SO_BINDTODEVICE, socket filters, …) is EPERM. */
static void emit_setsockopt_rule(filter *f) {
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 10));
        emit(f, LOAD(ARG_LOW(1)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 3));
        emit(f, LOAD(ARG_LOW(2)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, TCP_NODELAY, 4, 0));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, TCP_WINDOW_CLAMP, 3, 4));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3));
        emit(f, LOAD(ARG_LOW(2)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_LINGER, 0, 1));
        emit(f, RET_ALLOW);
        emit(f, RET_ERRNO(EPERM));
}

/* ioctl(): FIONREAD only, which the in-kernel relay asks of its sockets as it hands them over (what is still queued
 * is for the kernel to relay); any other request (terminal, device, socket configuration) is EPERM. */
static void emit_ioctl_rule(filter *f) {
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 4));
        emit(f, LOAD(ARG_LOW(1)));
        emit(f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, FIONREAD, 0, 1));
        emit(f, RET_ALLOW);
        emit(f, RET_ERRNO(EPERM));
}

int lockdown_seccomp(void) {
#ifndef NATIVE_ARCH
        return -EOPNOTSUPP;
#else
        filter f = { .n = 0 };

        emit(&f, LOAD(offsetof(struct seccomp_data, arch)));
        emit(&f, JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0));
        emit(&f, STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)); /* SystemCallArchitectures=native */
        emit(&f, LOAD(offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
        emit(&f, JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1)); /* the x32 ABI */
        emit(&f, STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
        for (size_t i = 0; i < ELEMENTSOF(allowed_syscalls); i++)
                emit_return_if(&f, (uint32_t) allowed_syscalls[i], RET_ALLOW);
        emit_socket_rule(&f);
        emit_setsockopt_rule(&f);
        emit_ioctl_rule(&f);
        emit_deny_flag(&f, __NR_mmap, 2, PROT_EXEC);
#ifdef __NR_mmap2
        emit_deny_flag(&f, __NR_mmap2, 2, PROT_EXEC);
#endif
        emit_deny_flag(&f, __NR_mprotect, 2, PROT_EXEC);
        emit(&f, RET_ERRNO(EPERM));
        if (f.n > ELEMENTSOF(f.insn))
                return -E2BIG;

        struct sock_fprog prog = { .len = (unsigned short) f.n, .filter = f.insn };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return -errno;
        return 0;
#endif
}

/* ---- Landlock --------------------------------------------------------------------------------------------- */

static uint16_t backend_tcp_port(const ember_addr *backend) {
        if (backend->sa.sa_family == AF_INET)
                return ntohs(backend->in.sin_port);
        if (backend->sa.sa_family == AF_INET6)
                return ntohs(backend->in6.sin6_port);
        return 0;
}

static int landlock_add_rules(int ruleset, int abi, int state_dirfd, const ember_addr *backend) {
        struct path_beneath_attr dir = {
                .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                  LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                                  (abi >= 3 ? FS_TRUNCATE : 0),
                .parent_fd = state_dirfd,
        };
        if (syscall(__NR_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &dir, 0) < 0)
                return -errno;

        uint16_t port = backend_tcp_port(backend);
        if (abi >= LANDLOCK_ABI_NET && port != 0) {
                struct net_port_attr net = { .allowed_access = NET_CONNECT_TCP, .port = port };
                if (syscall(__NR_landlock_add_rule, ruleset, RULE_NET_PORT, &net, 0) < 0)
                        return -errno;
        }
        return 0;
}

/* Nothing on the file system but the state directory; no TCP but a connect to the backend's port; no signal to
 * and no abstract socket of anything outside. */
int lockdown_landlock(int state_dirfd, const ember_addr *backend, int *ret_abi) {
        _cleanup_close_ int ruleset = -1;
        int abi, r;

        *ret_abi = abi = landlock_abi();
        if (abi <= 0)
                return abi < 0 ? abi : -EOPNOTSUPP;

        struct ruleset_attr attr = {
                .handled_access_fs = landlock_fs_rights(abi),
                .handled_access_net = abi >= LANDLOCK_ABI_NET ? NET_BIND_TCP | NET_CONNECT_TCP : 0,
                .scoped = abi >= LANDLOCK_ABI_SCOPE ? SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL : 0,
        };
        ruleset = (int) syscall(__NR_landlock_create_ruleset, &attr, landlock_ruleset_attr_size(abi), 0);
        if (ruleset < 0)
                return -errno;
        r = landlock_add_rules(ruleset, abi, state_dirfd, backend);
        if (r < 0)
                return r;
        if (syscall(__NR_landlock_restrict_self, ruleset, 0) < 0)
                return -errno;
        return 0;
}

int lockdown_no_new_privs(void) {
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int lockdown_apply(int state_dirfd, const ember_addr *backend, lockdown_result *ret) {
        int r, q;

        *ret = (lockdown_result){};
        /* Both need it, and the launcher never gains a privilege by exec anyway. */
        r = lockdown_no_new_privs();
        if (r < 0)
                return r;
        r = lockdown_landlock(state_dirfd, backend, &ret->landlock_abi);
        if (r < 0)
                ret->landlock_abi = 0;
        q = lockdown_seccomp();
        ret->seccomp = q >= 0;
        /* A kernel without Landlock is not an error: seccomp and the unit's settings still apply. */
        if (q < 0)
                return q;
        return r == -EOPNOTSUPP ? 0 : r;
}
