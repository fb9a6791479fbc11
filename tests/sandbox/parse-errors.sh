#!/bin/bash
# A broken policy is refused with FILE:LINE: message and exit status 78, and nothing is started.
. "$(dirname "$0")/lib.sh"

cases=(
        "3|unknown directive 'allwo'|mode allow-list\naction errno EPERM\nallwo read\n"
        "2|unknown system call 'no_such_syscall'|mode deny-list\ndeny ptrace no_such_syscall\n"
        "4|unknown syscall group '@no-such-group'|# comment\n\nmode allow-list\nallow @default @no-such-group\n"
        "1|unknown errno 'EWHATEVER'|action errno EWHATEVER\n"
        "1|unknown mode 'permissive'|mode permissive\n"
        "2|'mode' must come before|allow @default\nmode deny-list\n"
        "2|'mode none' takes no rules|mode none\ndeny ptrace\n"
        "1|unknown namespace type 'users'|deny-namespaces users\n"
)
plan $((3 * ${#cases[@]} + 4))

i=0
for c in "${cases[@]}"; do
        i=$((i + 1))
        line=${c%%|*}
        rest=${c#*|}
        msg=${rest%%|*}
        printf "${rest#*|}" >"$TMP/bad$i.policy"
        rm -f "$TMP/started"
        "$SANDBOX" --policy="$TMP/bad$i.policy" -- touch "$TMP/started" 2>"$TMP/err"
        rc=$?
        is "bad policy $i ($msg): exit status 78" "$rc" 78
        like "bad policy $i: the error names file and line $line" "$(cat "$TMP/err")" \
                "$(re_quote "$TMP/bad$i.policy:$line: $msg")"
        ok "bad policy $i: nothing started" test ! -e "$TMP/started"
done

rm -f "$TMP/started"
"$SANDBOX" --policy=no-such-policy -- touch "$TMP/started" 2>"$TMP/err"
rc=$?
is "an unknown policy name is refused with exit status 78" "$rc" 78
ok "and nothing is started" test ! -e "$TMP/started"

# Names libseccomp knows that this architecture does not have are skipped, not errors.
case $(uname -m) in
x86_64) other=socketcall ;;
*) other=arch_prctl ;;
esac
printf 'mode deny-list\ndeny %s ptrace\n' "$other" >"$TMP/other-arch.policy"
"$SANDBOX" --policy="$TMP/other-arch.policy" -- true 2>"$TMP/err"
is "a system call of another architecture ($other) is accepted and skipped" "$?" 0
is "the rest of that policy applies" "$(run_probe "$TMP/other-arch.policy" ptrace)" "denied EPERM"
finish
