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

        is_int("no records at all: no such user", dynamic_user_lookup("/nonexistent", "app-backend", &uid), -ESRCH);
        is_int("a name PID 1 did not allocate: no such user", dynamic_user_lookup(dir, "other-backend", &uid), -ESRCH);
        is_int("a name with a slash is no name", dynamic_user_lookup(dir, "../app-backend", &uid), -ESRCH);
        is_int("the empty name is no name", dynamic_user_lookup(dir, "", &uid), -ESRCH);
        if (geteuid() == 0) {
                is_int("an allocated user resolves", dynamic_user_lookup(dir, "app-backend", &uid), 0);
                is_int("to the uid PID 1 recorded", uid, 63516);
                is_int("a uid outside the dynamic range is refused", dynamic_user_lookup(dir, "too-low", &uid), -EPERM);
                is_int("a record that is no number is refused", dynamic_user_lookup(dir, "not-a-number", &uid), -EPERM);
                is_int("uid 0 is refused", dynamic_user_lookup(dir, "root-uid", &uid), -EPERM);
        } else {
                is_int("a record not root's is refused", dynamic_user_lookup(dir, "app-backend", &uid), -EPERM);
                skip(4, "the records are root's only when made by root");
        }
        return done();
}
