/* dynamic_user_lookup(): the uid of a DynamicUser= user read from PID 1's records, as on a system without
 * libnss-systemd. The records are made here in a directory of the test's own, laid out as systemd lays out
 * /run/systemd/dynamic-uid (direct:NAME -> UID). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "user.h"

static char dir[] = "/tmp/ember-test-user.XXXXXX";

static void record(const char *name, const char *target) {
        char path[256];

        snprintf(path, sizeof(path), "%s/direct:%s", dir, name);
        if (symlink(target, path) < 0)
                perror(path);
}

static void cleanup(void) {
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                diag("could not remove %s", dir);
}

int main(void) {
        uid_t uid = 0;

        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        atexit(cleanup);
        record("app-backend", "63516");
        record("too-low", "1000");
        record("not-a-number", "63516x");
        record("root-uid", "0");

        is_int(dynamic_user_lookup("/nonexistent", "app-backend", &uid), -ESRCH, "no records at all: no such user");
        is_int(dynamic_user_lookup(dir, "other-backend", &uid), -ESRCH, "a name PID 1 did not allocate: no such user");
        is_int(dynamic_user_lookup(dir, "../app-backend", &uid), -ESRCH, "a name with a slash is no name");
        is_int(dynamic_user_lookup(dir, "", &uid), -ESRCH, "the empty name is no name");
        if (geteuid() == 0) {
                is_int(dynamic_user_lookup(dir, "app-backend", &uid), 0, "an allocated user resolves");
                is_int(uid, 63516, "to the uid PID 1 recorded");
                is_int(dynamic_user_lookup(dir, "too-low", &uid), -EPERM, "a uid outside the dynamic range is refused");
                is_int(dynamic_user_lookup(dir, "not-a-number", &uid), -EPERM, "a record that is no number is refused");
                is_int(dynamic_user_lookup(dir, "root-uid", &uid), -EPERM, "uid 0 is refused");
        } else {
                is_int(dynamic_user_lookup(dir, "app-backend", &uid), -EPERM, "a record not root's is refused");
                skip(4, "the records are root's only when made by root");
        }
        return done();
}
