/* emberctl start: pre-warm an app (e.g. before a known peak): start its backend now and wait until it is ready.
 * It then idles out like any other run if no connection comes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "parse.h"

static void help_start(FILE *f) {
        fprintf(f,
                "Usage: emberctl start NAME\n"
                "Start NAME's backend now (systemctl start NAME-backend.service) and wait until it is ready; it\n"
                "stops after its idle period unless connections come.\n");
}

int require_systemd_app(sd_bus *bus, const char *app) {
        char unit[APP_NAME_MAX + 32];

        snprintf(unit, sizeof(unit), "%s-backend.service", app);
        if (!bus_unit_loaded(bus, unit)) {
                log_error("%s is not loaded in systemd: no such app, or not made by emberctl new (run systemctl "
                          "daemon-reload after it)", unit);
                return -ECTL_UNAVAILABLE;
        }
        return 0;
}

int job_error(int r) {
        return r == -EACCES || r == -EPERM ? -ECTL_REFUSED : -ECTL_UNAVAILABLE;
}

int verb_start(int argc, char *argv[]) {
        static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
        static const verb_spec spec = {
                .name = "start", .short_options = "h", .options = options, .help = help_start,
                .name_arg = VERB_NAME_REQUIRED,
        };
        char unit[APP_NAME_MAX + 32];
        const char *app = NULL, *result = NULL;
        sd_bus *bus = NULL;
        int r;

        r = verb_parse(&spec, argc, argv, NULL, &app);
        if (r <= 0)
                return r;
        if (bus_open(&bus) < 0)
                return -ECTL_UNAVAILABLE; /* said */
        r = require_systemd_app(bus, app);
        if (r >= 0) {
                snprintf(unit, sizeof(unit), "%s-backend.service", app);
                /* Type=notify: the job is done once the backend is ready */
                r = bus_unit_job(bus, "StartUnit", unit, &result);
                if (r == -EIO && result)
                        log_error("%s did not start (job %s): see journalctl -u %s", unit, result, unit);
                else if (r >= 0)
                        printf("Started %s: the backend is ready; it stops after its idle period without connections.\n", app);
                r = r >= 0 ? 0 : job_error(r);
        }
        sd_bus_flush_close_unref(bus);
        return r;
}
