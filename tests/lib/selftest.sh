#!/bin/bash
# tests/lib/tap.sh itself: each case is a small script run on its own; its TAP output and exit status are checked.
. "$(dirname "$0")/tap.sh"
plan 23

TAP_SH=$(cd "$(dirname "$0")" && pwd)/tap.sh
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-tap-selftest.XXXXXX") || bail "mktemp failed"
cleanup() { rm -rf "$DIR"; }
tap_at_exit cleanup

# run BODY: BODY as a script after sourcing tap.sh; its stdout in $out, its exit status in $rc
run() {
        printf '. "%s"\n%s\n' "$TAP_SH" "$1" >"$DIR/case.sh"
        out=$(bash "$DIR/case.sh" 2>&1)
        rc=$?
}

run 'plan 2; is "a" x x; like "b" "one
two" "^tw"; finish'
is "a plan met with passing tests: exit 0" "$rc" 0
is "the plan comes first, then the results" "$out" "$(printf '1..2\nok 1 - a\nok 2 - b')"

run 'plan 3; is "a" x x; finish'
is "fewer tests than planned: exit 1" "$rc" 1
like "and it says so" "$out" '^# planned 3 tests but ran 1$'

run 'plan 1; is "a" x x; is "b" y y; finish'
is "more tests than planned: exit 1" "$rc" 1

run 'plan 1; is "a" x y; finish'
is "a failed test: exit 1" "$rc" 1
like "is shows what it got and what it expected" "$out" "^#      got: 'x'\$"

run 'plan 1; is "a" x x; exit 3'
is "a script that dies after its tests: exit 1" "$rc" 1

run 'is "a" x x; finish'
is "no plan: exit 1" "$rc" 1

run 'plan 2; skip_all "not here"'
is "skip_all before any test skips the script" "$out" "1..0 # SKIP not here"
is "with exit 0" "$rc" 0

run 'plan 3; pass "a"; skip_all "the rest"'
is "skip_all after some tests skips the rest of the plan" "$out" "$(printf '1..3\nok 1 - a\nok 2 # SKIP the rest\nok 3 # SKIP the rest')"
is "with exit 0" "$rc" 0

run 'plan 2; pass "a"; bail "broken"'
like "bail says Bail out!" "$out" '^Bail out! broken$'
is "and exits 99" "$rc" 99

run 'plan 1; ok "a" sh -c "echo hidden; exit 4"; finish'
like "ok shows the output of a command that failed" "$out" '^#   hidden$'
run 'plan 1; ok "a" sh -c "echo hidden"; finish'
is "and hides that of one that passed" "$out" "$(printf '1..1\nok 1 - a')"

run 'plan 1; hook() { tap_error "a report in a log"; }; tap_at_exit hook; pass "a"; finish'
is "tap_error from an exit hook fails a script whose tests all passed" "$rc" 1

run 'plan 4; cmp_ok "a" 3 -le 3; cmp_ok "b" x -eq 0; isnt "c" x y; not_ok "d"; finish'
is "cmp_ok, isnt, not_ok" "$(printf '%s\n' "$out" | grep -E '^(not )?ok')" \
        "$(printf 'ok 1 - a\nnot ok 2 - b\nok 3 - c\nnot ok 4 - d')"

run 'plan 1; pass "a # SKIP is no directive here"; finish'
is "a '#' in a description is escaped" "$out" "$(printf '1..1\nok 1 - a \\# SKIP is no directive here')"

s='a.b*c[d](e)|f+g?h{1}^$\'
run "plan 2; like \"quoted\" '$s' \"\$(re_quote '$s')\"; like \"dot\" 'aXb*c[d](e)|f+g?h{1}^\$\\' \"\$(re_quote '$s')\"; finish"
is "re_quote matches the string itself and not what its specials would" \
        "$(printf '%s\n' "$out" | grep -E '^(not )?ok')" "$(printf 'ok 1 - quoted\nnot ok 2 - dot')"

run 'plan 2; like "case matters" "Refusing" "refusing"; like "lowercase" "$(echo "Refusing STATE" | lowercase)" "refusing state"; finish'
is "like is case-sensitive; lowercase folds A-Z" "$(printf '%s\n' "$out" | grep -E '^(not )?ok')" \
        "$(printf 'not ok 1 - case matters\nok 2 - lowercase')"

run 'plan 1; desc=d out=o rc=r; f() { [ "$desc$out$rc" = dor ]; }; ok "a" f; finish'
is "ok's command sees the caller's variables (desc, out, rc), not ok's own" "$rc" 0
finish
