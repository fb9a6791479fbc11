/* The in-kernel relay's sk_skb stream verdict program, built instruction by instruction with labels for its jumps
 * (as lockdown.c builds its seccomp filter: no compiler, no libbpf) and loaded with bpf(2).
 *
 * Each skb read off a relayed socket (tcp_read_skb hands over whole skbs, in order):
 *
 *   if (len == 0) return SK_DROP;              the FIN's empty skb, see below
 *   key = bpf_get_socket_cookie(skb);
 *   f = lookup(flows, key) or a new { .next = seq };   seq: the skb's TCP sequence number (cb[0])
 *   d = f->next - seq;                          bytes at its head that were relayed already
 *   if (d >= len) return SK_DROP;
 *   if (d > 0) cut d bytes off its head (4095 at a time: bpf_skb_adjust_room's limit), or return SK_DROP;
 *   f->next = seq + len;
 *   bpf_sk_redirect_hash(skb, peers, &key, 0);  to the peer's egress; no peer (it is closing): stays with us
 *   return SK_PASS;                             a redirect counts only with SK_PASS; without one the skb stays
 *
 * Nothing here bounds what waits in the peer's psock queue for its send space: the launcher watches that and takes
 * a socket out of the program's map when it grows (launcher/kernel-relay.c). A program cannot do it: passing an skb
 * to its own socket instead (SK_PASS without a redirect) neither charges the socket's receive memory nor closes the
 * TCP window (Linux 6.18: a client sent 1 GiB that way in 2 s, with the socket's skmem r0).
 *
 * The drops are the kernel's (Linux 6.18), which would otherwise lose or repeat bytes:
 * - A retransmitted segment that overlaps what arrived before is queued whole (tcp_data_queue, "partial packet"),
 *   for readers to skip the overlap by copied_seq; tcp_read_skb does not skip it, so without the cut the peer would
 *   get those bytes twice. A peer's spurious retransmissions (tail loss probes under load) do this.
 * - The FIN's skb carries no byte and its meaning lives in the socket (RCV_SHUTDOWN, SOCK_DONE: recv() says EOF
 *   without it). Redirected, the peer's send path takes its zero length for an error; passed, it joins this
 *   socket's backlog whenever bytes redirected to this socket wait there for send space, and the backlog worker
 *   (sk_psock_backlog) takes the 0 its ingress returns for a hard error: EPIPE here, every byte redirected to this
 *   socket from then on dropped.
 * A cut or a new flow that fails (no memory) drops the skb: the launcher finds the bytes missing and resets the
 * connection. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "log.h"
#include "macro.h"
#include "relay-prog.h"

/* bpf_skb_adjust_room takes at most 4095 bytes off at a time; up to 160 times (640 KiB, twice the largest skb seen) */
#define TRIM_STEP 4095
#define TRIM_STEPS 160

#define PROG_MAX 128
enum { L_DATA, L_HAVE, L_CUT_STEP, L_CUT_REST, L_CUT_DONE, L_DROP, LABELS };

typedef struct prog {
        struct bpf_insn insn[PROG_MAX];
        unsigned n;
        int at[LABELS];            /* where each label is */
        int jump_to[PROG_MAX];     /* the label a jump at that index goes to, or -1 */
} prog;

/* the stack: the key, the trim counter, a new flow (where its relayed bytes end) */
#define FP_KEY (-8)
#define FP_STEPS (-16)
#define FP_FLOW (-24)

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* Its index, or -1 past PROG_MAX (counted still: resolve() says so) */
static int emit(prog *p, struct bpf_insn insn) {
        unsigned i = p->n++;

        if (i >= PROG_MAX)
                return -1;
        p->insn[i] = insn;
        p->jump_to[i] = -1;
        return (int) i;
}

static void jump(prog *p, struct bpf_insn insn, int label) {
        int i = emit(p, insn);

        if (i >= 0)
                p->jump_to[i] = label;
}

static void label(prog *p, int l) {
        p->at[l] = (int) p->n;
}

/* "reg = map": two 8-byte halves */
static void load_map(prog *p, int reg, int map) {
        emit(p, INSN(BPF_LD | BPF_IMM | BPF_DW, reg, BPF_PSEUDO_MAP_FD, 0, map));
        emit(p, INSN(0, 0, 0, 0, 0));
}

static void mov(prog *p, int dst, int src) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)); }
static void mov_imm(prog *p, int dst, int imm) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)); }
static void load32(prog *p, int dst, int base, int off) { emit(p, INSN(BPF_LDX | BPF_MEM | BPF_W, dst, base, off, 0)); }
static void store32(prog *p, int base, int off, int src) { emit(p, INSN(BPF_STX | BPF_MEM | BPF_W, base, src, off, 0)); }
static void call(prog *p, int fn) { emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)); }
static void ret(prog *p, int verdict) { mov_imm(p, BPF_REG_0, verdict); emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); }
static void stack_ptr(prog *p, int dst, int off) { mov(p, dst, BPF_REG_10); emit(p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, off)); }

static void lookup(prog *p, int map) {
        load_map(p, BPF_REG_1, map);
        stack_ptr(p, BPF_REG_2, FP_KEY);
        call(p, BPF_FUNC_map_lookup_elem);
}

#ifdef EMBER_TEST_HOOKS
/* Test builds only: EMBER_TEST_RELAY_DROP_FIRST=1 drops each socket's first skb, the kernel losing bytes on purpose,
 * for the launcher to find and reset the connection (tests/inetd/kernel-reset.sh). */
static bool test_drop_first(void) {
        return getenv("EMBER_TEST_RELAY_DROP_FIRST") != NULL;
}
#else
static bool test_drop_first(void) {
        return false;
}
#endif

/* r6 the skb, r8 its sequence number; r7 the flow from here on (made if new) */
static void find_flow(prog *p, int flows) {
        lookup(p, flows);
        jump(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0), L_HAVE);
        store32(p, BPF_REG_10, FP_FLOW, BPF_REG_8);
        load_map(p, BPF_REG_1, flows);
        stack_ptr(p, BPF_REG_2, FP_KEY);
        stack_ptr(p, BPF_REG_3, FP_FLOW);
        mov_imm(p, BPF_REG_4, BPF_ANY);
        call(p, BPF_FUNC_map_update_elem);
        jump(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0), L_DROP);
        lookup(p, flows); /* once more, not a loop back: the verifier would take one for endless */
        jump(p, INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, 0), L_DROP);
        if (test_drop_first())
                jump(p, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), L_DROP);
        label(p, L_HAVE);
        mov(p, BPF_REG_7, BPF_REG_0);
}

/* d = next - seq (r9) bytes off the head, if any; r8 becomes the skb's end */
static void cut_relayed(prog *p) {
        load32(p, BPF_REG_9, BPF_REG_7, 0);
        emit(p, INSN(BPF_ALU | BPF_SUB | BPF_X, BPF_REG_9, BPF_REG_8, 0, 0));
        load32(p, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, len));
        emit(p, INSN(BPF_ALU | BPF_ADD | BPF_X, BPF_REG_8, BPF_REG_2, 0, 0));
        jump(p, INSN(BPF_JMP32 | BPF_JSLE | BPF_K, BPF_REG_9, 0, 0, 0), L_CUT_DONE);
        jump(p, INSN(BPF_JMP32 | BPF_JGE | BPF_X, BPF_REG_9, BPF_REG_2, 0, 0), L_DROP);
        mov(p, BPF_REG_1, BPF_REG_9);
        emit(p, INSN(BPF_ALU | BPF_DIV | BPF_K, BPF_REG_1, 0, 0, TRIM_STEP));
        jump(p, INSN(BPF_JMP | BPF_JGT | BPF_K, BPF_REG_1, 0, 0, TRIM_STEPS), L_DROP);
        emit(p, INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, FP_STEPS, 0));
        emit(p, INSN(BPF_ALU | BPF_MOD | BPF_K, BPF_REG_9, 0, 0, TRIM_STEP));
        label(p, L_CUT_STEP);
        emit(p, INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_10, FP_STEPS, 0));
        jump(p, INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0), L_CUT_REST);
        emit(p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, -1));
        emit(p, INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, FP_STEPS, 0));
        mov(p, BPF_REG_1, BPF_REG_6);
        mov_imm(p, BPF_REG_2, -TRIM_STEP);
        mov_imm(p, BPF_REG_3, 0);
        mov_imm(p, BPF_REG_4, 0);
        call(p, BPF_FUNC_skb_adjust_room);
        jump(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0), L_DROP);
        jump(p, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), L_CUT_STEP);
        label(p, L_CUT_REST);
        jump(p, INSN(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_9, 0, 0, 0), L_CUT_DONE);
        mov(p, BPF_REG_1, BPF_REG_6);
        mov(p, BPF_REG_2, BPF_REG_9);
        emit(p, INSN(BPF_ALU64 | BPF_NEG, BPF_REG_2, 0, 0, 0));
        mov_imm(p, BPF_REG_3, 0);
        mov_imm(p, BPF_REG_4, 0);
        call(p, BPF_FUNC_skb_adjust_room);
        jump(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0), L_DROP);
        label(p, L_CUT_DONE);
        store32(p, BPF_REG_7, 0, BPF_REG_8);
}

static void redirect(prog *p, int peers) {
        mov(p, BPF_REG_1, BPF_REG_6);
        load_map(p, BPF_REG_2, peers);
        stack_ptr(p, BPF_REG_3, FP_KEY);
        mov_imm(p, BPF_REG_4, 0);
        call(p, BPF_FUNC_sk_redirect_hash);
        ret(p, SK_PASS);
        label(p, L_DROP);
        ret(p, SK_DROP);
}

static int resolve(prog *p) {
        if (p->n > PROG_MAX)
                return -E2BIG;
        for (unsigned i = 0; i < p->n; i++)
                if (p->jump_to[i] >= 0)
                        p->insn[i].off = (int16_t) (p->at[p->jump_to[i]] - (int) i - 1);
        return 0;
}

static int build(prog *p, int peers, int flows) {
        *p = (prog){};
        mov(p, BPF_REG_6, BPF_REG_1);
        load32(p, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, len));
        jump(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, 0), L_DATA);
        ret(p, SK_DROP);
        label(p, L_DATA);
        call(p, BPF_FUNC_get_socket_cookie);
        emit(p, INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_0, FP_KEY, 0));
        load32(p, BPF_REG_8, BPF_REG_6, offsetof(struct __sk_buff, cb));
        find_flow(p, flows);
        cut_relayed(p);
        redirect(p, peers);
        return resolve(p);
}

static int prog_load(const prog *p, char *log, size_t log_size) {
        union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SK_SKB, .insns = (uintptr_t) p->insn, .insn_cnt = p->n,
                             .license = (uintptr_t) "GPL", .log_buf = (uintptr_t) log, .log_size = (uint32_t) log_size,
                             .log_level = log ? 1 : 0 };
        snprintf(a.prog_name, sizeof(a.prog_name), "ember_relay");
        int fd = (int) syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
        return fd < 0 ? -errno : fd;
}

int relay_prog_load(int peers, int flows) {
        static char log[65536];
        static prog p;
        int r = build(&p, peers, flows);
        if (r < 0)
                return r;
        int fd = prog_load(&p, NULL, 0);
        if (fd < 0 && prog_load(&p, log, sizeof(log)) < 0) /* again, for the verifier's word */
                log_debug("BPF verifier: %s", log);
        return fd;
}
