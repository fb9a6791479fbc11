# tests/vm/lib.sh: helpers of the VM tests (tests/vm/*.sh), which run INSIDE the Debian 13 VM that tests/vm/vm boots:
# as root, under its systemd as PID 1, with ember installed from its .deb (emberctl in /usr/bin), on cgroup v2.
# Each test makes its own apps on its own ports and removes them at its end; the tests run one after the other.
# TAP is tests/lib/tap.sh's. Bash.

set -u
export LC_ALL=C
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

T_NAME=$(basename "$0" .sh)
T_TMP=$(mktemp -d "/tmp/ember-vm-$T_NAME.XXXXXX")
EMBERCTL=/usr/bin/emberctl
# the backend, where the backend units (ProtectSystem=strict, PrivateTmp=) and any user can read it
BACKEND=/usr/local/lib/ember-vm/backend.py
APPS=()

vm_require() {
        [ "$(id -u)" = 0 ] || bail "not root in the VM"
        [ -d /run/systemd/system ] || bail "systemd is not PID 1 here"
        [ -x "$EMBERCTL" ] || bail "ember is not installed (no $EMBERCTL)"
        [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || bail "/sys/fs/cgroup is not cgroup v2"
        mkdir -p "${BACKEND%/*}" && install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/backend.py" "$BACKEND" ||
                bail "cannot install $BACKEND"
}
vm_require

# ---- waits and time -------------------------------------------------------------------------------------------

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS CMD...: poll every 0.1 s until CMD succeeds; 1 after SECONDS.
wait_until() {
        local deadline=$(($(ms_now) + ${1%.*} * 1000))
        shift
        while ! "$@" >/dev/null 2>&1; do
                [ "$(ms_now)" -ge "$deadline" ] && return 1
                sleep 0.1
        done
        return 0
}

# ---- apps -----------------------------------------------------------------------------------------------------

# app_new NAME EMBERCTL-NEW-ARGS...: emberctl new NAME ARGS --now, as a user would; removed again at the end.
app_new() {
        local name=$1
        shift
        APPS+=("$name")
        "$EMBERCTL" new "$name" --now "$@" >"$T_TMP/new-$name.out" 2>&1 || { diag_file "$T_TMP/new-$name.out"; return 1; }
        systemctl is-active --quiet "$name.socket" "$name-backend.socket" || { systemctl status --no-pager "$name.socket" "$name-backend.socket"; return 1; }
}

# dropin NAME-UNIT FILE CONTENT: a drop-in for a unit, then daemon-reload.
dropin() {
        mkdir -p "/etc/systemd/system/$1.d" && printf '%b' "$3" >"/etc/systemd/system/$1.d/$2" && systemctl daemon-reload
}

# Reads a state file of APP ("" if missing).
state() { cat "/run/ember/$1/$2" 2>/dev/null | tr -d '\n'; }

# Number of running connection instances of APP.
instances() { systemctl list-units --no-legend --plain --state=running "$1@*" | grep -c "^$1@"; }

unit_prop() { systemctl show -P "$2" "$1"; }

# journal_events APP EVENT: how many EMBER_EVENT=EVENT entries APP has logged.
journal_events() {
        journalctl --sync >/dev/null 2>&1
        journalctl -q --no-pager -o cat "EMBER_APP=$1" "EMBER_EVENT=$2" | grep -c .
}

# journal_field APP EVENT FIELD: FIELD of the last EMBER_EVENT=EVENT entry of APP.
journal_field() {
        journalctl --sync >/dev/null 2>&1
        journalctl -q --no-pager -o export -n 1 "EMBER_APP=$1" "EMBER_EVENT=$2" | sed -n "s/^$3=//p" | tail -n 1
}

# counts_exact DESC APP [N]: refcount and the running instances both equal N (default 0), once the connections
# that are closing have gone.
_counts_are() { local n; n=$(state "$1" refcount); [ "${n:-0}" = "$2" ] && [ "$(instances "$1")" = "$2" ]; }
counts_exact() {
        if wait_until 30 _counts_are "$2" "${3:-0}"; then
                pass "$1: refcount and running instances are ${3:-0}"
        else
                not_ok "$1: refcount and running instances are ${3:-0}"
                diag "refcount '$(state "$2" refcount)', instances $(instances "$2")"
        fi
}

# line_client PORT LINE...: sends each LINE to 127.0.0.1:PORT on one connection, prints the answers (the VM is slow,
# under a loaded host very: a cold start can take 10 s and more, so the bounds are generous; an answer ends it).
line_client() {
        local port=$1
        shift
        printf '%s\n' "$@" | timeout 200 socat -t 120 -T 180 - "TCP:127.0.0.1:$port" 2>&1
}

# keep_file FILE NAME: FILE brought out of the VM whole, as OUTDIR/NAME (vm run's OUTDIR; nothing outside the VM).
keep_file() {
        [ -d /vmio/out ] && [ -f "$1" ] && cp "$1" "/vmio/out/$2" 2>/dev/null
        return 0
}

# On failure, what the journal knows about APP: its units and ember's entries.
diag_journal() {
        journalctl --sync >/dev/null 2>&1
        {
                echo "--- $1.socket, $1-backend.socket, $1-backend.service"
                journalctl -q --no-pager -o short-monotonic -u "$1.socket" -u "$1-backend.socket" -u "$1-backend.service" | tail -n 40
                echo "--- $1@*.service, failures"
                journalctl -q --no-pager -o short-monotonic -u "$1@*" 2>/dev/null | grep -v -e 'Deactivated successfully' -e ': Started ' | tail -n 20
                echo "--- EMBER_APP=$1"
                journalctl -q --no-pager -o short-monotonic "EMBER_APP=$1" | tail -n 20
        } | sed 's/^/#   /'
}

vm_cleanup() {
        local a
        tap_passing || for a in "${APPS[@]}"; do diag_journal "$a"; done
        for a in "${APPS[@]}"; do
                "$EMBERCTL" rm "$a" >/dev/null 2>&1 || diag "emberctl rm $a failed"
                rm -rf "/etc/systemd/system/$a-backend.service.d"
        done
        [ ${#APPS[@]} -eq 0 ] || systemctl daemon-reload
        rm -rf "$T_TMP"
}
tap_at_exit vm_cleanup
