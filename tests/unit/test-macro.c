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
        ok("closep closes the fd", !fd_open(was));
        is_int("and marks the variable closed", fd, -1);
}

static void check_closep_twice(void) {
        int fd = open_null(), was = fd, spare = open_null(), other;

        closep(&fd);
        other = dup3(spare, was, O_CLOEXEC); /* an fd opened since, given the closed one's number */
        close(spare);
        if (other != was)
                exit(99);
        closep(&fd);
        ok("a second closep of the same variable leaves the fd opened since with its number alone", fd_open(other));
        close(other);
}

static void check_closep_errno(void) {
        int fd = open_null(), none = -1;

        errno = EAGAIN;
        closep(&fd);
        is_int("closep keeps errno", errno, EAGAIN);
        closep(&none);
        is_int("closep of a closed variable does nothing", none, -1);
}

static void check_take_fd(void) {
        _cleanup_close_ int fd = open_null();
        int taken = take_fd(&fd);

        is_int("take_fd leaves the variable closed, for its cleanup to skip", fd, -1);
        ok("and hands the fd out open", fd_open(taken));
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
