#!/bin/bash
# --user drops to that user: supplementary groups, gid, uid, for good; and so the backend cannot write ember's
# root-owned state (files 0644/0600 in a 0755 directory, see ember.policy(5)).
. "$(dirname "$0")/lib.sh"

is_root || skip_all "not root: --user needs privileges to change to another user"
id nobody >/dev/null 2>&1 || skip_all "no user 'nobody' on this system"
plan 9

is "$("$SANDBOX" --user=nobody -- id -u)" "$(id -u nobody)" "--user=nobody: uid"
is "$("$SANDBOX" --user=nobody -- id -g)" "$(id -g nobody)" "--user=nobody: primary gid"
is "$("$SANDBOX" --user=nobody -- id -G | tr ' ' '\n' | sort -n | tr '\n' ' ')" \
        "$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')" "--user=nobody: supplementary groups are nobody's, not root's"
u=$(id -u nobody)
g=$(id -g nobody)
is "$("$SANDBOX" --user=nobody -- grep -E '^(Uid|Gid):' /proc/self/status | tr -s ' \t' ' ' | tr '\n' ' ')" \
        "Uid: $u $u $u $u Gid: $g $g $g $g " "real, effective, saved and fs ids all changed"
is "$("$SANDBOX" --user=nobody --policy=none -- grep -E '^CapEff:' /proc/self/status | tr -s ' \t' ' ')" \
        "CapEff: 0000000000000000" "no capabilities left"

"$SANDBOX" --user=no-such-user-for-ember -- touch "$TMP/started" 2>"$TMP/err"
rc=$?
ok $((rc == 0)) "an unknown user is refused (status $rc)"
ok $(test ! -e "$TMP/started"; echo $?) "and nothing is started"

# ember's state directory as the supervisor keeps it: root-owned, 0755, files 0644 (counters) and 0600 (lock).
chmod 0755 "$TMP"
mkdir -m 0755 "$TMP/state"
echo 1 >"$TMP/state/refcount" && chmod 0644 "$TMP/state/refcount"
: >"$TMP/state/lock" && chmod 0600 "$TMP/state/lock"
"$SANDBOX" --user=nobody -- sh -c "echo 0 > '$TMP/state/refcount' || : > '$TMP/state/lock' || : > '$TMP/state/new'" \
        2>/dev/null
is "$(cat "$TMP/state/refcount")" "1" "the backend cannot write the refcount"
is "$(ls "$TMP/state" | tr '\n' ' ')/$(stat -c %s "$TMP/state/lock")" "lock refcount /0" \
        "nor the lock, nor create files in the state directory"
finish
