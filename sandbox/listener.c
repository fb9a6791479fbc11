/* Only the backend's own listener gets the clients (issue 24): before the supervisor takes a TCP backend as ready,
 * and so before any launcher is told to connect, the listening socket that a connection to the backend's address
 * would reach must be the backend's.
 *
 * How "the backend's" is decided, and why so: the kernel (sock_diag, common/tcp-listener.c) names that listener,
 * its inode and the user who made it, but not who holds it; /proc/PID/fd does. Scanning all of
 * /proc for the holder would cost every cold start a read of every process's descriptors. Instead the supervisor
 * asks only the processes that are the backend's: first the backend and its descendants
 * (/proc/PID/task/TID/children), which is nearly always where the listener is, found in one /proc/BACKEND/fd read;
 * then, under systemd, the processes of its unit's own cgroup (NAME-backend.service's cgroup.procs: the supervisor,
 * its backends, and what they started and left behind, such as a container engine's monitor), which nobody outside
 * the unit can join. In inetd mode the supervisor's cgroup is whatever started it and is shared with strangers, so
 * there only the tree counts.
 *
 * Two more rules, each for what the first cannot see. A listening socket that root made is taken as the backend's:
 * root is trusted (it runs PID 1, the supervisor and emberctl; ember-sandbox(8), DESCRIPTION), and that is how a
 * container engine's server passes (dockerd's containers live in no process tree nor cgroup of ours); a local user
 * cannot make one. And a process that is not dumpable (PR_SET_DUMPABLE 0, or one that changed its ids) shows its
 * descriptors only to CAP_SYS_PTRACE, which the backend unit does not give the supervisor (systemd-analyze security
 * counts it): where a process of the backend's could not be read, a listener that the backend's own user made is
 * taken as the backend's. Another local user's never is.
 *
 * Nobody listening yet is "not ready", as before; then, and only then, a connect probe asks whether the address
 * answers all the same (a port forwarded by a firewall rule to another network namespace: no listener here to own);
 * the table is asked again after such a connect succeeds, so that a listener that appeared in between is judged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "macro.h"
#include "supervisor.h"
#include "tcp-listener.h"

#define TREE_MAX 256 /* processes of the backend's tree looked at; a server with more is a forking one, whose
                      * listener is its first process's anyway */

static uint16_t port_of(const ember_addr *a) {
        return a->sa.sa_family == AF_INET ? ntohs(a->in.sin_port) : ntohs(a->in6.sin6_port);
}

static size_t unheld(const tcp_listener *l, size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                k += !l[i].held;
        return k;
}

/* PID's children, from every one of its threads' lists, appended to TREE. */
static void add_children(pid_t pid, pid_t *tree, size_t *n) {
        char path[64];
        _cleanup_close_ int tasks = -1;
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        tasks = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tasks < 0 || !(d = fdopendir(tasks)))
                return;
        tasks = -1;
        while (*n < TREE_MAX && (de = readdir(d))) {
                char name[300], buf[4096];
                ssize_t len;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(name, sizeof(name), "%s/children", de->d_name);
                _cleanup_close_ int fd = openat(dirfd(d), name, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || (len = read(fd, buf, sizeof(buf) - 1)) <= 0)
                        continue;
                buf[len] = '\0';
                for (char *p = buf, *end; *n < TREE_MAX; p = end) {
                        long child = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        tree[(*n)++] = (pid_t) child;
                }
        }
        closedir(d);
}

/* The backend and its descendants, breadth first, each asked as soon as it is known: the backend itself holds its
 * listener nearly always, and then nothing else is read. Returns true if one of them could not be read. */
static bool ask_tree(pid_t backend, tcp_listener *l, size_t n) {
        pid_t tree[TREE_MAX];
        size_t count = 1;
        bool denied = false;

        tree[0] = backend;
        for (size_t i = 0; i < count && unheld(l, n) > 0; i++) {
                denied = tcp_listeners_held_by(tree[i], l, n) == -EACCES || denied;
                if (unheld(l, n) > 0)
                        add_children(tree[i], tree, &count);
        }
        return denied;
}

/* Our cgroup's path in the hierarchy that systemd runs units in (cgroup v2's, else v1's name=systemd), if it is the
 * cgroup of this app's backend unit, and nobody else's. */
static int unit_cgroup_procs(const char *app, char *buf, size_t size) {
        char self[4096], unit[300];
        _cleanup_close_ int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        static const struct { const char *key, *mount; } h[] = {
                { "0::", "/sys/fs/cgroup" },
                { ":name=systemd:", "/sys/fs/cgroup/systemd" },
        };
        ssize_t len;

        if (fd < 0 || (len = read(fd, self, sizeof(self) - 1)) <= 0)
                return -ENOENT;
        self[len] = '\0';
        snprintf(unit, sizeof(unit), "/%s-backend.service", app);
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                char *p = strstr(self, h[i].key), *nl;
                if (!p || (p != self && p[-1] != '\n' && h[i].key[0] == '0'))
                        continue;
                p += strlen(h[i].key);
                nl = strchrnul(p, '\n');
                if ((size_t) (nl - p) < strlen(unit) || strncmp(nl - strlen(unit), unit, strlen(unit)) != 0)
                        continue;
                snprintf(buf, size, "%s%.*s/cgroup.procs", h[i].mount, (int) (nl - p), p);
                if (access(buf, R_OK) >= 0)
                        return 0;
        }
        return -ENOENT;
}

/* Under systemd, every process of the backend unit's cgroup. Ours must be among them, or the path named another
 * cgroup than ours (a mount that does not match /proc/self/cgroup). Returns true if one could not be read. */
static bool ask_unit_cgroup(const char *app, tcp_listener *l, size_t n) {
        char path[PATH_MAX + 64];
        pid_t pids[TREE_MAX];
        size_t count = 0;
        bool self = false, denied = false;
        FILE *f;
        int pid;

        if (unit_cgroup_procs(app, path, sizeof(path)) < 0 || !(f = fopen(path, "re")))
                return false;
        while (count < TREE_MAX && fscanf(f, "%d", &pid) == 1) {
                self = self || pid == getpid();
                pids[count++] = pid;
        }
        fclose(f);
        for (size_t i = 0; self && i < count && unheld(l, n) > 0; i++)
                if (pids[i] != getpid())
                        denied = tcp_listeners_held_by(pids[i], l, n) == -EACCES || denied;
        return denied;
}

static uid_t backend_uid(const supervisor *s) {
        return s->confine.drop_user ? s->confine.uid : geteuid();
}

static void judge(supervisor *s, tcp_listener *l, size_t n) {
        bool denied = false;

        for (size_t i = 0; i < n; i++)
                l[i].held = l[i].uid == 0;
        if (s->backend > 0 && unheld(l, n) > 0)
                denied = ask_tree(s->backend, l, n);
        if (unheld(l, n) > 0)
                denied = ask_unit_cgroup(s->opt->app, l, n) || denied;
        for (size_t i = 0; denied && i < n; i++)
                l[i].held = l[i].held || l[i].uid == backend_uid(s);
}

/* The first listener not of ours, named for the log: the process holding it if we can see it. */
static void describe_foreign(const supervisor *s, const tcp_listener *l, size_t n, port_holder *ret) {
        for (size_t i = 0; i < n; i++)
                if (!l[i].held) {
                        *ret = (port_holder){ .port = port_of(&s->address), .uid = l[i].uid, .inode = l[i].inode };
                        (void) tcp_listener_holder(l[i].inode, l[i].uid, &ret->pid, ret->comm);
                        return;
                }
}

int backend_listener_check(supervisor *s, port_holder *ret_foreign) {
        tcp_listener l[TCP_LISTENERS_MAX];
        int n = tcp_listeners_find(&s->address, l, ELEMENTSOF(l));

        if (n <= 0)
                return n;
        judge(s, l, (size_t) n);
        if (unheld(l, (size_t) n) == 0)
                return 1;
        describe_foreign(s, l, (size_t) n, ret_foreign);
        return -EADDRINUSE;
}

int address_holder(supervisor *s, port_holder *ret) {
        tcp_listener l[TCP_LISTENERS_MAX];
        int n = tcp_listeners_find(&s->address, l, ELEMENTSOF(l));

        if (n <= 0)
                return n;
        describe_foreign(s, l, (size_t) n, ret);
        return 1;
}

void describe_port_holder(const port_holder *h, char *buf, size_t size) {
        if (h->pid > 0)
                snprintf(buf, size, "port %u is taken by pid %d (%s) of uid %u", h->port, (int) h->pid, h->comm,
                         (unsigned) h->uid);
        else
                snprintf(buf, size, "port %u is taken by a process of uid %u that is not visible here (socket inode %"
                         PRIu64 ")", h->port, (unsigned) h->uid, h->inode);
}
