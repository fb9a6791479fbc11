#!/bin/bash
# A real OOM kill, under cgroup v2: the backend unit gets MemoryMax=64M in a drop-in, and a request makes the backend
# touch 256 MiB; the kernel's OOM killer kills it (the kernel log says so). ember heals: the next connection is
# served within 2 s beyond what a cold start of this backend costs in this VM (TCG is slow: both are measured and
# shown), the counts are exact (refcount 0 and no instance once idle), and the journal has one crash event that
# says the backend was killed by SIGKILL. The new backend runs under the same limit and serves what fits in it.
# (tests/system/heal-kill.sh does the same with a SIGKILL where no memory controller is to be had.)
. "$(dirname "$0")/lib.sh"
plan 16

APP=oom PORT=18081 BPORT=18082
ok "app $APP is up (emberctl new --now)" app_new $APP --listen=127.0.0.1:$PORT --backend=127.0.0.1:$BPORT --idle=60s -- \
        /usr/bin/python3 "$BACKEND" 127.0.0.1:$BPORT
ok "MemoryMax=64M, MemorySwapMax=0 in a drop-in" dropin $APP-backend.service oom.conf '[Service]\nMemoryMax=64M\nMemorySwapMax=0\n'
is "systemd has MemoryMax=64M for the backend unit" "$(unit_prop $APP-backend.service MemoryMax)" 67108864

t0=$(ms_now)
out=$(line_client $PORT ping)
cold_ms=$(($(ms_now) - t0))
is "a cold start serves ($cold_ms ms)" "$out" pong
cg=/sys/fs/cgroup/system.slice/$APP-backend.service
is "the backend's cgroup has memory.max 64M" "$(cat $cg/memory.max 2>&1)" 67108864

crashes=$(journal_events $APP crash)
bpid=$(state $APP backend.pid)
kills() { journalctl -k -q --no-pager -o cat | grep -c "oom-kill:.*oom_memcg=/system.slice/$APP-backend.service"; }
kills_before=$(kills)
out=$(line_client $PORT "eat 256")
is "the request that goes past MemoryMax= gets no answer, the connection is closed" "$out" ""
oom_logged() { [ "$(kills)" -gt "$kills_before" ]; }
ok "the kernel's OOM killer killed a process of $APP-backend.service (kernel log)" wait_until 30 oom_logged
gone() { ! kill -0 "$1" 2>/dev/null; }
ok "the backend ($bpid) is gone" wait_until 30 gone "$bpid"
diag "kernel: $(journalctl -k -q --no-pager -o cat | grep -e 'Killed process' | tail -n 1)"
diag "systemd: $(journalctl -q --no-pager -o cat -u $APP-backend.service | grep -i -e oom | tail -n 2)"

# the next connection, at once
t0=$(ms_now)
out=$(line_client $PORT ping)
heal_ms=$(($(ms_now) - t0))
bound=$((cold_ms + 2000))
if [ "$out" = pong ] && [ "$heal_ms" -le "$bound" ]; then
        pass "after the OOM kill the next connection is served in $heal_ms ms (cold start $cold_ms ms + 2 s: $bound)"
else
        not_ok "after the OOM kill the next connection is served within $bound ms (cold start $cold_ms ms + 2 s)"
        diag "got '$out' after $heal_ms ms"
fi
counts_exact "after the OOM kill" $APP
crash_once() { [ "$(journal_events $APP crash)" -gt "$crashes" ]; }
wait_until 30 crash_once
is "one journal entry EMBER_EVENT=crash" "$(($(journal_events $APP crash) - crashes))" 1
like "the crash says the backend was killed by SIGKILL" "$(journalctl -q --no-pager -o cat EMBER_APP=$APP EMBER_EVENT=crash | tail -n 1)" 'killed by signal KILL'
diag "EMBER_EVENT= of $APP so far: $(journalctl -q --no-pager -o export EMBER_APP=$APP | sed -n 's/^EMBER_EVENT=//p' | tr '\n' ' ')"
nbpid=$(state $APP backend.pid)
ok "a new backend serves ($nbpid, under the same limit)" test -n "$nbpid" -a "$nbpid" != "$bpid" -a -d /proc/"$nbpid"
is "what fits in MemoryMax= is served" "$(line_client $PORT "eat 16")" "ate 16"
is "emberctl stop: the state is cold" "$("$EMBERCTL" stop $APP >/dev/null 2>&1; state $APP state)" cold
counts_exact "idle, stopped" $APP
finish
