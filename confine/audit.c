/* Why a backend died: the system call the seccomp policy killed it for, from the kernel's audit record. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "macro.h"

/* The value of KEY=VALUE in an audit record, up to the next space. */
static const char *audit_field(const char *msg, const char *key, char *buf, size_t size) {
        size_t klen = strlen(key);

        for (const char *s = msg; (s = strstr(s, key)); s += klen) {
                if ((s != msg && s[-1] != ' ') || s[klen] != '=')
                        continue;
                s += klen + 1;
                size_t n = strcspn(s, " \n");
                if (n >= size)
                        return NULL;
                memcpy(buf, s, n);
                buf[n] = 0;
                return buf;
        }
        return NULL;
}

int audit_seccomp_killed_syscall(int pid, char *name, unsigned size) {
        _cleanup_close_ int fd = -1;
        char rec[8192], want[32], v[32];
        long arch = -1, nr = -1;

        if (pid <= 0 || !name || size == 0)
                return -EINVAL;
        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        snprintf(want, sizeof(want), "%d", pid);
        /* Each read() returns one record: "PRIO,SEQ,USEC,FLAGS;audit: type=1326 audit(…): … pid=N … sig=31
         * arch=c000003e syscall=NR …". The last kill record of this pid wins. */
        for (;;) {
                ssize_t n = read(fd, rec, sizeof(rec) - 1);
                if (n < 0) {
                        if (errno == EINTR || errno == EPIPE) /* EPIPE: records overwritten under us */
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                rec[n] = 0;
                const char *msg = strchr(rec, ';');
                if (!msg || !strstr(msg, "type=1326"))
                        continue;
                if (!audit_field(msg, "pid", v, sizeof(v)) || strcmp(v, want) != 0)
                        continue;
                /* sig=0 is a logged errno or log decision, not a kill */
                if (!audit_field(msg, "sig", v, sizeof(v)) || strcmp(v, "0") == 0)
                        continue;
                char *end;
                if (!audit_field(msg, "arch", v, sizeof(v)))
                        continue;
                long a = strtol(v, &end, 16);
                if (*end)
                        continue;
                if (!audit_field(msg, "syscall", v, sizeof(v)))
                        continue;
                long s = strtol(v, &end, 10);
                if (*end)
                        continue;
                arch = a;
                nr = s;
        }
        if (nr < 0)
                return -ENOENT;
        _cleanup_free_ char *resolved = seccomp_syscall_resolve_num_arch((uint32_t) arch, (int) nr);
        if (resolved)
                snprintf(name, size, "%s", resolved);
        else
                snprintf(name, size, "%ld", nr);
        return 0;
}
