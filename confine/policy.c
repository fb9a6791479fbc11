/* Seccomp policies as data: parsing, compiling to BPF before fork, loading after fork. See ember.policy(5). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"
#include "policy.h"
#include "policy-groups.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/local/share/ember"
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static const struct {
        const char *name;
        unsigned long flag;
} namespace_flags[] = {
        { "cgroup", CLONE_NEWCGROUP },
        { "ipc", CLONE_NEWIPC },
        { "mnt", CLONE_NEWNS },
        { "net", CLONE_NEWNET },
        { "pid", CLONE_NEWPID },
        { "time", CLONE_NEWTIME },
        { "user", CLONE_NEWUSER },
        { "uts", CLONE_NEWUTS },
};

#define MAX_FILTERS 2

struct ember_policy {
        char *path;
        policy_mode mode;
        uint32_t action; /* SCMP_ACT_* for what is denied */
        char action_str[32];
        int *set; /* native syscall numbers: allowed (allow-list) or denied (deny-list) */
        size_t n_set, n_allocated;
        unsigned long ns_flags; /* deny-namespaces */
        bool restrict_suid_sgid, restrict_realtime; /* the unit settings of those names, in the backend's filter */
        bool restrict_families;
        uint64_t families; /* restrict-address-families: the ones allowed, a bit each (all are below 64) */
        bool have_mode, have_action, have_rules;
        struct sock_fprog filters[MAX_FILTERS]; /* compiled before fork, in load order */
        unsigned n_filters;
};

typedef struct parser {
        ember_policy *p;
        const char *file;
        unsigned line;
        char **error;
} parser;

static void set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static void set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return;
        free(*ret_error);
        *ret_error = NULL;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
}

static int parse_fail(parser *ps, const char *fmt, ...) _printf_(2, 3);
static int parse_fail(parser *ps, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        set_error(ps->error, "%s:%u: %s", ps->file, ps->line, msg ?: "out of memory");
        return -EINVAL;
}

static ssize_t set_find(const ember_policy *p, int nr) {
        for (size_t i = 0; i < p->n_set; i++)
                if (p->set[i] == nr)
                        return (ssize_t) i;
        return -1;
}

static int set_put(ember_policy *p, int nr, bool add) {
        ssize_t i = set_find(p, nr);

        if (!add) {
                if (i >= 0)
                        p->set[i] = p->set[--p->n_set];
                return 0;
        }
        if (i >= 0)
                return 0;
        if (p->n_set == p->n_allocated) {
                size_t n = p->n_allocated ? p->n_allocated * 2 : 256;
                int *s = realloc(p->set, n * sizeof(int));
                if (!s)
                        return -ENOMEM;
                p->set = s;
                p->n_allocated = n;
        }
        p->set[p->n_set++] = nr;
        return 0;
}

static int put_name(parser *ps, const char *name, bool add, unsigned depth);

static int put_group(parser *ps, const char *name, bool add, unsigned depth) {
        const char *m = policy_group_members(name);

        if (!m)
                return parse_fail(ps, "unknown syscall group '%s'", name);
        if (depth > 8)
                return parse_fail(ps, "syscall groups nested too deeply at '%s'", name);
        for (m += strspn(m, " "); *m; m += strspn(m, " ")) {
                char member[64];
                size_t n = strcspn(m, " ");
                int r = 0;

                if (n < sizeof(member)) {
                        memcpy(member, m, n);
                        member[n] = 0;
                        if (member[0] == '@')
                                r = put_group(ps, member, add, depth + 1);
                        else {
                                /* Group members unknown to this libseccomp or absent on this architecture are
                                 * skipped: the groups are data shared by all architectures. */
                                int nr = seccomp_syscall_resolve_name(member);
                                if (nr >= 0 && set_put(ps->p, nr, add) < 0)
                                        r = parse_fail(ps, "out of memory");
                        }
                }
                if (r < 0)
                        return r;
                m += n;
        }
        return 0;
}

/* "@group" or a syscall name. A single name must at least be known to libseccomp; one that libseccomp knows
 * but that does not exist on this architecture (e.g. socketcall on x86-64) is skipped. */
static int put_name(parser *ps, const char *name, bool add, unsigned depth) {
        if (name[0] == '@')
                return put_group(ps, name, add, depth);

        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return parse_fail(ps, "unknown system call '%s'", name);
        if (nr < 0)
                return 0;
        if (set_put(ps->p, nr, add) < 0)
                return parse_fail(ps, "out of memory");
        return 0;
}

static int parse_errno(const char *s) {
        char *end;
        long v;

        if (isdigit((unsigned char) s[0])) {
                errno = 0;
                v = strtol(s, &end, 10);
                if (errno != 0 || *end || v <= 0 || v > 4095)
                        return -EINVAL;
                return (int) v;
        }
        for (int e = 1; e < 4096; e++) {
                const char *n = strerrorname_np(e);
                if (n && strcmp(n, s) == 0)
                        return e;
        }
        return -EINVAL;
}

static int parse_mode(parser *ps, char **args, size_t n) {
        ember_policy *p = ps->p;

        if (n != 1)
                return parse_fail(ps, "'mode' takes one of allow-list, deny-list, none");
        if (p->have_mode)
                return parse_fail(ps, "'mode' given twice");
        if (p->have_rules)
                return parse_fail(ps, "'mode' must come before allow, deny and deny-namespaces");
        if (strcmp(args[0], "allow-list") == 0)
                p->mode = POLICY_MODE_ALLOW_LIST;
        else if (strcmp(args[0], "deny-list") == 0)
                p->mode = POLICY_MODE_DENY_LIST;
        else if (strcmp(args[0], "none") == 0)
                p->mode = POLICY_MODE_NONE;
        else
                return parse_fail(ps, "unknown mode '%s' (allow-list, deny-list or none)", args[0]);
        p->have_mode = true;
        return 0;
}

static int parse_action(parser *ps, char **args, size_t n) {
        ember_policy *p = ps->p;

        if (p->have_action)
                return parse_fail(ps, "'action' given twice");
        if (n == 1 && strcmp(args[0], "kill") == 0) {
                p->action = SCMP_ACT_KILL_PROCESS;
                snprintf(p->action_str, sizeof(p->action_str), "kill");
        } else if (n == 1 && strcmp(args[0], "log") == 0) {
                p->action = SCMP_ACT_LOG;
                snprintf(p->action_str, sizeof(p->action_str), "log");
        } else if (n == 2 && strcmp(args[0], "errno") == 0) {
                int e = parse_errno(args[1]);
                if (e < 0)
                        return parse_fail(ps, "unknown errno '%s' (a name such as EPERM, or 1-4095)", args[1]);
                p->action = SCMP_ACT_ERRNO((uint32_t) e);
                const char *en = strerrorname_np(e);
                if (en)
                        snprintf(p->action_str, sizeof(p->action_str), "errno %s", en);
                else
                        snprintf(p->action_str, sizeof(p->action_str), "errno %d", e);
        } else if (n >= 1 && strcmp(args[0], "errno") == 0)
                return parse_fail(ps, "'action errno' takes one errno name or number");
        else
                return parse_fail(ps, "'action' takes 'errno NAME', 'kill' or 'log'");
        p->have_action = true;
        return 0;
}

static int parse_rule(parser *ps, bool allow, char **args, size_t n) {
        ember_policy *p = ps->p;

        if (n == 0)
                return parse_fail(ps, "'%s' needs at least one syscall or @group", allow ? "allow" : "deny");
        if (p->mode == POLICY_MODE_NONE)
                return parse_fail(ps, "'mode none' takes no rules");
        p->have_rules = true;
        /* allow-list: allow adds to the set, deny removes; deny-list: the other way round. Later lines win. */
        bool add = allow == (p->mode == POLICY_MODE_ALLOW_LIST);
        for (size_t i = 0; i < n; i++) {
                int r = put_name(ps, args[i], add, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_namespaces(parser *ps, char **args, size_t n) {
        ember_policy *p = ps->p;

        if (n == 0)
                return parse_fail(ps, "'deny-namespaces' needs 'all' or namespace types");
        if (p->mode == POLICY_MODE_NONE)
                return parse_fail(ps, "'mode none' takes no rules");
        p->have_rules = true;
        for (size_t i = 0; i < n; i++) {
                bool all = strcmp(args[i], "all") == 0, found = false;
                for (size_t j = 0; j < ELEMENTSOF(namespace_flags); j++)
                        if (all || strcmp(args[i], namespace_flags[j].name) == 0 ||
                            (strcmp(args[i], "mount") == 0 && namespace_flags[j].flag == CLONE_NEWNS)) {
                                p->ns_flags |= namespace_flags[j].flag;
                                found = true;
                        }
                if (!found)
                        return parse_fail(ps, "unknown namespace type '%s' (all, cgroup, ipc, mnt, net, pid, time, user, uts)",
                                          args[i]);
        }
        return 0;
}

static const struct { const char *name; int family; } address_families[] = {
        { "AF_UNIX", AF_UNIX }, { "AF_INET", AF_INET }, { "AF_INET6", AF_INET6 }, { "AF_NETLINK", AF_NETLINK },
        { "AF_PACKET", AF_PACKET }, { "AF_VSOCK", AF_VSOCK }, { "AF_ALG", AF_ALG }, { "AF_BLUETOOTH", AF_BLUETOOTH },
        { "AF_CAN", AF_CAN }, { "AF_XDP", 44 },
};

/* restrict-suid-sgid, restrict-realtime, restrict-address-families FAMILY...: what the unit settings of those names
 * did to the backend when systemd's sandbox was around it (ember-sandbox --landlock leaves them to the policy, as
 * PID 1 would build one filter per setting at every cold start). */
static int parse_restriction(parser *ps, const char *what, char **args, size_t n) {
        ember_policy *p = ps->p;

        if (p->mode == POLICY_MODE_NONE)
                return parse_fail(ps, "'mode none' takes no rules");
        p->have_rules = true;
        if (strcmp(what, "restrict-address-families") != 0) {
                if (n != 0)
                        return parse_fail(ps, "'%s' takes no arguments", what);
                *(strcmp(what, "restrict-suid-sgid") == 0 ? &p->restrict_suid_sgid : &p->restrict_realtime) = true;
                return 0;
        }
        if (n == 0)
                return parse_fail(ps, "'restrict-address-families' needs the families allowed (AF_UNIX AF_INET ...)");
        p->restrict_families = true;
        for (size_t i = 0; i < n; i++) {
                bool found = false;
                for (size_t j = 0; j < ELEMENTSOF(address_families); j++)
                        if (strcmp(args[i], address_families[j].name) == 0) {
                                p->families |= 1ULL << address_families[j].family;
                                found = true;
                        }
                if (!found)
                        return parse_fail(ps, "unknown address family '%s'", args[i]);
        }
        return 0;
}

static int parse_line(parser *ps, char *line) {
        char *args[64], *save = NULL, *tok;
        size_t n = 0;

        line[strcspn(line, "#")] = 0;
        for (tok = strtok_r(line, " \t\r\v\f", &save); tok; tok = strtok_r(NULL, " \t\r\v\f", &save)) {
                if (n == ELEMENTSOF(args))
                        return parse_fail(ps, "too many words on one line (at most %zu)", ELEMENTSOF(args));
                args[n++] = tok;
        }
        if (n == 0)
                return 0;
        if (strcmp(args[0], "mode") == 0)
                return parse_mode(ps, args + 1, n - 1);
        if (strcmp(args[0], "action") == 0)
                return parse_action(ps, args + 1, n - 1);
        if (strcmp(args[0], "allow") == 0)
                return parse_rule(ps, true, args + 1, n - 1);
        if (strcmp(args[0], "deny") == 0)
                return parse_rule(ps, false, args + 1, n - 1);
        if (strcmp(args[0], "deny-namespaces") == 0)
                return parse_namespaces(ps, args + 1, n - 1);
        if (strcmp(args[0], "restrict-suid-sgid") == 0 || strcmp(args[0], "restrict-realtime") == 0 ||
            strcmp(args[0], "restrict-address-families") == 0)
                return parse_restriction(ps, args[0], args + 1, n - 1);
        return parse_fail(ps, "unknown directive '%s' (mode, action, allow, deny, deny-namespaces, restrict-suid-sgid, "
                          "restrict-realtime, restrict-address-families)", args[0]);
}

static void release_ctx(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* The BPF program libseccomp would load, as bytes we can hand to seccomp(2) in the child without libseccomp. */
static int export_filter(scmp_filter_ctx ctx, struct sock_fprog *ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ struct sock_filter *buf = NULL;
        off_t size;
        int r;

        fd = memfd_create("ember-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        size = lseek(fd, 0, SEEK_END);
        if (size < 0)
                return -errno;
        if (size == 0 || size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -E2BIG;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        if (pread(fd, buf, size, 0) != size)
                return -EIO;
        ret->len = (unsigned short) (size / sizeof(struct sock_filter));
        ret->filter = buf;
        buf = NULL;
        return 0;
}

static int new_ctx(uint32_t default_action, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx = seccomp_init(default_action);
        int r;

        if (!ctx)
                return -ENOMEM;
        /* Rules are for the native ABI only; any other (ia32 through int 0x80, x32) kills the process. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0) {
                seccomp_release(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

/* The second filter: clone/unshare/setns flag checks (and compile_restrictions() below). clone3 keeps its flags behind a pointer that seccomp cannot
 * read, so it gets ENOSYS and the C library falls back to clone(2). */
static int compile_namespaces(const ember_policy *p, scmp_filter_ctx ctx) {
        const uint32_t act = p->action;
        int r;

        for (size_t j = 0; j < ELEMENTSOF(namespace_flags); j++) {
                unsigned long f = namespace_flags[j].flag;
                if (!(p->ns_flags & f))
                        continue;
                if (f != CLONE_NEWTIME) { /* clone(2) keeps the exit signal in those low bits */
#if defined(__s390__) || defined(__s390x__)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(clone), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
#else
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
#endif
                        if (r < 0)
                                return r;
                }
                r = seccomp_rule_add(ctx, act, SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return r;
                r = seccomp_rule_add(ctx, act, SCMP_SYS(setns), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return r;
        }
        /* setns(fd, 0) joins whatever namespace fd refers to. */
        r = seccomp_rule_add(ctx, act, SCMP_SYS(setns), 1, SCMP_A1(SCMP_CMP_EQ, 0));
        if (r < 0)
                return r;
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* Set-user-ID or set-group-ID bits, by chmod or at creation (RestrictSUIDSGID=). */
static int compile_suid_sgid(const ember_policy *p, scmp_filter_ctx ctx) {
        const uint32_t act = p->action;
        int r = 0;

        for (int bit = 0; r >= 0 && bit < 2; bit++) {
                const scmp_datum_t m = bit ? S_ISGID : S_ISUID;
                r = seccomp_rule_add(ctx, act, SCMP_SYS(chmod), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(fchmod), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(fchmodat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(creat), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(open), 2, SCMP_A1(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
                                             SCMP_A2(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(openat), 2, SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
                                             SCMP_A3(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(mknod), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, m, m));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(mknodat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, m, m));
        }
        return r;
}

/* Real-time scheduling (RestrictRealtime=): SCHED_FIFO, SCHED_RR, SCHED_DEADLINE, with or without
 * SCHED_RESET_ON_FORK; sched_setattr keeps its policy behind a pointer, so it is denied. */
static int compile_realtime(const ember_policy *p, scmp_filter_ctx ctx) {
        static const int rt[] = { SCHED_FIFO, SCHED_RR, 6 /* SCHED_DEADLINE */ };
        int r = seccomp_rule_add(ctx, p->action, SCMP_SYS(sched_setattr), 0);

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(rt); i++)
                r = seccomp_rule_add(ctx, p->action, SCMP_SYS(sched_setscheduler), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffff, (scmp_datum_t) rt[i]));
        return r;
}

/* socket() and socketpair() only for the families allowed (RestrictAddressFamilies=); EAFNOSUPPORT otherwise, as
 * systemd says it. */
static int compile_families(const ember_policy *p, scmp_filter_ctx ctx) {
        const uint32_t act = SCMP_ACT_ERRNO(EAFNOSUPPORT);
        int r = 0;

        for (int f = 0; r >= 0 && f < 64; f++)
                if (!(p->families & (1ULL << f))) {
                        r = seccomp_rule_add(ctx, act, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) f));
                        if (r >= 0)
                                r = seccomp_rule_add(ctx, act, SCMP_SYS(socketpair), 1,
                                                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) f));
                }
        if (r >= 0)
                r = seccomp_rule_add(ctx, act, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_GE, 64));
        if (r >= 0)
                r = seccomp_rule_add(ctx, act, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_GE, 64));
        return r;
}

/* The second filter's argument checks besides the namespaces' (default: allow). */
static int compile_restrictions(const ember_policy *p, scmp_filter_ctx ctx) {
        int r = p->ns_flags ? compile_namespaces(p, ctx) : 0;

        if (r >= 0 && p->restrict_suid_sgid)
                r = compile_suid_sgid(p, ctx);
        if (r >= 0 && p->restrict_realtime)
                r = compile_realtime(p, ctx);
        if (r >= 0 && p->restrict_families)
                r = compile_families(p, ctx);
        return r;
}

static int compile_main(const ember_policy *p, scmp_filter_ctx ctx) {
        const int nr_clone3 = SCMP_SYS(clone3);
        const uint32_t enosys = SCMP_ACT_ERRNO(ENOSYS);
        int r;

        if (p->mode == POLICY_MODE_ALLOW_LIST) {
                for (size_t i = 0; i < p->n_set; i++) {
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, p->set[i], 0);
                        if (r < 0)
                                return r;
                }
                /* A denied clone3 says ENOSYS, so that threads and fork still work through clone(2). */
                if (set_find(p, nr_clone3) < 0 && p->action != enosys)
                        return seccomp_rule_add(ctx, enosys, nr_clone3, 0);
                return 0;
        }
        for (size_t i = 0; i < p->n_set; i++) {
                r = seccomp_rule_add(ctx, p->set[i] == nr_clone3 ? enosys : p->action, p->set[i], 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compile(ember_policy *p, char **ret_error) {
        _cleanup_(release_ctx) scmp_filter_ctx ns = NULL, main_ctx = NULL;
        int r;

        if (p->mode == POLICY_MODE_NONE)
                return 0;
        /* Loaded in this order: the main filter may well deny seccomp(2) itself, so it goes last. */
        if (p->ns_flags || p->restrict_suid_sgid || p->restrict_realtime || p->restrict_families) {
                r = new_ctx(SCMP_ACT_ALLOW, &ns);
                if (r >= 0)
                        r = compile_restrictions(p, ns);
                if (r >= 0)
                        r = export_filter(ns, &p->filters[p->n_filters]);
                if (r < 0)
                        goto fail;
                p->n_filters++;
        }
        r = new_ctx(p->mode == POLICY_MODE_ALLOW_LIST ? p->action : SCMP_ACT_ALLOW, &main_ctx);
        if (r >= 0)
                r = compile_main(p, main_ctx);
        if (r >= 0)
                r = export_filter(main_ctx, &p->filters[p->n_filters]);
        if (r < 0)
                goto fail;
        p->n_filters++;
        return 0;
fail:
        set_error(ret_error, "%s: cannot compile the seccomp filter: %s", p->path, strerror(-r));
        return r;
}

int policy_parse_string(const char *text, const char *filename, ember_policy **ret, char **ret_error) {
        parser ps = { .file = filename ?: "<string>", .error = ret_error };
        ember_policy *p;
        int r = 0;

        if (ret_error)
                *ret_error = NULL;
        if (!text || !ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->path = strdup(ps.file);
        if (!p->path) {
                free(p);
                return -ENOMEM;
        }
        p->mode = POLICY_MODE_ALLOW_LIST;
        p->action = SCMP_ACT_ERRNO(EPERM);
        snprintf(p->action_str, sizeof(p->action_str), "errno EPERM");
        ps.p = p;

        for (const char *s = text; *s && r >= 0;) {
                size_t n = strcspn(s, "\n");
                char *line = strndup(s, n);
                if (!line) {
                        set_error(ret_error, "%s: out of memory", ps.file);
                        r = -ENOMEM;
                        break;
                }
                ps.line++;
                r = parse_line(&ps, line);
                free(line);
                s += n;
                if (*s == '\n')
                        s++;
        }
        if (r >= 0 && p->mode == POLICY_MODE_NONE && p->have_action)
                r = parse_fail(&ps, "'mode none' takes no action");
        if (r >= 0)
                r = compile(p, ret_error);
        if (r < 0) {
                policy_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static int read_text_file(const char *path, char **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                if (allocated - n < 4096) {
                        if (allocated >= (1u << 24))
                                return -EFBIG;
                        char *b = realloc(buf, allocated + 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated += 65536;
                }
                ssize_t k = read(fd, buf + n, allocated - n - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (memchr(buf, 0, n))
                return -EBADMSG;
        buf[n] = 0;
        *ret = buf;
        buf = NULL;
        return 0;
}

int policy_load(const char *spec, ember_policy **ret, char **ret_error) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!spec || !spec[0]) {
                set_error(ret_error, "empty policy name");
                return -EINVAL;
        }
        if (strcmp(spec, "none") == 0) /* needs no file: works uninstalled and with a damaged data dir */
                return policy_parse_string("mode none\n", "none", ret, ret_error);
        if (strchr(spec, '/'))
                path = strdup(spec);
        else if (!policy_name_is_valid(spec)) {
                set_error(ret_error, "invalid policy name '%s' (a file must be given as a path containing '/')", spec);
                return -EINVAL;
        } else {
                const char *dir = getenv("EMBER_POLICY_DIR");
                if (!dir || !dir[0])
                        dir = PKGDATADIR "/policies";
                if (asprintf(&path, "%s/%s.policy", dir, spec) < 0)
                        path = NULL;
        }
        if (!path) {
                set_error(ret_error, "out of memory");
                return -ENOMEM;
        }
        r = read_text_file(path, &text);
        if (r == -EBADMSG) {
                set_error(ret_error, "%s: not a text file", path);
                return -EINVAL;
        }
        if (r < 0) {
                if (r == -ENOENT && !strchr(spec, '/'))
                        set_error(ret_error, "unknown policy '%s': cannot read %s: %s", spec, path, strerror(-r));
                else
                        set_error(ret_error, "cannot read policy %s: %s", path, strerror(-r));
                return r;
        }
        return policy_parse_string(text, path, ret, ret_error);
}

int policy_apply(const ember_policy *p) {
        if (!p || p->mode == POLICY_MODE_NONE)
                return 0;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        for (unsigned i = 0; i < p->n_filters; i++) {
                const struct sock_fprog *prog = &p->filters[i];
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0) {
                        if (errno != ENOSYS)
                                return -errno;
                        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
                                return -errno;
                }
        }
        return 0;
}

void policy_free(ember_policy *p) {
        if (!p)
                return;
        for (unsigned i = 0; i < p->n_filters; i++)
                free(p->filters[i].filter);
        free(p->set);
        free(p->path);
        free(p);
}

policy_mode policy_get_mode(const ember_policy *p) {
        return p->mode;
}

const char *policy_get_path(const ember_policy *p) {
        return p->path;
}

const char *policy_get_action(const ember_policy *p) {
        return p->mode == POLICY_MODE_NONE ? "none" : p->action_str;
}

unsigned policy_n_filters(const ember_policy *p) {
        return p->n_filters;
}

int policy_allows(const ember_policy *p, const char *name) {
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return -EINVAL;
        if (nr < 0)
                return -ENOENT;
        switch (p->mode) {
        case POLICY_MODE_NONE:
                return 1;
        case POLICY_MODE_ALLOW_LIST:
                return set_find(p, nr) >= 0;
        case POLICY_MODE_DENY_LIST:
        default:
                return set_find(p, nr) < 0;
        }
}
