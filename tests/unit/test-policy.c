/* Policy files: parsing, errors as FILE:LINE, groups, modes, the shipped policies, loading filters into a child,
 * naming the syscall that got a process killed, and confine_prepare()/confine_exec(). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "audit.h"
#include "policy.h"
#include "policy-groups.h"
#include "tap.h"

static void set_policy_dir(void) {
        char buf[4096];
        const char *top = getenv("top_srcdir");

        if (getenv("EMBER_POLICY_DIR"))
                return;
        snprintf(buf, sizeof(buf), "%s/confine/policies", top ? top : ".");
        setenv("EMBER_POLICY_DIR", buf, 1);
}

/* Parses text as FILE; returns the policy or NULL, with the error in *error. */
static ember_policy *parse(const char *text, char **error) {
        ember_policy *p = NULL;
        free(*error);
        *error = NULL;
        if (policy_parse_string(text, "test.policy", &p, error) < 0)
                return NULL;
        return p;
}

static void test_parse_errors(void) {
        static const struct {
                const char *text;
                const char *error;
        } cases[] = {
                { "mode allow-list\n\nallwo read\n", "test.policy:3: unknown directive 'allwo'" },
                { "allow read no_such_call\n", "test.policy:1: unknown system call 'no_such_call'" },
                { "# c\nallow @nope\n", "test.policy:2: unknown syscall group '@nope'" },
                { "action errno EWHATEVER\n", "test.policy:1: unknown errno 'EWHATEVER'" },
                { "action errno 0\n", "test.policy:1: unknown errno '0'" },
                { "action errno\n", "test.policy:1: 'action errno' takes one errno name or number" },
                { "action kill\naction log\n", "test.policy:2: 'action' given twice" },
                { "action stop\n", "test.policy:1: 'action' takes 'errno NAME', 'kill' or 'log'" },
                { "mode allow-list\nmode deny-list\n", "test.policy:2: 'mode' given twice" },
                { "allow read\nmode deny-list\n", "test.policy:2: 'mode' must come before" },
                { "mode maybe\n", "test.policy:1: unknown mode 'maybe'" },
                { "mode none\nallow read\n", "test.policy:2: 'mode none' takes no rules" },
                { "mode none\naction kill\n", "test.policy:2: 'mode none' takes no action" },
                { "allow\n", "test.policy:1: 'allow' needs at least one syscall or @group" },
                { "deny-namespaces usr\n", "test.policy:1: unknown namespace type 'usr'" },
                { "deny-namespaces\n", "test.policy:1: 'deny-namespaces' needs" },
                { "allow read # a comment\r\nallow write\tbogus_call\n", "test.policy:2: unknown system call 'bogus_call'" },
        };
        char *error = NULL;

        for (size_t i = 0; i < ELEMENTS(cases); i++) {
                ember_policy *p = parse(cases[i].text, &error);
                ok(tap_fmt("parse error \"%s\"", cases[i].error),
                   !p && error && strncmp(error, cases[i].error, strlen(cases[i].error)) == 0);
                if (p || !error)
                        diag("got %s", p ? "a policy" : "no message");
                else if (strncmp(error, cases[i].error, strlen(cases[i].error)) != 0)
                        diag("got '%s'", error);
                policy_free(p);
        }
        free(error);
}

static void test_syntax(void) {
        char *error = NULL;
        ember_policy *p;

        p = parse("# only a comment\n\n   \t\n", &error);
        ok("an empty policy is an allow-list", p && policy_get_mode(p) == POLICY_MODE_ALLOW_LIST);
        is_str("the default action is errno EPERM", p ? policy_get_action(p) : NULL, "errno EPERM");
        ok("an empty allow-list allows nothing", p && policy_allows(p, "read") == 0);
        policy_free(p);

        p = parse("action errno 13\nallow read", &error);
        is_str("errno by number; last line without newline", p ? policy_get_action(p) : NULL, "errno EACCES");
        ok("allow read", p && policy_allows(p, "read") == 1);
        policy_free(p);

        p = parse("mode deny-list\naction kill\ndeny @mount\nallow chroot\n", &error);
        ok("mode deny-list", p && policy_get_mode(p) == POLICY_MODE_DENY_LIST);
        is_str("action kill", p ? policy_get_action(p) : NULL, "kill");
        ok("deny-list allows what it does not name", p && policy_allows(p, "read") == 1);
        ok("deny @mount denies its members",
           p && policy_allows(p, "mount") == 0 && policy_allows(p, "pivot_root") == 0);
        ok("a later allow takes one back", p && policy_allows(p, "chroot") == 1);
        policy_free(p);

        p = parse("action log\nallow @file-system\ndeny openat\nallow openat\ndeny unlink", &error);
        is_str("action log", p ? policy_get_action(p) : NULL, "log");
        ok("later lines win",
           p && policy_allows(p, "openat") == 1 && policy_allows(p, "unlink") == 0 && policy_allows(p, "mkdir") == 1);
        policy_free(p);

        p = parse("allow read\n", &error);
        is_int("policy_allows: not a syscall", p ? policy_allows(p, "no_such_call") : 0, -EINVAL);
        policy_free(p);

#if defined(__x86_64__)
        p = parse("allow socketcall read\n", &error);
        ok("socketcall (known to libseccomp, absent on x86-64) is skipped silently", p != NULL);
        is_int("policy_allows: not on this architecture", p ? policy_allows(p, "socketcall") : 0, -ENOENT);
        policy_free(p);
#else
        skip(2, "x86-64 only");
#endif
        free(error);
}

static bool word_in(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *s = list; (s = strstr(s, word)); s += n)
                if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == 0))
                        return true;
        return false;
}

static void test_groups(void) {
        char *error = NULL, text[128];
        unsigned n = 0, parsed = 0;
        ember_policy *p;

        for (const char *g; (g = policy_group_name(n)); n++) {
                snprintf(text, sizeof(text), "allow %s\n", g);
                p = parse(text, &error);
                parsed += p != NULL;
                if (!p)
                        diag("%s: %s", g, error);
                policy_free(p);
        }
        ok(tap_fmt("systemd's syscall groups are known (%u)", n), n >= 28);
        is_int("each group parses", parsed, n);

        static const char *const need[] = {
                "@system-service", "@privileged", "@mount", "@module", "@reboot", "@swap", "@raw-io", "@debug",
                "@obsolete", "@cpu-emulation", "@clock", "@keyring", "@basic-io", "@file-system", "@network-io",
                "@process", "@signal", "@timer", "@io-event", "@ipc", "@memlock", "@resources", "@sync", "@aio",
                "@chown", "@setuid", "@default", "@pkey",
        };
        unsigned found = 0;
        for (size_t i = 0; i < ELEMENTS(need); i++)
                found += policy_group_members(need[i]) != NULL;
        is_int("all groups named in ember.policy(5) exist", found, ELEMENTS(need));
        ok("an unknown group has no members", policy_group_members("@nope") == NULL);

        const char *m = policy_group_members("@system-service");
        ok("@system-service includes @basic-io and @network-io, not @mount",
           m && word_in(m, "@basic-io") && word_in(m, "@network-io") && !word_in(m, "@mount"));
        m = policy_group_members("@mount");
        ok("@mount's members", m && word_in(m, "mount") && word_in(m, "umount2") && word_in(m, "pivot_root"));
        m = policy_group_members("@reboot");
        ok("@reboot's members", m && word_in(m, "reboot") && word_in(m, "kexec_load"));

        p = parse("allow @privileged\n", &error);
        ok("nested groups resolve: @privileged pulls in @reboot, @chown",
           p && policy_allows(p, "reboot") == 1 && policy_allows(p, "setuid") == 1 && policy_allows(p, "chown") == 1);
        ok("and nothing else", p && policy_allows(p, "read") == 0);
        policy_free(p);

        p = parse("allow @system-service\n", &error);
        ok("@system-service resolves through its nested groups",
           p && policy_allows(p, "read") == 1 && policy_allows(p, "accept4") == 1 && policy_allows(p, "epoll_wait") == 1 &&
                   policy_allows(p, "clone") == 1 && policy_allows(p, "execve") == 1 && policy_allows(p, "keyctl") == 1);
        ok("@system-service lacks mount, ptrace",
           p && policy_allows(p, "mount") == 0 && policy_allows(p, "ptrace") == 0);
        policy_free(p);
        free(error);
}

static void test_shipped(void) {
        static const char *const denied[] = {
                "mount",     "umount2",     "pivot_root", "chroot",          "ptrace",    "process_vm_readv",
                "process_vm_writev", "kexec_load", "bpf",  "init_module",     "finit_module", "delete_module",
                "reboot",    "swapon",      "swapoff",    "clock_settime",   "settimeofday", "adjtimex",
                "keyctl",    "add_key",     "request_key", "perf_event_open", "setns",     "io_uring_setup",
                "userfaultfd", "open_by_handle_at", "acct",
#if defined(__x86_64__)
                "ioperm",    "iopl",        "modify_ldt",
#endif
        };
        static const char *const allowed[] = {
                "read",  "write",  "openat", "close", "mmap",   "socket", "bind",    "listen", "accept4", "epoll_wait",
                "clone", "execve", "futex",  "setuid", "setgroups", "chown", "sendfile", "prctl", "wait4", "getrandom",
        };
        char *error = NULL;
        ember_policy *p = NULL;
        int r;

        free(error);

        error = NULL;

        r = policy_load("default", &p, &error);
        is_int("the shipped default policy loads", r, 0);
        if (r < 0)
                diag("%s", error);
        if (p) {
                unsigned d = 0, a = 0;
                for (size_t i = 0; i < ELEMENTS(denied); i++) {
                        if (policy_allows(p, denied[i]) != 0)
                                diag("default allows %s", denied[i]);
                        d += policy_allows(p, denied[i]) == 0;
                }
                for (size_t i = 0; i < ELEMENTS(allowed); i++) {
                        if (policy_allows(p, allowed[i]) != 1)
                                diag("default denies %s", allowed[i]);
                        a += policy_allows(p, allowed[i]) == 1;
                }
                is_int("default denies mount, ptrace, kexec, bpf, modules, reboot, swap, clock, "
                                            "raw I/O, keyrings, setns, io_uring, userfaultfd, ...",
                       d, ELEMENTS(denied));
                is_int("default allows what servers need", a, ELEMENTS(allowed));
                is_str("default answers EPERM", policy_get_action(p), "errno EPERM");
                is_int("default has a syscall filter and a namespace filter", policy_n_filters(p), 2);
                ok("it came from default.policy", strstr(policy_get_path(p), "/default.policy") != NULL);
        } else
                skip(5, "default did not load");
        policy_free(p);
        p = NULL;

        free(error);

        error = NULL;

        r = policy_load("strict", &p, &error);
        is_int("the shipped strict policy loads", r, 0);
        ok("strict: no credential changes, no chown, no mount, no ptrace",
           p && policy_allows(p, "read") == 1 && policy_allows(p, "setuid") == 0 && policy_allows(p, "chown") == 0 &&
                   policy_allows(p, "mount") == 0 && policy_allows(p, "ptrace") == 0);
        is_str("strict kills", p ? policy_get_action(p) : NULL, "kill");
        policy_free(p);
        p = NULL;

        free(error);

        error = NULL;

        r = policy_load("container", &p, &error);
        is_int("the shipped container policy loads", r, 0);
        if (r < 0)
                diag("%s", error);
        ok("container allows what a runtime builds a container with: mount, pivot_root, setns, unshare, keyctl, seccomp",
           p && policy_allows(p, "mount") == 1 && policy_allows(p, "pivot_root") == 1 && policy_allows(p, "setns") == 1 &&
                   policy_allows(p, "unshare") == 1 && policy_allows(p, "keyctl") == 1 && policy_allows(p, "seccomp") == 1);
        ok("container denies the host as a whole: modules, kexec, reboot, swap, clock, raw I/O",
           p && policy_allows(p, "init_module") == 0 && policy_allows(p, "kexec_load") == 0 &&
                   policy_allows(p, "reboot") == 0 && policy_allows(p, "swapon") == 0 &&
                   policy_allows(p, "settimeofday") == 0 && policy_allows(p, "iopl") == 0);
        is_str("container answers EPERM", p ? policy_get_action(p) : NULL, "errno EPERM");
        policy_free(p);
        p = NULL;

        free(error);

        error = NULL;

        r = policy_load("none", &p, &error);
        is_int("the shipped none policy loads", r, 0);
        ok("none has no filter", p && policy_get_mode(p) == POLICY_MODE_NONE && policy_n_filters(p) == 0);
        ok("none allows everything", p && policy_allows(p, "mount") == 1);
        is_int("applying none is a no-op", p ? policy_apply(p) : -1, 0);
        policy_free(p);
        p = NULL;

        free(error);

        error = NULL;

        r = policy_load("no-such-policy", &p, &error);
        is_int("an unknown policy name: -ENOENT", r, -ENOENT);
        ok("naming the file looked for", error && strstr(error, "no-such-policy.policy"));
        free(error);
        error = NULL;
        r = policy_load("..", &p, &error);
        is_int("an odd policy name (\"..\") is refused", r, -EINVAL);
        free(error);
        error = NULL;
        r = policy_load("./no-such-file.policy", &p, &error);
        is_int("a spec with '/' in it is a path", r, -ENOENT);
        free(error);
        error = NULL;
        r = policy_load("", &p, &error);
        is_int("an empty name is refused", r, -EINVAL);
        free(error);
}

static void test_load_file(void) {
        char path[] = "/tmp/test-policy.XXXXXX";
        char *error = NULL, expect[128];
        ember_policy *p = NULL;
        int fd, r;

        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                skip(3, "cannot create a temporary file");
                return;
        }
        dprintf(fd, "mode deny-list\n# two\ndeny ptrace\ndeny @frobnicate\n");
        close(fd);
        r = policy_load(path, &p, &error);
        is_int("a broken policy file: -EINVAL", r, -EINVAL);
        snprintf(expect, sizeof(expect), "%s:4: unknown syscall group '@frobnicate'", path);
        is_str("the error is FILE:LINE: message", error, expect);
        unlink(path);
        free(error);
        error = NULL;
        r = policy_load(path, &p, &error);
        is_int("a missing policy file: -ENOENT", r, -ENOENT);
        free(error);
}

/* Forks; the child applies the policy, runs fn and exits with its errno (0 on success); returns the wait status. */
static int in_child(const ember_policy *p, long (*fn)(void)) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (policy_apply(p) < 0)
                        _exit(100);
                errno = 0;
                _exit(fn() < 0 ? errno : 0);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return status;
}

static long do_mount(void) {
        return mount("none", "/nonexistent/test-policy", "tmpfs", 0, NULL);
}
static long do_getpid(void) {
        return syscall(SYS_getpid);
}
static long do_ptrace(void) {
        return syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 0x7ffffff0, NULL, NULL);
}
static long do_unshare_user(void) {
        return syscall(SYS_unshare, CLONE_NEWUSER);
}

static void test_apply(void) {
        char *error = NULL;
        ember_policy *p = NULL;
        int st;

        if (policy_load("default", &p, &error) < 0) {
                skip(4, "default did not load");
                free(error);
                return;
        }
        st = in_child(p, do_mount);
        ok("a child under default: mount fails with EPERM", WIFEXITED(st) && WEXITSTATUS(st) == EPERM);
        st = in_child(p, do_getpid);
        ok("getpid works", WIFEXITED(st) && WEXITSTATUS(st) == 0);
        st = in_child(p, do_unshare_user);
        ok("unshare(CLONE_NEWUSER) fails with EPERM", WIFEXITED(st) && WEXITSTATUS(st) == EPERM);
        policy_free(p);
        p = parse("mode deny-list\naction errno ENOTUNIQ\ndeny mount\n", &error);
        st = p ? in_child(p, do_mount) : -1;
        ok("a custom errno comes back from the filter", WIFEXITED(st) && WEXITSTATUS(st) == ENOTUNIQ);
        policy_free(p);
        free(error);
}

static void test_killed_syscall(void) {
        char *error = NULL, name[64] = "";
        ember_policy *p = parse("mode deny-list\naction kill\ndeny ptrace\n", &error);
        int fd, r = -ENOENT, st = 0;

        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 || !p) {
                skip(3, fd < 0 ? "cannot read /dev/kmsg here" : "policy did not parse");
                if (fd >= 0)
                        close(fd);
                policy_free(p);
                free(error);
                return;
        }
        close(fd);
        /* The kernel rate-limits audit lines in the kernel log (10 per 5 s); try again once the burst is over. */
        for (int attempt = 0; attempt < 3 && r == -ENOENT; attempt++) {
                if (attempt > 0)
                        sleep(6);
                pid_t pid = fork();
                if (pid == 0) {
                        if (policy_apply(p) < 0)
                                _exit(100);
                        do_ptrace();
                        _exit(0);
                }
                if (pid < 0 || waitpid(pid, &st, 0) < 0)
                        break;
                r = audit_seccomp_killed_syscall(pid, name, sizeof(name));
        }
        ok("action kill: the child dies of SIGSYS", WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
        is_int("audit_seccomp_killed_syscall finds the kernel's audit record", r, 0);
        is_str("and names the system call", name, "ptrace");
        policy_free(p);
        free(error);
}

static void test_confine(void) {
        char *error = NULL;
        confine c;
        int r;

        r = confine_prepare(&c, "default", "no-such-user-for-ember", &error);
        is_int("confine_prepare: unknown user is -ESRCH", r, -ESRCH);
        ok("with a message naming the user", error && strstr(error, "no-such-user-for-ember"));
        free(error);

        char bad[] = "/tmp/test-policy-bad.XXXXXX";
        int fd = mkostemp(bad, O_CLOEXEC);
        if (fd >= 0) {
                dprintf(fd, "allow read\nallow nothing_like_a_syscall\n");
                close(fd);
                r = confine_prepare(&c, bad, NULL, &error);
                is_int("confine_prepare: a bad policy is -EINVAL", r, -EINVAL);
                char want[128];
                snprintf(want, sizeof(want), "%s:2: ", bad);
                ok("with FILE:LINE", error && strncmp(error, want, strlen(want)) == 0);
                free(error);
                unlink(bad);
        } else
                skip(2, "cannot create a temporary file");

        r = confine_prepare(&c, "default", NULL, &error);
        is_int("confine_prepare without a user", r, 0);
        ok("keeps the credentials, has the policy", r == 0 && !c.drop_user && c.policy);
        free(error);
        error = NULL;

        if (r == 0) {
                /* The child keeps fd 11 (asked for) and loses fd 10; sh reports which it sees. */
                int pfd[2], st;
                char out[64] = "";
                if (pipe2(pfd, O_CLOEXEC) < 0)
                        bail_out("pipe2 failed");
                pid_t pid = fork();
                if (pid == 0) {
                        int keep[] = { 11 };
                        dup2(pfd[1], 1);
                        dup2(pfd[1], 10); /* no FD_CLOEXEC after dup2 */
                        dup2(pfd[1], 11);
                        char *argv[] = { "sh", "-c", "test -e /proc/self/fd/10 && echo leaked; "
                                                     "test -e /proc/self/fd/11 && echo kept", NULL };
                        r = confine_exec(&c, keep, 1, argv);
                        _exit(100);
                }
                close(pfd[1]);
                ssize_t n = read(pfd[0], out, sizeof(out) - 1);
                out[n > 0 ? n : 0] = 0;
                close(pfd[0]);
                waitpid(pid, &st, 0);
                is_str("confine_exec closes fds >= 3 except those kept", out, "kept\n");
        } else
                skip(1, "confine_prepare failed");
        confine_done(&c);

        if (getuid() == 0) {
                r = confine_prepare(&c, "none", "nobody", &error);
                is_int("confine_prepare --user=nobody", r, 0);
                ok("resolves nobody's uid and gid", r == 0 && c.drop_user && c.uid != 0 && c.gid != 0);
                confine_done(&c);
                free(error);
        } else
                skip(2, "not root");
}

int main(void) {
        set_policy_dir();
        test_parse_errors();
        test_syntax();
        test_groups();
        test_shipped();
        test_load_file();
        test_apply();
        test_killed_syscall();
        test_confine();
        return done();
}
