#!/bin/bash
# bench/vm-wake.sh: cold start vs wake from a checkpoint (--idle-action=checkpoint) vs thaw (--idle-action=freeze),
# side by side in one run, for python3 -m http.server and, where a JDK is installed, a small Java HttpServer. Run
# in the Debian 13 VM (criu works there; TCG: every absolute time is many times a real machine's, the ratios are
# what count):  bash tests/vm/vm check OUT "$PWD" bench/vm-wake.sh   then   tests/vm/vm result OUT bench/vm-wake.sh
# Each figure: from connect to the whole HTTP answer with curl, the first request after the app went idle (cold:
# stopped; restore: checkpointed; thaw: frozen), ROUNDS rounds, each side in turn. Prints key=value lines as TAP
# diagnostics; never a pass/fail test (the oks only say that each side answered).
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-3}
JAVA=$(command -v java || true)
kinds=(python)
[ -n "$JAVA" ] && kinds+=(java)
plan $((${#kinds[@]} * 3 * ROUNDS))

cat >"$T_TMP/Hello.java" <<'JAVA'
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;

public class Hello {
    public static void main(String[] args) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 64);
        byte[] body = "hello\n".getBytes();
        s.createContext("/", x -> { x.sendResponseHeaders(200, body.length); x.getResponseBody().write(body); x.close(); });
        s.start();
    }
}
JAVA
install -d -m 0755 /usr/local/lib/ember-vm
[ -z "$JAVA" ] || javac -d /usr/local/lib/ember-vm "$T_TMP/Hello.java" || diag "javac failed"

# cmd KIND PORT: the backend's command line
cmd() {
        case $1 in
        python) echo "/usr/bin/python3 -m http.server --bind 127.0.0.1 $2 --directory /usr/local/lib/ember-vm" ;;
        # no hsperfdata file in /tmp: a checkpoint cannot bring back a file of the last run's private /tmp
        java) echo "$JAVA -XX:-UsePerfData -XX:TieredStopAtLevel=1 -cp /usr/local/lib/ember-vm Hello $2" ;;
        esac
}
# first_ms PORT: ms from connect to the whole answer of one GET
first_ms() { curl -s -o /dev/null --max-time 300 -w '%{time_total}\n' "http://127.0.0.1:$1/" | awk '{ printf "%d", $1 * 1000 }'; }
state_is() { [ "$(state "$1" state)" = "$2" ]; }
idle_done() { # APP ACTION: its idle action has happened
        case $2 in
        stop) state_is "$1" cold ;;
        freeze) state_is "$1" frozen ;;
        checkpoint) state_is "$1" cold && [ -d "/var/lib/ember/$1/checkpoint" ] ;;
        esac
}

# restore_breakdown APP: where the last restore's time went, from the journal's monotonic timestamps, in ms from PID 1
# starting the backend unit (at the connection: the instance Wants= it, so the launcher's "Waking the backend" comes
# later): the supervisor beginning criu restore (the unit's set-up, systemd's sandbox, the supervisor's start), criu
# restore (its own time, and the checkpoint's removal, as the supervisor measured them), the backend ready
restore_breakdown() {
        journalctl --sync >/dev/null 2>&1
        journalctl -q --no-pager -o json --since=-15min 2>/dev/null | python3 -c '
import json, re, sys
app = sys.argv[1]
es = []
for l in sys.stdin:
    e = json.loads(l)
    u = e.get("_SYSTEMD_UNIT", "")
    if u == app + "-backend.service" or (e.get("_PID") == "1" and e.get("UNIT") == app + "-backend.service") \
            or u.startswith(app + "@"):
        es.append(e)
def t(e): return int(e["__MONOTONIC_TIMESTAMP"]) / 1000
def m(e): return e.get("MESSAGE", "") if isinstance(e.get("MESSAGE"), str) else ""
restoring = [e for e in es if m(e).startswith("Restoring the backend from")]
if not restoring: print("no restore in the journal"); sys.exit()
r = restoring[-1]
wake = [e for e in es if m(e) == "Waking the backend" and t(e) <= t(r) + 5000]
start = [e for e in es if e.get("_PID") == "1" and m(e).startswith("Starting") and t(e) <= t(r)]
done = [e for e in es if m(e).startswith("criu restore done") and t(e) >= t(r)]
ready = [e for e in es if e.get("EMBER_EVENT") == "ready" and t(e) >= t(r)]
if not (wake and start and done and ready): print("incomplete journal"); sys.exit()
u = t(start[-1]); c = re.search(r"after (\d+) ms; the checkpoint removed in (\d+) ms", m(done[0]))
print("from PID 1 starting the unit: the launcher waking it %+d ms, criu restore begins %d ms, criu restore %s ms, "
      "checkpoint removal %s ms, ready %d ms" % (t(wake[-1]) - u, t(r) - u, c.group(1), c.group(2), t(ready[0]) - u))' "$1"
}

port=18400
for kind in "${kinds[@]}"; do
        for action in stop checkpoint freeze; do
                port=$((port + 2))
                app=${kind:0:2}${action:0:4}
                # shellcheck disable=SC2046
                app_new $app --listen=127.0.0.1:$port --backend=127.0.0.1:$((port + 1)) --idle=2s --idle-action=$action \
                        --start-timeout=300s -- $(cmd $kind $((port + 1))) || diag "app $app failed"
                first_ms $port >/dev/null # the very first start: the side's own state is made
                eval "port_$app=$port"
        done
        for ((round = 1; round <= ROUNDS; round++)); do
                for action in stop checkpoint freeze; do
                        app=${kind:0:2}${action:0:4}
                        p=port_$app
                        if wait_until 120 idle_done $app $action; then
                                ms=$(first_ms ${!p})
                                echo "$kind $action $ms" >>"$T_TMP/figures"
                                ok "$kind $action round $round: answered after $ms ms" test -n "$ms" -a "${ms:-0}" -gt 0
                        else
                                not_ok "$kind $action round $round: its idle action never happened"
                        fi
                done
        done
        diag "$kind checkpoint: $(journal_field ${kind:0:2}chec checkpoint EMBER_CHECKPOINT_BYTES) bytes, dumped in $(journal_field ${kind:0:2}chec checkpoint EMBER_CHECKPOINT_MS) ms; restore ready after $(journal_field ${kind:0:2}chec restore EMBER_RESTORE_MS) ms"
        diag "$kind restore-failed: $(journal_events ${kind:0:2}chec restore-failed)"
        diag "$kind restore, the last round: $(restore_breakdown ${kind:0:2}chec)"
done
sort "$T_TMP/figures" | awk '{ k = $1 " " $2; n[k]++; v[k] = v[k] " " $3 } END { for (k in n) print "# figure " k ":" v[k] }'
finish
