/* libFuzzer target: state files with arbitrary content (garbage, huge, truncated) read back through the same
 * code the launcher and supervisor use, including the recount of a garbled refcount. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

static int dirfd_app = -1;

static void setup(void) {
        char tmpl[] = "/tmp/ember-fuzz-state.XXXXXX";
        if (!mkdtemp(tmpl))
                abort();
        setenv("EMBER_RUNTIME_DIR", tmpl, 1);
        if (state_open("fuzz", true, &dirfd_app) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char buf[64];
        uint64_t v;
        int fd;

        if (dirfd_app < 0)
                setup();
        fd = openat(dirfd_app, STATE_REFCOUNT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, size) != (ssize_t) size)
                abort();
        close(fd);
        if (state_read(dirfd_app, STATE_REFCOUNT, buf, sizeof(buf)) >= 0 && strchr(buf, '\n'))
                abort(); /* a value never carries its newline */
        (void) state_read_u64(dirfd_app, STATE_REFCOUNT, &v);
        if (state_add_u64(dirfd_app, STATE_REFCOUNT, 1, &v) < 0)
                abort();
        if (refcount_heal(dirfd_app, &v) < 0 || v != 0)
                abort(); /* nobody holds a lease here */
        return 0;
}
