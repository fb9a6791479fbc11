#!/bin/bash
# Metrics and the bill under a real systemd: a known sequence (3 cold starts, 5 connections, a crash, an idle stop,
# a manual stop) read back through `emberctl metrics` by a real Prometheus parser (python3-prometheus-client),
# through ember-metrics.timer's textfile by a real prometheus-node-exporter, the bill of a backend that burns a known
# amount of CPU, and journalctl -x explaining the events from ember's message catalog.
. "$(dirname "$0")/lib.sh"
plan 37

sys_boot
# Debian's python3, which has python3-prometheus-client (a python3 earlier on $PATH may not)
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
        bail "python3-prometheus-client is needed (CI installs it)"
command -v prometheus-node-exporter >/dev/null || bail "prometheus-node-exporter is needed (CI installs it)"
echo_app bill --idle=2s -- --burn-cpu=300ms
bpid=$(state $APP backend.pid)
cold() { [ "$(state $APP state)" = cold ]; }
served() { [ "$("$TOOLS/ember-test-client" --timeout=10s --send="$1" 127.0.0.1:$LISTEN_PORT)" = "$1" ]; }

# the known sequence: echo_app made connection 1 and cold start 1
ok "connection 2, warm" served two
ok "connection 3, warm" served three
c kill -KILL "$bpid"
ok "the crash is recorded" wait_until 5 cold
ok "connection 4: cold start 2" served four
ok "the idle stop comes" wait_until 10 cold
ok "connection 5: cold start 3" served five
ok "emberctl stop" c "$EMBERCTL" stop $APP

# metric VALUE: the sample of NAME{app=bill[,LABELS]} as the Prometheus parser reads it
c "$EMBERCTL" metrics >"$T_TMP/metrics.txt"
metric() {
        "$PY" - "$T_TMP/metrics.txt" "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name = sys.argv[1], sys.argv[2]
want = dict(kv.split("=", 1) for kv in sys.argv[3:])
want["app"] = "bill"
for family in text_string_to_metric_families(open(path).read()):
    for s in family.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
            print(s.value)
            sys.exit(0)
sys.exit(1)
PY
}
ok "the Prometheus parser reads every family" "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
names = {f.name for f in text_string_to_metric_families(open(sys.argv[1]).read())}
want = {"ember_connections", "ember_connections", "ember_cold_starts", "ember_cold_start_seconds", "ember_backend_up",
        "ember_backend_stops", "ember_backend_crashes", "ember_backend_run_seconds", "ember_backend_cpu_seconds",
        "ember_backend_memory_peak_bytes", "ember_backend_generation"}
assert want <= names, want - names' "$T_TMP/metrics.txt"
is "ember_cold_starts_total: 3" "$(metric ember_cold_starts_total)" 3.0
is "ember_connections_total: 5" "$(metric ember_connections_total)" 5.0
is "ember_connections: 0 live" "$(metric ember_connections)" 0.0
is "ember_backend_up: 0 after the stop" "$(metric ember_backend_up)" 0.0
is "stops: 1 crash" "$(metric ember_backend_stops_total reason=crash)" 1.0
is "stops: 1 idle" "$(metric ember_backend_stops_total reason=idle)" 1.0
is "stops: 1 manual" "$(metric ember_backend_stops_total reason=manual)" 1.0
is "ember_backend_crashes_total: 1" "$(metric ember_backend_crashes_total)" 1.0
is "the cold-start histogram counts 3 starts" "$(metric ember_cold_start_seconds_count)" 3.0
is "all 3 within 60 s" "$(metric ember_cold_start_seconds_bucket le=60)" 3.0
cpu=$(metric ember_backend_cpu_seconds_total)
ok "ember_backend_cpu_seconds_total ($cpu) covers 3 runs burning 0.3 s of CPU each, and is plausible" \
        "$PY" -c "import sys; assert 0.85 <= $cpu <= 5, $cpu"
mem=$(metric ember_backend_memory_peak_bytes)
ok "ember_backend_memory_peak_bytes ($mem) covers the 32 MiB the backend touched" "$PY" -c "assert 32 << 20 <= $mem <= 1 << 30, $mem"
run=$(metric ember_backend_run_seconds_total)
ok "ember_backend_run_seconds_total ($run) covers the idle period" "$PY" -c "assert 2 <= $run <= 60, $run"

# ---- the bill in the journal ------------------------------------------------------------------------------------
for ev in crash idle-stop stop; do
        cpu=$(journal_field $APP $ev EMBER_CPU_USEC)
        mem=$(journal_field $APP $ev EMBER_MEMORY_PEAK_BYTES)
        sec=$(journal_field $APP $ev EMBER_RUN_SEC)
        ok "$ev's bill: CPU ${cpu} us, peak ${mem} bytes, ${sec} s" \
                test "${cpu:-0}" -ge 280000 -a "${cpu:-0}" -le 3000000 -a "${mem:-0}" -ge $((32 << 20)) -a -n "$sec"
done

# ---- emberctl report sums the runs up from the journal ---------------------------------------------------------
c journalctl --sync
c "$EMBERCTL" report $APP --json >"$T_TMP/report.json"
ok "emberctl report: 3 runs, 5 connections, 1 crash, 3 cold starts, their CPU and memory" "$PY" -c '
import json, sys
[r] = json.load(open(sys.argv[1]))
assert (r["app"], r["runs"], r["connections"], r["crashes"], r["cold_starts"]) == ("bill", 3, 5, 1, 3), r
assert 850000 <= r["cpu_usec"] <= 5000000, r
assert r["memory_peak_bytes"] >= 32 << 20, r
assert 0 < r["cold_start_ms_p50"] <= r["cold_start_ms_p99"] <= 10000, r' "$T_TMP/report.json"
diag_file "$T_TMP/report.json"
like "emberctl report prints a table" "$(c "$EMBERCTL" report)" '^bill +3 '
like "report --since=tomorrow has nothing" "$(c "$EMBERCTL" report --since=tomorrow)" '^No backend runs'

# ---- journalctl -x explains the events --------------------------------------------------------------------------
c journalctl --update-catalog
like "journalctl -x explains an idle stop from ember's catalog" \
        "$(c journalctl -x -q --no-pager EMBER_APP=$APP EMBER_EVENT=idle-stop)" 'No connection to bill was open for the idle period'
like "and a crash" "$(c journalctl -x -q --no-pager EMBER_APP=$APP EMBER_EVENT=crash)" 'Subject: ember: the backend of bill crashed'
# (as doc/observability.md shows it)
like "journalctl -o verbose --output-fields= shows a run's bill" "$(c journalctl -q --no-pager EMBER_APP=$APP EMBER_EVENT=idle-stop \
        -o verbose --output-fields=EMBER_EVENT,EMBER_RUN_SEC,EMBER_CPU_USEC,EMBER_MEMORY_PEAK_BYTES)" '^ *EMBER_CPU_USEC=[0-9]+$'

# ---- the textfile, scraped by node_exporter ---------------------------------------------------------------------
# (the container's empty /etc gets first-boot presets, which enable everything: start from disabled, as after
# `make install` on a running system)
ok "ember-metrics.timer is shipped" c systemctl disable --now ember-metrics.timer
c rm -f /var/lib/prometheus/node-exporter/ember.prom
ok "one command enables it" c systemctl enable --now ember-metrics.timer
prom_ready() { c test -s /var/lib/prometheus/node-exporter/ember.prom; }
ok "and it writes /var/lib/prometheus/node-exporter/ember.prom" wait_until 20 prom_ready
pick_ports 1
c sh -c "prometheus-node-exporter --web.listen-address=127.0.0.1:${PORTS[0]} --collector.disable-defaults \
        --collector.textfile --collector.textfile.directory=/var/lib/prometheus/node-exporter >/run/node-exporter.log 2>&1 &"
scraped() { curl -sf "http://127.0.0.1:${PORTS[0]}/metrics" | grep -q '^ember_cold_starts_total{app="bill"} 3$'; }
ok "prometheus-node-exporter serves ember_cold_starts_total from the textfile" wait_until 20 scraped
is "and no textfile error" "$(curl -sf "http://127.0.0.1:${PORTS[0]}/metrics" | sed -n 's/^node_textfile_scrape_error //p')" 0
c pkill -f prometheus-node-exporter

tap_passing || diag_journal $APP
finish
