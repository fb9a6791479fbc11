#!/bin/bash
# tests/vm/runner.sh: run inside the VM by vmio.service (as /vmio/run.sh, from the second disk) once multi-user is
# reached: runs every test named in /vmio/tests.list, one after the other, as root, each bounded by
# /vmio/test-timeout seconds; NAME's TAP goes to /vmio/out/NAME.tap, its stderr to NAME.err, its exit status to
# NAME.rc (written last: a test without .rc did not end). /vmio/out/timing says how long boot and tests took.
# The VM powers off after it (vmio.service's ExecStopPost=).
io=/vmio
limit=$(cat "$io/test-timeout" 2>/dev/null || echo 600)
up() { cut -d' ' -f1 /proc/uptime; }
{
        echo "boot_to_script_s=$(up)"
        echo "kernel=$(uname -r)"
        echo "systemd=$(systemctl --version | head -n 1)"
        echo "cgroup_fs=$(stat -f -c %T /sys/fs/cgroup)"
        echo "cgroup_controllers=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
        echo "ember=$(dpkg-query -W -f '${Version}' ember 2>/dev/null)"
} >"$io/out/timing"
while read -r name; do
        [ -n "$name" ] || continue
        t0=$(up)
        timeout -k 10 "$limit" /bin/bash "$io/tests/vm/$name" >"$io/out/${name%.sh}.tap" 2>"$io/out/${name%.sh}.err" </dev/null
        rc=$?
        [ "$rc" = 124 ] && echo "vm runner: $name ran over its ${limit} s and was stopped" >>"$io/out/${name%.sh}.err"
        echo "$rc" >"$io/out/${name%.sh}.rc"
        echo "test_${name%.sh}_s=$(echo "$(up) $t0" | awk '{ printf "%.1f", $1 - $2 }')" >>"$io/out/timing"
        sync
done <"$io/tests.list"
echo "all_tests_done_s=$(up)" >>"$io/out/timing"
journalctl -b --no-pager -o short-monotonic >"$io/out/journal.txt" 2>&1
sync
