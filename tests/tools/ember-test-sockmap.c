/* ember-test-sockmap: how many sockets the BPF socket maps a process holds have in them, for the in-kernel relay's
 * tests (ember-sandbox --relay=kernel): each map fd of PID (its /proc/PID/fdinfo names the map's id) is opened by id
 * (BPF_MAP_GET_FD_BY_ID; root) and its keys counted.
 *
 *   ember-test-sockmap [--flows] PID
 *
 * One line per socket map: "map_id=N entries=N". With --flows, the same for the verdict program's LRU hash
 * ("flows", where each socket's relayed bytes end) instead. Exit: 0 listed (perhaps nothing); 1 failed; 2 usage; 77 not
 * allowed here (not root): the caller skips. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "macro.h"

static long sys_bpf(int cmd, union bpf_attr *a) {
        return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* The map id and type of fd FD of PID, from its fdinfo; -ENOENT if it is no BPF map. */
static int fd_map(const char *pid, const char *fd, unsigned *id, unsigned *type) {
        char path[512], line[256];
        int found = 0;

        snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                found += sscanf(line, "map_id: %u", id) == 1 || sscanf(line, "map_type: %u", type) == 1;
        fclose(f);
        return found == 2 ? 0 : -ENOENT;
}

static long count_keys(unsigned id) {
        union bpf_attr a = { .map_id = id };
        uint64_t key, next;
        void *prev = NULL;
        long n = 0;
        _cleanup_close_ int map = (int) sys_bpf(BPF_MAP_GET_FD_BY_ID, &a);

        if (map < 0)
                return -errno;
        for (;; n++) {
                a = (union bpf_attr){ .map_fd = (uint32_t) map, .key = (uintptr_t) prev, .next_key = (uintptr_t) &next };
                if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0)
                        return errno == ENOENT ? n : -errno;
                key = next;
                prev = &key;
        }
}

int main(int argc, char *argv[]) {
        char path[64];
        struct dirent *e;
        unsigned id, type;
        int rc = 0;

        bool flows = argc == 3 && strcmp(argv[1], "--flows") == 0;
        if (argc != 2 + flows)
                return fprintf(stderr, "usage: ember-test-sockmap [--flows] PID\n"), 2;
        const char *pid = argv[1 + flows];
        if (geteuid() != 0)
                return 77;
        snprintf(path, sizeof(path), "/proc/%s/fd", pid);
        DIR *d = opendir(path);
        if (!d)
                return perror(path), 1;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || fd_map(pid, e->d_name, &id, &type) < 0)
                        continue;
                if (flows ? type != BPF_MAP_TYPE_LRU_HASH : type != BPF_MAP_TYPE_SOCKMAP && type != BPF_MAP_TYPE_SOCKHASH)
                        continue;
                long n = count_keys(id);
                if (n < 0) {
                        fprintf(stderr, "map %u: %s\n", id, strerror((int) -n));
                        rc = 1;
                        continue;
                }
                printf("map_id=%u entries=%ld\n", id, n);
        }
        closedir(d);
        return rc;
}
