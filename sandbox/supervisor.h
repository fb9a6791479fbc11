#pragma once
/* ember-sandbox's supervisor: one backend run (see ember-sandbox(8), ember-state(7)). ember-sandbox.c drives the
 * run; backend.c starts, probes and stops the backend; record.c counts and bills the run. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "bill.h"
#include "confine.h"
#include "parse.h"

#define WAITERS_MAX 4096

typedef struct supervisor {
        int dirfd;
        int listen_fd;     /* wake.sock: launchers waiting for readiness connect here */
        bool owns_wake;    /* inetd mode: we unlink wake.sock when we go; under systemd the socket unit owns it */
        int notify_fd;     /* --ready=notify: the backend's NOTIFY_SOCKET */
        int signal_fd;
        int inotify_fd;    /* idle-since written: the last connection just left */
        int lifetime_fd;   /* holds our lock on supervisor.lock: the proof, for launchers, that we are alive */
        char dir_path[PATH_MAX];
        char wake_unit[256]; /* under systemd, the socket unit that passed us wake.sock */
        int cgroup_fd;     /* our unit's cgroup v2 directory, for the bill; -1 without one */
        struct rusage rusage; /* the ended backend's, where there is no cgroup to ask */
        bool have_rusage;
        bool lock_stuck;   /* the state lock could not be had lately: said once */
        pid_t backend;
        bool ready;
        uint64_t started;  /* CLOCK_MONOTONIC */
        uint64_t connections_at_start;
        uint64_t probe_at, probe_step, start_deadline, idle_deadline, heal_at;
        int waiters[WAITERS_MAX];
        size_t n_waiters;
        confine confine;
        /* from the command line */
        const char *app;
        const ember_addr *address; /* the backend's */
        char **command;
        uint64_t stop_timeout;
} supervisor;

/* wake.c */
/* One byte to each waiting launcher if READY, else EOF: this backend failed. */
void tell_waiters(supervisor *s, bool ready);
/* The launchers connecting to wake.sock: answered at once if ready, else kept until then. */
void accept_waiters(supervisor *s);
/* wake.sock from LISTEN_FDS (NAME-backend.socket, or ember-launch in inetd mode), else bound by us. */
int open_wake_socket(supervisor *s);
/* notify.sock for --ready=notify; its path into PATH. */
int open_notify_socket(supervisor *s, char *path, size_t size);

/* backend.c */
/* Forks the backend into its own session, confined; -errno if it could not be executed. */
int start_backend(supervisor *s, const char *notify_path);
/* 0 once the backend accepts a connection. */
int probe_backend(const supervisor *s);
/* Waits up to TIMEOUT for the backend to exit (1), or not (0). */
int wait_backend(supervisor *s, uint64_t timeout, int *status);
/* SIGTERM, then SIGKILL after --stop-timeout, to the backend's process group; reaps it. */
void kill_backend(supervisor *s, int *status);
void describe_exit(int status, char *buf, size_t size);

/* record.c */
/* Counts a cold start's time to ready in the histogram. Under the lock. */
void count_cold_start(supervisor *s, uint64_t ms);
/* The live run's bill, every second, for emberctl metrics. */
void record_bill(supervisor *s);
/* The end of a run, under the lock: counted by how it ended, billed, logged once with the bill. */
void log_run_end(supervisor *s, const char *event, int prio, const char *why);
