/* The fd helpers of common/macro.h: closep() closes and forgets, take_fd() hands an fd out of a _cleanup_close_
 * variable. A closed fd's number is given to the next open(), so a variable left holding it would close someone
 * else's fd at its next closep() (ember-launch's open_state_dir() once left its caller's exactly that way). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "macro.h"
#include "tap.h"

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

static int open_null(void) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                exit(99);
        return fd;
}

static void check_closep_forgets(void) {
        int fd = open_null(), was = fd;

        closep(&fd);
        ok(!fd_open(was), "closep closes the fd");
        is_int(fd, -1, "and marks the variable closed");
}

static void check_closep_twice(void) {
        int fd = open_null(), was = fd, spare = open_null(), other;

        closep(&fd);
        other = dup3(spare, was, O_CLOEXEC); /* an fd opened since, given the closed one's number */
        close(spare);
        if (other != was)
                exit(99);
        closep(&fd);
        ok(fd_open(other), "a second closep of the same variable leaves the fd opened since with its number alone");
        close(other);
}

static void check_closep_errno(void) {
        int fd = open_null(), none = -1;

        errno = EAGAIN;
        closep(&fd);
        is_int(errno, EAGAIN, "closep keeps errno");
        closep(&none);
        is_int(none, -1, "closep of a closed variable does nothing");
}

static void check_take_fd(void) {
        _cleanup_close_ int fd = open_null();
        int taken = take_fd(&fd);

        is_int(fd, -1, "take_fd leaves the variable closed, for its cleanup to skip");
        ok(fd_open(taken), "and hands the fd out open");
        close(taken);
}

int main(void) {
        plan(7);
        check_closep_forgets();
        check_closep_twice();
        check_closep_errno();
        check_take_fd();
        return done();
}
