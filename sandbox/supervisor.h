#pragma once
/* ember-sandbox's supervisor: one backend run (see ember-sandbox(8), ember-state(7)). ember-sandbox.c drives the
 * run and sees its events; supervisor-states.c moves it from state to state; backend.c starts, probes and stops the
 * backend; record.c counts and bills the run. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "bill.h"
#include "confine.h"
#include "macro.h"
#include "options.h"
#include "parse.h"
#include "protocol.h"

#define WAITERS_MAX 4096

/* A listening socket on the backend's TCP address that is not the backend's: who holds it, for the log. */
typedef struct port_holder {
        uint16_t port;
        uid_t uid;       /* the socket's maker */
        pid_t pid;       /* its holder in our pid namespace, 0 if none can be seen */
        char comm[16];
        uint64_t inode;
} port_holder;

/* --idle-action=freeze: how the backend is frozen now, if it is (freeze.c). */
typedef enum frozen_how {
        NOT_FROZEN,
        FROZEN_CGROUP,  /* its own cgroup's cgroup.freeze */
        FROZEN_SIGSTOP, /* SIGSTOP to its process group */
} frozen_how;

/* Where a generation's supervisor is in its run (doc/ARCHITECTURE.md draws them; supervisor-states.c holds the
 * transitions). The run's end is no state: the step that ends it returns RUN_OVER or -errno (exit-status.h), and
 * what follows is end_of_run()'s: SUP_ANCHORING for the unit's main process, else the exit. */
typedef enum supervisor_state {
        SUP_STARTING,          /* serving: its backend started, not ready yet (probed, or waiting for READY=1) */
        SUP_UPGRADING,         /* an upgrade's, pending: its backend started on a port of its own, not ready yet */
        SUP_UPGRADE_STALLED,   /* an upgrade's, ready, that could not have the state lock to switch: it takes nothing and
                                * ends with the generation it was to replace */
        SUP_AWAITING_PREVIOUS, /* a fixed-port upgrade's: serving already, its backend started once the old one is gone */
        SUP_WARM,              /* serving, ready */
        SUP_FROZEN,            /* serving, ready, its backend frozen (--idle-action=freeze) until a launcher comes */
        SUP_DRAINING,          /* replaced by an upgrade's: keeps its connections, takes no new ones */
        SUP_ANCHORING,         /* the unit's main process, its own run over: holds the unit while the generations
                                * upgrades started beside it run, and passes a stop on to them */
} supervisor_state;

typedef struct supervisor {
        int dirfd;
        int listen_fd;     /* wake.sock: launchers waiting for readiness connect here */
        bool owns_wake;    /* inetd mode: we unlink wake.sock when we go; under systemd the socket unit owns it */
        int notify_fd;     /* --ready=notify: the backend's NOTIFY_SOCKET */
        char notify_name[32]; /* its name in the state directory: one per generation */
        char notify_path[108];
        int signal_fd;
        int inotify_fd;    /* idle-since written: the last connection just left */
        int handoff_fd;    /* handoff-G.sock, while we serve */
        int lifetime_fd;   /* holds our lock on supervisor.lock: the proof, for launchers, that we are alive */
        int relay_fd;      /* --relay=kernel: relay.sock, where launchers hand us their two sockets */
        int relay_peers, relay_sources; /* its socket maps (kernel-relay.c) */
        int relay_flows;   /* the program's own map, kept open so that tests can look into it */
        char dir_path[PATH_MAX];
        char wake_unit[256]; /* under systemd, the socket unit that passed us wake.sock */
        int cgroup_fd;     /* our unit's cgroup v2 directory, for the bill; -1 without one */
        int freeze_cgroup_fd; /* --idle-action=freeze: the backend's own cgroup under it; -1 without one */
        int freeze_procs_fd;  /* its cgroup.procs, for the child to join, until the fork */
        frozen_how frozen;
        int output_fd;        /* --idle-action=checkpoint: the backend's stdout and stderr, relayed to ours */
        int output_wr;        /* its write end, for the child, until the fork */
        bool restored;        /* this run's backend was restored from a checkpoint */
        uint64_t checkpoint_bytes;
        uint64_t frozen_at, freeze_deadline; /* CLOCK_MONOTONIC: since when, and when --freeze-for stops it */
        struct rusage rusage; /* the ended backend's, where there is no cgroup to ask */
        bool have_rusage;
        bool lock_stuck;   /* the state lock could not be had lately: said once */
        pid_t backend;
        supervisor_state state; /* written by enter_state() only; its generation's role follows from it */
        uint64_t generation;
        uint64_t previous;      /* an upgrade's: the generation it replaces */
        uint64_t drain_usec, drain_deadline, drain_check_at;
        int report_fd;          /* --upgrade: the foreground process waiting to hear how it went */
        uint64_t started;  /* CLOCK_MONOTONIC */
        uint64_t connections_at_start;
        uint64_t probe_at, probe_step, start_deadline, idle_deadline, heal_at;
        int waiters[WAITERS_MAX];
        size_t n_waiters;
        confine confine;
        /* from the command line */
        const sandbox_options *opt;
        ember_addr address; /* the backend's (opt->backend); a HOST:auto one gets its port before each run */
} supervisor;

/* supervisor-states.c: the supervisor's state machine */
/* What the main loop sees, each a transition in the states it applies to (supervisor-states.c's table). */
typedef enum supervisor_event {
        EV_READY,          /* the backend answered the probe, or said READY=1 (and no stranger holds its port) */
        EV_PORT_TAKEN,     /* a stranger listens on the backend's address: event_arg's holder */
        EV_START_TIMEOUT,  /* not ready within --start-timeout */
        EV_PREVIOUS_GONE,  /* the generation a fixed-port upgrade replaces is gone */
        EV_IDLE,           /* no connection for --idle (heartbeat, under the lock) */
        EV_WAITER,         /* a launcher on wake.sock */
        EV_FREEZE_OVER,    /* frozen for --freeze-for (heartbeat, under the lock) */
        EV_REPLACED,       /* an upgrade's generation serves now (SIGUSR1 or heartbeat, under the lock) */
        EV_DRAIN_CHECK,    /* every DRAIN_CHECK_USEC */
        EV_ORPHANED,       /* the generation an upgrade was to replace is gone (heartbeat) */
        EV_BACKEND_EXITED, /* the backend ended on its own, reaped: event_arg's status */
        EV_STOP,           /* SIGTERM, SIGINT or SIGHUP */
        EV_STATE_LOST,     /* the state directory was removed or replaced (heartbeat) */
        EV_LATER_GONE,     /* no generation an upgrade started beside the unit's main process is left */
        EV_SERVING_LOST,   /* the serving generation is gone (killed: a clean end would have stopped us first) */
} supervisor_event;

typedef struct event_arg {
        int status;          /* EV_BACKEND_EXITED: wait status */
        port_holder holder;  /* EV_PORT_TAKEN */
} event_arg;

/* The transition EVENT runs in the supervisor's state (ARG as the event says, else NULL): 0 to go on (nothing to do
 * in this state is 0 too), RUN_OVER if the run ended in order, -errno if it ended failed (logged). A run that ended in
 * order in the unit's main process goes on as SUP_ANCHORING while later generations run (0). */
int supervisor_on(supervisor *s, supervisor_event event, const event_arg *arg);
/* The supervisor in STATE from now on. */
void enter_state(supervisor *s, supervisor_state state);
/* The state lock, waited for at most a second (a frozen launcher must not stop us); -ETIMEDOUT said once. */
int supervisor_lock(supervisor *s, int *ret);

/* Its generation's role in the protocol (protocol.h), which its state decides: one source of truth. */
static inline generation_role supervisor_role(const supervisor *s) {
        switch (s->state) {
        case SUP_UPGRADING:
        case SUP_UPGRADE_STALLED:
                return ROLE_PENDING;
        case SUP_DRAINING:
        case SUP_ANCHORING: /* no generation of its own any more: like a draining one it takes nothing new */
                return ROLE_DRAINING;
        case SUP_STARTING:
        case SUP_AWAITING_PREVIOUS:
        case SUP_WARM:
        case SUP_FROZEN:
        default:
                return ROLE_SERVING;
        }
}

/* The supervisor systemd started (not an upgrade's), under a socket unit: the unit's main process for as long as it
 * runs, which must outlive the generations upgrades start beside it (KillMode=mixed ends them all with it). */
static inline bool unit_main_process(const supervisor *s) {
        return !s->opt->upgrade && s->wake_unit[0];
}

/* Its backend said it was ready (it may be frozen or draining since). */
static inline bool supervisor_ready(const supervisor *s) {
        return s->state == SUP_WARM || s->state == SUP_FROZEN || s->state == SUP_DRAINING ||
               s->state == SUP_UPGRADE_STALLED;
}

/* Its backend runs and is not ready yet: probed, timed, its READY=1 awaited. */
static inline bool backend_starting(const supervisor *s) {
        return s->state == SUP_STARTING || s->state == SUP_UPGRADING;
}

/* run.c: one run's lifecycle, which the main loop (ember-sandbox.c) and an upgrade (upgrade.c) call down into */
void set_state(supervisor *s, app_state state);
int watch_idle_since(supervisor *s);
/* A function that can end the run returns -errno (exit-status.h's codes among them, logged) if it failed, RUN_OVER if it
 * ended in order, 0 to go on. */
/* Under the lock: the notify socket and the idle-since watch; 0, or -errno. */
int prepare_run(supervisor *s, char *notify_path, size_t size);
/* A HOST:auto backend's port, checked free, then the backend forked; 0, or -errno (the run is over). */
int launch_backend(supervisor *s, const char *notify_path);
/* A generation that does not serve ends (an upgrade's that failed, or one replaced): RUN_OVER, or -errno if it failed. */
int end_unserving(supervisor *s, const char *event, int prio, const char *why);
/* The end of a backend run, under the lock: the next connection finds "cold" and starts a new one. */
void mark_cold(supervisor *s);

/* heartbeat.c */
/* Every second: the state directory, our lifetime lock file and the wake socket still where launchers look. */
bool state_dir_intact(supervisor *s);
/* They are not: the backend stopped, logged, and under systemd the wake socket unit restarted. */
void state_dir_lost(supervisor *s);

/* supervisor-states.c, for the upgrade: under the lock, an upgrade's generation becomes the serving one, in STATE
 * (SUP_WARM once ready; SUP_AWAITING_PREVIOUS for a fixed port, whose backend waits for the old one to go). The old
 * one notices at once (SIGUSR1) and drains. */
void take_over(supervisor *s, supervisor_state state);

/* upgrade.c */
/* Under the lock, for --upgrade: 0 to run; RUN_OVER (nothing to do) or -errno if not. */
int begin_upgrade(supervisor *s);


/* wake.c */
/* One byte to each waiting launcher if READY, else EOF: this backend failed. */
void tell_waiters(supervisor *s, bool ready);
/* The launchers connecting to wake.sock: answered at once if ready, else kept until then. */
void accept_waiters(supervisor *s);
/* wake.sock from LISTEN_FDS (NAME-backend.socket, or ember-launch in inetd mode), else bound by us. */
int open_wake_socket(supervisor *s);
/* notify.sock for --ready=notify; its path into PATH. */
int open_notify_socket(supervisor *s, char *path, size_t size);

/* kernel-relay.c, built only with ./configure --enable-kernel-relay (experimental) */
#if ENABLE_KERNEL_RELAY
/* With --relay=kernel: the BPF program, its maps and relay.sock; unavailable is logged once, and launchers splice. */
void kernel_relay_open(supervisor *s);
/* No new relays (relay.sock gone); the maps and what they relay stay until we exit. */
void kernel_relay_stop(supervisor *s);
/* The launchers on relay.sock: each pair of sockets is relayed in the kernel from then on. */
void accept_relays(supervisor *s);
#else
/* Without it --relay=kernel is refused as it is parsed: there is never a relay.sock (relay_fd stays -1, so nothing
 * polls it), and launchers splice. */
static inline void kernel_relay_open(supervisor *s) {}
static inline void kernel_relay_stop(supervisor *s) {}
static inline void accept_relays(supervisor *s) {}
#endif

/* freeze.c: --idle-action=freeze */
/* Before the run's fork: the backend's own cgroup v2 where there is one (else SIGSTOP is used, said once). */
void freeze_prepare(supervisor *s);
/* In the child, at once: into that cgroup. */
void freeze_child_join(const supervisor *s);
/* In the supervisor after the fork. */
void freeze_forked(supervisor *s);
int freeze_write(int cgroup_fd, const char *value);
/* Freezes or thaws the backend's processes: 0 or -errno. */
int freeze_backend(supervisor *s);
int thaw_backend(supervisor *s);
/* "cgroup" or "sigstop", for the journal. */
const char *freeze_how(const supervisor *s);
/* After the backend was reaped: its empty cgroup removed. */
void freeze_release(supervisor *s);

/* checkpoint.c: --idle-action=checkpoint (criu), built only with ./configure --enable-checkpoint (experimental) */
#if ENABLE_CHECKPOINT
void checkpoint_save_argv(char **argv);
/* The pipe the backend's output goes to (a journal stream socket cannot be dumped): read end in s->output_fd. */
int checkpoint_output_pipe(supervisor *s, int *ret_write);
void checkpoint_relay_output(supervisor *s);
/* Under the lock: dumps the backend (criu kills it once dumped): 0, or -errno with the reason in WHY. */
int checkpoint_dump(supervisor *s, char *why, size_t size);
/* 1 if restored (s->backend set), 0 if there is no usable checkpoint, -errno with the reason in WHY. */
int checkpoint_restore(supervisor *s, char *why, size_t size);
void checkpoint_discard(supervisor *s, const char *why);
int checkpoint_dir(const supervisor *s, char *buf, size_t size);
#else
/* Without it --idle-action=checkpoint is refused as it is parsed: nothing but checkpoint_save_argv() is reached (and
 * it has nothing to keep), there is no output pipe (output_fd stays -1, so nothing polls it), and no checkpoint. */
static inline void checkpoint_save_argv(char **argv) {}
static inline int checkpoint_output_pipe(supervisor *s, int *ret_write) { return -EOPNOTSUPP; }
static inline void checkpoint_relay_output(supervisor *s) {}
static inline int checkpoint_dump(supervisor *s, char *why, size_t size) { return -EOPNOTSUPP; }
static inline int checkpoint_restore(supervisor *s, char *why, size_t size) { return 0; }
static inline void checkpoint_discard(supervisor *s, const char *why) {}
static inline int checkpoint_dir(const supervisor *s, char *buf, size_t size) { return -EOPNOTSUPP; }
#endif

/* backend.c */
/* Forks the backend into its own session, confined; -errno if it could not be executed. */
int start_backend(supervisor *s, const char *notify_path);
/* 0 once the backend accepts a connection (a TCP one: on a listener of its own, see listener.c), -ECONNREFUSED
 * while it does not, -EADDRINUSE if a listener not of the backend's holds its address (into *ret_foreign). */
int probe_backend(supervisor *s, port_holder *ret_foreign);
/* Reaps an exited backend (1), killing what it left in its process group first; 0 while it runs. */
int reap_backend(supervisor *s, int *status);
/* Waits up to TIMEOUT for the backend to exit (1), or not (0). */
int wait_backend(supervisor *s, uint64_t timeout, int *status);
/* SIGTERM, then SIGKILL after --stop-timeout, to the backend's process group; reaps it. */
void kill_backend(supervisor *s, int *status);
void describe_exit(int status, char *buf, size_t size);

/* listener.c: only the backend's own listener gets the clients (issue 24) */
/* 1 if the listener a connection to the backend's TCP address would reach is the backend's (its process tree, its
 * unit's cgroup, root's, or its user's where its processes cannot be read); 0 if nothing listens there;
 * -EADDRINUSE if it is not the backend's (described in *ret_foreign); other -errno if the kernel could not be asked. */
int backend_listener_check(supervisor *s, port_holder *ret_foreign);
/* Before the backend runs: 1 if something listens on its TCP address (described in *ret), 0 if not, or -errno. */
int address_holder(supervisor *s, port_holder *ret);
/* "port P is taken by pid N (COMM) of uid U", or by a process of uid U not visible here, with the socket's inode. */
void describe_port_holder(const port_holder *h, char *buf, size_t size);

/* generation.c */
/* Under the lock: number this run and take its lifetime lock; 0, or -errno. */
int allocate_generation(supervisor *s);
/* A free port on the address's host, for a HOST:auto backend. */
int pick_port(ember_addr *a);
/* gen-G: what emberctl status shows of a live generation, and where the next upgrade finds the wake socket. */
void generation_record(supervisor *s);
void generation_forget(supervisor *s);
void generations_sweep(int dirfd);
/* handoff-G.sock: how an upgrade's generation gets the serving one's wake socket. */
int open_handoff_socket(supervisor *s);
void close_handoff_socket(supervisor *s);
void hand_off_wake_socket(supervisor *s);
int take_wake_socket(supervisor *s, uint64_t from);
/* Under the lock: another generation serves now. */
bool replaced(supervisor *s);
/* Entering SUP_DRAINING: the drain timeout armed, the wake socket let go. */
void begin_drain(supervisor *s);
/* Every DRAIN_CHECK_USEC while draining; 1 once the backend is stopped. */
int drain_step(supervisor *s);
void stop_other_generations(supervisor *s);
/* Our lifetime lock let go: no generation is ours any more (the unit's main process, staying). */
void generation_release(supervisor *s);
/* A supervisor of another generation is alive. */
bool other_generations_left(supervisor *s);
/* The generation that serving names is gone without stopping us: killed. */
bool serving_lost(supervisor *s);
int upgrade_foreground(int *ret_report_fd);
void upgrade_report(supervisor *s, upgrade_result kind, const char *fmt, ...) _printf_(3, 4);

/* record.c */
/* A failed run, for emberctl status and list (STATE_LAST_FAILURE); forgotten once a backend is ready again. */
void record_failure(supervisor *s, const char *event, const char *why);
/* Before a start: wait out the back-off of a backend that keeps crashing. */
void crash_backoff(int dirfd);
/* The live run's bill, every second, for emberctl metrics. */
void record_bill(supervisor *s);
/* The end of a run, under the lock: counted by how it ended, billed, logged once with the bill. */
void log_run_end(supervisor *s, const char *event, int prio, const char *why);
