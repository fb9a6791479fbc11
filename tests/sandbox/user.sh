#!/bin/bash
# --user drops to that user: supplementary groups, gid, uid, for good; and so the backend cannot write ember's
# root-owned state (files 0644/0600 in a 0755 directory, see ember.policy(5)).
. "$(dirname "$0")/lib.sh"

is_root || skip_all "not root: --user needs privileges to change to another user"
id nobody >/dev/null 2>&1 || skip_all "no user 'nobody' on this system"
plan 9

is "--user=nobody: uid" "$("$SANDBOX" --user=nobody -- id -u)" "$(id -u nobody)"
is "--user=nobody: primary gid" "$("$SANDBOX" --user=nobody -- id -g)" "$(id -g nobody)"
is "--user=nobody: supplementary groups are nobody's, not root's" \
        "$("$SANDBOX" --user=nobody -- id -G | tr ' ' '\n' | sort -n | tr '\n' ' ')" "$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')"
u=$(id -u nobody)
g=$(id -g nobody)
is "real, effective, saved and fs ids all changed" \
        "$("$SANDBOX" --user=nobody -- grep -E '^(Uid|Gid):' /proc/self/status | tr -s ' \t' ' ' | tr '\n' ' ')" "Uid: $u $u $u $u Gid: $g $g $g $g "
is "no capabilities left" \
        "$("$SANDBOX" --user=nobody --policy=none -- grep -E '^CapEff:' /proc/self/status | tr -s ' \t' ' ')" "CapEff: 0000000000000000"

"$SANDBOX" --user=no-such-user-for-ember -- touch "$TMP/started" 2>"$TMP/err"
rc=$?
ok "an unknown user is refused (status $rc)" test "$rc" -ne 0
ok "and nothing is started" test ! -e "$TMP/started"

# ember's state directory as the supervisor keeps it: root-owned, 0755, files 0644 (counters) and 0600 (lock).
chmod 0755 "$TMP"
mkdir -m 0755 "$TMP/state"
echo 1 >"$TMP/state/refcount" && chmod 0644 "$TMP/state/refcount"
: >"$TMP/state/lock" && chmod 0600 "$TMP/state/lock"
"$SANDBOX" --user=nobody -- sh -c "echo 0 > '$TMP/state/refcount' || : > '$TMP/state/lock' || : > '$TMP/state/new'" \
        2>/dev/null
is "the backend cannot write the refcount" "$(cat "$TMP/state/refcount")" "1"
is "nor the lock, nor create files in the state directory" "$(ls "$TMP/state" | tr '\n' ' ')/$(stat -c %s "$TMP/state/lock")" \
        "lock refcount /0"
finish
