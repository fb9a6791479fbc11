#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "protocol.h"
#include "state.h"

static const char *const app_state_names[_APP_STATE_MAX] = {
        [APP_COLD] = "cold",
        [APP_STARTING] = "starting",
        [APP_WARM] = "warm",
        [APP_STOPPING] = "stopping",
};

const char *app_state_to_string(app_state s) {
        return s >= 0 && s < _APP_STATE_MAX ? app_state_names[s] : NULL;
}

app_state app_state_from_string(const char *s) {
        for (app_state i = 0; i < _APP_STATE_MAX; i++)
                if (strcmp(s, app_state_names[i]) == 0)
                        return i;
        return _APP_STATE_INVALID;
}

int app_state_get(int dirfd, app_state *ret) {
        char buf[16];
        int r = state_read(dirfd, STATE_STATE, buf, sizeof(buf));

        if (r == -ENOENT) {
                *ret = APP_COLD;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = app_state_from_string(buf);
        return *ret < 0 ? -EBADMSG : 0;
}

int app_state_set(int dirfd, app_state s) {
        const char *name = app_state_to_string(s);
        return name ? state_write(dirfd, STATE_STATE, name) : -EINVAL;
}

int supervisor_lock_take(int dirfd, uint64_t generation, int *ret_fd) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t) generation, .l_len = 1 };
        _cleanup_close_ int fd = -1;

        if (generation > INT64_MAX)
                return -EOVERFLOW;
        fd = state_open_file(dirfd, STATE_SUPERVISOR_LOCK, O_RDWR | O_CREAT, 0644);
        if (fd < 0)
                return fd;
        if (fcntl(fd, F_SETLK, &fl) < 0)
                return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
        *ret_fd = take_fd(&fd);
        return 0;
}

int supervisor_find(int dirfd, pid_t *ret_pid) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        _cleanup_close_ int fd = -1;

        /* F_GETLK needs no write access: emberctl, unprivileged, asks the same question. */
        fd = state_open_file(dirfd, STATE_SUPERVISOR_LOCK, O_RDONLY, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        if (fcntl(fd, F_GETLK, &fl) < 0)
                return -errno;
        if (ret_pid)
                *ret_pid = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        return fl.l_type != F_UNLCK;
}

bool app_is_warm(int dirfd) {
        app_state s;
        return app_state_get(dirfd, &s) >= 0 && s == APP_WARM && supervisor_find(dirfd, NULL) > 0;
}

int app_state_settle(int dirfd, app_state *ret) {
        app_state s;
        int r;

        r = app_state_get(dirfd, &s);
        if (r == -EBADMSG || r == -EFBIG)
                s = _APP_STATE_INVALID; /* garbled: whoever wrote it is judged like any other owner */
        else if (r < 0)
                return r;
        if (s == APP_COLD) {
                *ret = s;
                return 0;
        }
        r = supervisor_find(dirfd, NULL);
        if (r < 0)
                return r;
        if (r > 0) {
                /* alive: a garbled state is a supervisor mid-write; its wake socket answers either way */
                *ret = s >= 0 ? s : APP_STARTING;
                return 0;
        }
        r = app_state_set(dirfd, APP_COLD);
        if (r < 0)
                return r;
        log_event(LOG_WARNING, FIELDS("EMBER_EVENT=stale-state"),
                  "State '%s' had no live supervisor (killed, or its unit stopped without cleaning up); reset to cold",
                  s >= 0 ? app_state_to_string(s) : "garbled");
        *ret = APP_COLD;
        return 1;
}

int app_status_read(int dirfd, app_status *ret) {
        app_status s = {};
        int r;

        int q = app_state_get(dirfd, &s.state);
        if (q < 0 && q != -EBADMSG && q != -EFBIG)
                return q;
        r = supervisor_find(dirfd, &s.supervisor_pid);
        if (r < 0)
                return r;
        s.supervisor_alive = r > 0;
        if (q < 0) /* garbled: judged by its owner, as a launcher would (see app_state_settle) */
                s.state = s.supervisor_alive ? APP_STARTING : APP_COLD;
        s.stale = s.state != APP_COLD && r == 0;
        s.have_refcount = state_read_u64(dirfd, STATE_REFCOUNT, &s.refcount) >= 0;
        (void) state_read_u64(dirfd, STATE_BACKEND_PID, &s.backend_pid);
        (void) state_read_u64(dirfd, STATE_GENERATION, &s.generation);
        s.have_started_at = state_read_u64(dirfd, STATE_STARTED_AT, &s.started_at) >= 0;
        s.have_idle_since = state_read_u64(dirfd, STATE_IDLE_SINCE, &s.idle_since) >= 0;
        (void) state_read_u64(dirfd, STATE_COLD_STARTS, &s.cold_starts);
        (void) state_read_u64(dirfd, STATE_CONNECTIONS, &s.connections);
        s.have_ready_ms = state_read_u64(dirfd, STATE_READY_MS, &s.ready_ms) >= 0;
        *ret = s;
        return 0;
}
