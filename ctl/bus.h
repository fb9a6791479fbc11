#pragma once
/* emberctl talks to PID 1 the way systemctl does: sd-bus calls on org.freedesktop.systemd1, waiting for jobs to
 * complete. (libsystemd is linked by emberctl only; the per-connection launcher never loads it.) */
#include <stdbool.h>
#include <systemd/sd-bus.h>

int bus_open(sd_bus **ret);
/* StartUnit, StopUnit, RestartUnit (METHOD) of UNIT in mode "replace", waiting for its job; -EIO if the job ended
 * other than "done", with *ret_result (static) saying how ("failed", "timeout", "dependency", ...). */
int bus_unit_job(sd_bus *bus, const char *method, const char *unit, const char **ret_result);
/* UNIT's LoadState / ActiveState ("not-found", "active", ...), at most SIZE bytes. */
int bus_unit_state(sd_bus *bus, const char *unit, const char *property, char *buf, size_t size);
/* The first command line of a service's Exec*= PROPERTY (ExecStart, ExecReload, ...) as loaded in PID 1: its
 * arguments into BUF, each ended by a NUL; returns the bytes used, -ENOENT if it has no command, -E2BIG. */
int bus_service_exec_argv(sd_bus *bus, const char *unit, const char *property, char *buf, size_t size);
/* UNIT's LoadState is "loaded": systemd knows it (as opposed to not-found, masked, ...). */
bool bus_unit_loaded(sd_bus *bus, const char *unit);
int bus_daemon_reload(sd_bus *bus);
int bus_enable(sd_bus *bus, const char *unit);
int bus_disable(sd_bus *bus, const char *unit);
/* A log line for a bus error. */
int bus_log_error(int r, const sd_bus_error *error, const char *what);
