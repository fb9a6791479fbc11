#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "macro.h"

#define DEST "org.freedesktop.systemd1"
#define PATH "/org/freedesktop/systemd1"
#define MANAGER "org.freedesktop.systemd1.Manager"

int bus_log_error(int r, const sd_bus_error *error, const char *what) {
        if (error && sd_bus_error_is_set(error))
                log_error("%s: %s", what, error->message ?: error->name);
        else
                log_error_errno(r, "%s", what);
        return r < 0 ? r : -EIO;
}

int bus_open(sd_bus **ret) {
        int r = sd_bus_open_system(ret);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to systemd (the system bus)%s", r == -ENOENT || r == -ECONNREFUSED ? ": is systemd PID 1 here?" : "");
        return 0;
}

typedef struct job_wait {
        const char *path;
        char result[32];
        bool done;
} job_wait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !w->path || strcmp(path, w->path) != 0)
                return 0;
        snprintf(w->result, sizeof(w->result), "%s", result);
        w->done = true;
        return 0;
}

/* Job signals come to subscribed clients only; a second Subscribe on the same connection is an error to ignore. */
static int subscribe(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, DEST, PATH, MANAGER, "Subscribe", &error, NULL, "");

        if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.AlreadySubscribed"))
                r = 0;
        if (r < 0)
                bus_log_error(r, &error, "Failed to subscribe to systemd's job signals");
        sd_bus_error_free(&error);
        return r;
}

int bus_unit_job(sd_bus *bus, const char *method, const char *unit, const char **ret_result) {
        static char result[32];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus_slot *slot = NULL;
        job_wait w = {};
        char what[256];
        int r;

        snprintf(what, sizeof(what), "Failed to %s %s", method, unit);
        /* subscribe first, so that a job that completes at once is not missed */
        r = sd_bus_match_signal(bus, &slot, DEST, PATH, MANAGER, "JobRemoved", on_job_removed, &w);
        if (r >= 0)
                r = subscribe(bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, DEST, PATH, MANAGER, method, &error, &reply, "ss", unit, "replace");
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &w.path);
        while (r >= 0 && !w.done) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
        }
        if (r < 0)
                r = bus_log_error(r, &error, what);
        else if (strcmp(w.result, "done") != 0) {
                snprintf(result, sizeof(result), "%s", w.result);
                if (ret_result)
                        *ret_result = result;
                r = -EIO;
        }
        sd_bus_message_unref(reply);
        sd_bus_slot_unref(slot);
        sd_bus_error_free(&error);
        return r;
}

int bus_unit_state(sd_bus *bus, const char *unit, const char *property, char *buf, size_t size) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        char *v = NULL;
        int r;

        /* LoadUnit, not GetUnit: it answers for units that are not loaded too (LoadState=not-found) */
        r = sd_bus_call_method(bus, DEST, PATH, MANAGER, "LoadUnit", &error, &reply, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, DEST, path, "org.freedesktop.systemd1.Unit", property, &error, &v);
        if (r >= 0)
                snprintf(buf, size, "%s", v);
        free(v);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        return r;
}

/* Appends ARG and its NUL to BUF at *LEN; -E2BIG if it does not fit. */
static int append_arg(char *buf, size_t size, size_t *len, const char *arg) {
        size_t n = strlen(arg) + 1;

        if (n > size - *len)
                return -E2BIG;
        memcpy(buf + *len, arg, n);
        *len += n;
        return 0;
}

/* The argv of REPLY's first command (type a(sasbttttuii), as every Exec*= property is), NUL-separated. */
static int read_first_argv(sd_bus_message *reply, char *buf, size_t size) {
        const char *arg;
        size_t len = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sasbttttuii)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'r', "sasbttttuii");
        if (r == 0)
                return -ENOENT; /* no command */
        if (r >= 0)
                r = sd_bus_message_skip(reply, "s");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &arg)) > 0)
                r = append_arg(buf, size, &len, arg);
        return r < 0 ? r : (int) len;
}

int bus_service_exec_argv(sd_bus *bus, const char *unit, const char *property, char *buf, size_t size) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *load = NULL, *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, DEST, PATH, MANAGER, "LoadUnit", &error, &load, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(load, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property(bus, DEST, path, "org.freedesktop.systemd1.Service", property, &error, &reply,
                                        "a(sasbttttuii)");
        if (r >= 0)
                r = read_first_argv(reply, buf, size);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(load);
        sd_bus_error_free(&error);
        return r;
}

bool bus_unit_loaded(sd_bus *bus, const char *unit) {
        char load[32];
        return bus_unit_state(bus, unit, "LoadState", load, sizeof(load)) >= 0 && strcmp(load, "loaded") == 0;
}

int bus_daemon_reload(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, DEST, PATH, MANAGER, "Reload", &error, NULL, "");
        if (r < 0)
                r = bus_log_error(r, &error, "Failed to reload systemd");
        sd_bus_error_free(&error);
        return r;
}

static int unit_files(sd_bus *bus, const char *method, const char *unit, bool enable) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        char what[256];
        int r;

        snprintf(what, sizeof(what), "Failed to %s %s", enable ? "enable" : "disable", unit);
        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, MANAGER, method);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char *[]){ (char *) unit, NULL });
        if (r >= 0)
                r = enable ? sd_bus_message_append(m, "bb", false, true) : sd_bus_message_append(m, "b", false);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                r = bus_log_error(r, &error, what);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        return r;
}

int bus_enable(sd_bus *bus, const char *unit) {
        return unit_files(bus, "EnableUnitFiles", unit, true);
}

int bus_disable(sd_bus *bus, const char *unit) {
        return unit_files(bus, "DisableUnitFiles", unit, false);
}
