#!/bin/bash
# --idle-action=checkpoint where criu cannot checkpoint (this machine's: Debian 12's criu 3.17 on a newer kernel;
# tests/vm/checkpoint.sh has one that can): the idle backend is stopped instead, said once with criu's reason, and
# the next connection is served by a cold start. A checkpoint that is not this run's (another command line) is
# discarded and said so; one without its ember-checkpoint file (a dump cut short) falls back to a cold start and
# says so; one whose restore was cut short (checkpoint.restoring, what a supervisor killed during a restore leaves:
# tests/vm/checkpoint.sh kills one) is not tried again: removed, said, and a cold start serves. The backend's output
# still reaches the supervisor's (through the pipe a checkpoint needs).
. "$(dirname "$0")/lib.sh"
[ "${EMBER_CHECKPOINT:-no}" = yes ] || skip_all "--idle-action=checkpoint is not built (experimental: ./configure --enable-checkpoint)"
[ "$(id -u)" -eq 0 ] || skip_all "criu needs root"
command -v criu >/dev/null || PATH=$PATH:/usr/sbin command -v criu >/dev/null || skip_all "criu not installed"
export PATH=$PATH:/usr/sbin
plan 16
ember_setup
export EMBER_CHECKPOINT_ROOT=$TEST_DIR/lib
SA_ENV+=(-E EMBER_CHECKPOINT_ROOT)
dir=$EMBER_CHECKPOINT_ROOT/$APP/checkpoint
SANDBOX_ARGS=(--idle=1s --idle-action=checkpoint --policy=none)
BACKEND_ARGS=(--mode=echo --ready-delay=10ms)
ember_start

is "the connection is served" "$(client --send='one\n' "$ADDR")" one
bpid=$(st backend.pid)
ok "after the idle period the app is cold" wait_until 60 st_is state cold
if grep -q 'Idle backend checkpointed' "$LOG"; then
        skip_all "criu can checkpoint here: tests/vm/checkpoint.sh is the test for that"
fi
is "the checkpoint failed, said once with the reason" "$(grep -c 'Checkpoint of the idle backend failed, stopping it instead: criu dump failed: ' "$LOG")" 1
ok "the backend was stopped instead" wait_until 5 dead "$bpid"
ok "no checkpoint is left" test ! -e "$dir" -a ! -e "$dir.new"
is "the next connection is served by a cold start" "$(client --send='two\n' "$ADDR"; st cold-starts)" "two
2"
ok "the stop said idle-stop, as without the option" grep -q 'checkpoint failed' "$LOG"

# A checkpoint left by another command line: discarded, and a cold start serves.
wait_until 60 st_is state cold
mkdir -p -m 0700 "$dir" && echo "fingerprint=0123456789abcdef pipe=1" >"$dir/ember-checkpoint"
is "a checkpoint of another command line: a cold start serves" "$(client --send='three\n' "$ADDR"; st cold-starts)" "three
3"
like "it was discarded, and said why" "$(grep 'discarded' "$LOG")" "Checkpoint $dir discarded: the backend's command"
ok "and is gone" test ! -e "$dir"

# One without its ember-checkpoint file (a dump cut short): restore-failed, and a cold start serves.
wait_until 60 st_is state cold
mkdir -p -m 0700 "$dir" && : >"$dir/pstree.img"
is "a checkpoint without its ember-checkpoint file: a cold start serves" "$(client --send='four\n' "$ADDR"; st cold-starts)" "four
4"
is "said once" "$(grep -c 'Restoring the backend from its checkpoint failed, starting it cold instead: .* has no readable ember-checkpoint' "$LOG")" 1
ok "and it is gone" test ! -e "$dir"

# One whose restore was cut short: restore-failed, and a cold start serves.
wait_until 60 st_is state cold
mkdir -p -m 0700 "$dir.restoring" && echo "fingerprint=0123456789abcdef pipe=1" >"$dir.restoring/ember-checkpoint"
is "a checkpoint whose restore was cut short: a cold start serves" "$(client --send='five\n' "$ADDR"; st cold-starts)" "five
5"
is "said once, why" "$(grep -c 'Restoring the backend from its checkpoint failed, starting it cold instead: the last restore from the checkpoint was cut short' "$LOG")" 1
ok "and it is gone" test ! -e "$dir.restoring"
finish
