/* launcher/client.c's read of an upstream balancer's PROXY header, over a real loopback TCP connection, against a
 * peer that sends on a schedule: the header is taken by its deadline however the bytes come (all at once, one by
 * one, never complete), waiting costs no CPU, and the client's own bytes after the header stay in the socket.
 * A peer that never completes must be cut at the deadline even while its bytes keep coming. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "tap.h"
#include "timeutil.h"

#define MS USEC_PER_MSEC
/* generous for a loaded 2-core machine; what matters is that the bound holds, not how tightly */
#define LATE_SLACK (400 * MS)
#define CPU_MAX (50 * MS)
#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"
/* v2 PROXY TCP4 203.0.113.9:51000 -> 198.51.100.2:443 */
#define V2_TCP4 V2_SIG "\x21\x11\x00\x0c\xcb\x00\x71\x09\xc6\x33\x64\x02\xc7\x38\x01\xbb"

typedef struct peer {
        const char *bytes;
        size_t len;
        size_t chunk;     /* bytes per write */
        uint64_t every;   /* between two writes */
        bool close_after; /* else it stays open and silent until killed */
} peer;

static uint64_t cpu_usec(void) {
        return now_usec(CLOCK_PROCESS_CPUTIME_ID);
}

/* A connected pair on 127.0.0.1: *SERVER is the launcher's side, *CLIENT the balancer's. */
static void tcp_pair(int *server, int *client) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (l < 0 || bind(l, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *) &a, &len) < 0)
                bail_out("cannot listen on 127.0.0.1");
        *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (*client < 0 || connect(*client, (struct sockaddr *) &a, sizeof(a)) < 0)
                bail_out("cannot connect on 127.0.0.1");
        *server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (*server < 0)
                bail_out("cannot accept on 127.0.0.1");
        close(l);
}

/* The balancer: a child that writes P's bytes on its schedule over FD. */
static pid_t peer_start(int fd, const peer *p) {
        pid_t pid = fork();

        if (pid < 0)
                bail_out("fork failed");
        if (pid > 0)
                return pid;
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test killed by its alarm leaves no peer behind */
        for (size_t o = 0; o < p->len; o += p->chunk) {
                size_t n = p->len - o < p->chunk ? p->len - o : p->chunk;
                if (o > 0)
                        (void) nanosleep(&(struct timespec){ .tv_sec = (time_t) (p->every / USEC_PER_SEC),
                                                             .tv_nsec = (long) (p->every % USEC_PER_SEC) * 1000 },
                                         NULL);
                if (write(fd, p->bytes + o, n) != (ssize_t) n)
                        _exit(1);
        }
        if (p->close_after)
                _exit(0);
        for (;;)
                pause();
}

static void peer_stop(pid_t pid) {
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

typedef struct outcome {
        int r;
        const char *why;
        proxy_header h;
        uint64_t late;  /* past the deadline when it returned (0 if before) */
        uint64_t early; /* before the deadline when it returned (0 if after) */
        uint64_t cpu;
        char rest[64];  /* what the socket still held after the header (read once the peer is done) */
} outcome;

/* Reads the header P sends, with a deadline TIMEOUT away. */
static outcome run(const peer *p, uint64_t timeout) {
        outcome o = { .why = NULL };
        int server, client;
        pid_t pid;

        tcp_pair(&server, &client);
        pid = peer_start(client, p);
        close(client);
        uint64_t deadline = deadline_in(timeout), cpu = cpu_usec();
        o.r = client_read_proxy_header(server, deadline, &o.h, &o.why);
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        o.cpu = cpu_usec() - cpu;
        o.late = now > deadline ? now - deadline : 0;
        o.early = now < deadline ? deadline - now : 0;
        if (p->close_after) {
                (void) waitpid(pid, NULL, 0);
                ssize_t n = recv(server, o.rest, sizeof(o.rest) - 1, MSG_WAITALL | MSG_DONTWAIT);
                o.rest[n > 0 ? n : 0] = 0;
        } else
                peer_stop(pid);
        close(server);
        return o;
}

static const char *source(const proxy_header *h) {
        static char buf[160];
        return proxy_format_source(h, buf, sizeof(buf)) >= 0 ? buf : "(format failed)";
}

static void cut_at_deadline(const outcome *o, const char *what) {
        is_int(tap_fmt("%s: -ETIMEDOUT", what), o->r, -ETIMEDOUT);
        ok(tap_fmt("%s: at the deadline (%" PRIu64 " ms early, %" PRIu64 " ms late)", what, o->early / MS,
                   o->late / MS),
           o->early == 0 && o->late < LATE_SLACK);
        ok(tap_fmt("%s: waiting cost %" PRIu64 " us of CPU, under %llu ms", what, o->cpu,
                   (unsigned long long) (CPU_MAX / MS)),
           o->cpu < CPU_MAX);
        is_str(tap_fmt("%s: says why", what), o->why, "no complete PROXY header within the deadline");
}

static void test_silent_after_partial(void) {
        static const char partial[] = "PROXY TCP4 1.2.3.";
        outcome o = run(&(peer){ partial, sizeof(partial) - 1, sizeof(partial) - 1, 0, false }, 600 * MS);
        cut_at_deadline(&o, "'PROXY TCP4 1.2.3.' then silence");
}

static void test_silent_after_partial_v2(void) {
        outcome o = run(&(peer){ V2_TCP4, 20, 20, 0, false }, 600 * MS);
        cut_at_deadline(&o, "a v2 header cut in its addresses, then silence");
}

static void test_silent(void) {
        outcome o = run(&(peer){ "", 0, 1, 0, false }, 600 * MS);
        cut_at_deadline(&o, "no byte at all");
}

/* Each byte comes 40 ms after the one before: the whole line would take 2 s, the deadline is at 600 ms. */
static void test_trickle_past_deadline(void) {
        static const char line[] = "PROXY TCP4 192.168.100.200 192.168.100.201 65535 65535\r\n";
        outcome o = run(&(peer){ line, sizeof(line) - 1, 1, 40 * MS, false }, 600 * MS);
        cut_at_deadline(&o, "a byte every 40 ms of a header that would take 2 s");
}

static void accepted(const outcome *o, const char *src, const char *rest, const char *what) {
        is_int(tap_fmt("%s: accepted", what), o->r, 1);
        ok(tap_fmt("%s: before the deadline", what), o->early > 0);
        if (o->r == 1)
                is_str(tap_fmt("%s: source %s", what, src), source(&o->h), src);
        else
                skip(1, "no header");
        is_str(tap_fmt("%s: the client's own bytes after it are left for the relay", what), o->rest, rest);
        ok(tap_fmt("%s: cost %" PRIu64 " us of CPU", what, o->cpu), o->cpu < CPU_MAX);
}

static void test_slow_complete_v1(void) {
        static const char bytes[] = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\nhello\n";
        outcome o = run(&(peer){ bytes, sizeof(bytes) - 1, 1, 10 * MS, true }, 3 * USEC_PER_SEC);
        accepted(&o, "192.0.2.7:40000", "hello\n", "a v1 header and data a byte every 10 ms");
}

static void test_slow_complete_v2(void) {
        static const char bytes[] = V2_TCP4 "v2 data";
        outcome o = run(&(peer){ bytes, sizeof(bytes) - 1, 3, 20 * MS, true }, 3 * USEC_PER_SEC);
        accepted(&o, "203.0.113.9:51000", "v2 data", "a v2 header and data 3 bytes every 20 ms");
}

static void test_at_once(void) {
        static const char bytes[] = "PROXY TCP6 2001:db8::5 2001:db8::1 1234 80\r\nGET / HTTP/1.0\r\n\r\n";
        outcome o = run(&(peer){ bytes, sizeof(bytes) - 1, sizeof(bytes) - 1, 0, true }, 3 * USEC_PER_SEC);
        accepted(&o, "[2001:db8::5]:1234", "GET / HTTP/1.0\r\n\r\n", "a v1 header and a request in one write");
}

static void test_closed_in_the_middle(void) {
        static const char partial[] = "PROXY TCP4 192.0.2.7 19";
        outcome o = run(&(peer){ partial, sizeof(partial) - 1, 4, 5 * MS, true }, 3 * USEC_PER_SEC);
        is_int("a header cut short by a close: -EBADMSG", o.r, -EBADMSG);
        ok("at once, not at the deadline", o.early > 0);
        is_str("says why", o.why, "the connection closed in the middle of the PROXY header");
}

static void test_closed_before_a_byte(void) {
        outcome o = run(&(peer){ "", 0, 1, 0, true }, 3 * USEC_PER_SEC);
        is_int("a close before any byte: 0, nothing was asked", o.r, 0);
        ok("at once, not at the deadline", o.early > 0);
}

static void test_malformed_while_coming(void) {
        static const char bytes[] = "PROXY TCP4 1.2.3.4x";
        outcome o = run(&(peer){ bytes, sizeof(bytes) - 1, 1, 5 * MS, false }, 3 * USEC_PER_SEC);
        is_int("a byte that cannot continue a header: -EBADMSG as soon as it comes", o.r, -EBADMSG);
        ok("before the deadline", o.early > 0);
}

static void on_alarm(int sig) {
        static const char msg[] = "Bail out! a read of the PROXY header was still running after 60 s\n";
        (void) sig;
        (void) write(STDOUT_FILENO, msg, sizeof(msg) - 1);
        _exit(99);
}

int main(void) {
        /* the old read never looked at its deadline once a byte had come: fail, do not hang */
        signal(SIGALRM, on_alarm);
        alarm(60);
        signal(SIGPIPE, SIG_IGN);
        test_silent_after_partial();
        test_silent_after_partial_v2();
        test_silent();
        test_trickle_past_deadline();
        test_slow_complete_v1();
        test_slow_complete_v2();
        test_at_once();
        test_closed_in_the_middle();
        test_closed_before_a_byte();
        test_malformed_while_coming();
        return done();
}
