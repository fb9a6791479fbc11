# tests/lib/tap.sh: the TAP producer of every shell test layer (tests/inetd, tests/sandbox, tests/reliability,
# tests/system), read by automake's tap-driver. Each layer's lib.sh sources it and adds only its own helpers. Bash.
#
#   plan N                    N tests will run; declare it before the first. A script that ends having run another
#                             number of tests fails.
#   ok DESC CMD [ARG...]      passes if CMD exits 0; CMD's output is kept and shown only if it fails
#   pass DESC, not_ok DESC    a result the caller decided (for a description that says what was seen)
#   is DESC GOT WANT          GOT and WANT are the same string
#   isnt DESC GOT UNWANTED    they differ
#   cmp_ok DESC GOT OP WANT   GOT is an integer and GOT OP WANT holds, OP one of -eq -ne -lt -le -gt -ge
#   like DESC GOT ERE         some line of GOT matches the POSIX extended regular expression ERE, as `grep -E` reads
#                             it: case matters, ^ and $ anchor at the ends of a line, . never crosses one. For a
#                             fixed string use "$(re_quote STRING)"; to match regardless of case, lowercase the text
#                             ("$(lowercase <FILE)") and write ERE in lowercase.
#   skip N REASON             N tests that cannot run here
#   skip_all REASON           nothing (more) of this script can run here: before any test the whole script is
#                             skipped, after some the rest of the plan is; exits 0
#   bail REASON               Bail out!: something the tests rely on is broken; ends the script as an error
#   diag MSG...               every line of every MSG as a TAP comment; diag_file FILE [N]: FILE's first N (40) lines
#   finish                    the end of a script: exits 0 if the plan ran and nothing failed, 1 if not
#
# For the layers' libraries: tap_at_exit FUNC runs FUNC when the script exits, before the verdict (cleanup; it may
# call tap_error MSG, which fails the script without a test of its own); tap_passing says whether the script passes
# so far (at exit: with its plan met), for showing logs only when it does not.

_tap_run=0
_tap_failed=0
_tap_plan=
_tap_plan_shown=
_tap_errors=0
_tap_bailed=
_tap_finished=
_tap_exiting=
_tap_exit_status=0
_tap_at_exit=()

plan() {
        [[ "${1:-}" =~ ^[0-9]+$ ]] || bail "plan: '${1:-}' is not a number of tests"
        [ -z "$_tap_plan" ] || bail "plan: declared twice ($_tap_plan, then $1)"
        _tap_plan=$1
}
# The plan line goes out just before the first result, so that a skip_all before any test can still skip the script.
_tap_show_plan() {
        [ -n "$_tap_plan_shown" ] && return 0
        _tap_plan_shown=1
        [ -n "$_tap_plan" ] && echo "1..$_tap_plan"
        return 0
}
_tap_result() { # STATUS DESC
        _tap_show_plan
        _tap_run=$((_tap_run + 1))
        if [ "$1" -eq 0 ]; then
                echo "ok $_tap_run - ${2//#/\\#}"
        else
                _tap_failed=$((_tap_failed + 1))
                echo "not ok $_tap_run - ${2//#/\\#}"
        fi
        [ "$1" -eq 0 ]
}
pass() { _tap_result 0 "$1"; }
not_ok() { _tap_result 1 "$1"; }

diag() {
        local msg line
        for msg in "$@"; do
                while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$msg"
        done
}
diag_file() { # FILE [LINES]
        [ -s "$1" ] && sed 's/^/#   /' "$1" | head -n "${2:-40}"
        return 0
}

ok() {
        # (the locals have names no caller uses: CMD sees the caller's variables, not these)
        local _tap_desc=$1 _tap_out _tap_rc
        shift
        _tap_out=$(mktemp "${TMPDIR:-/tmp}/ember-tap.XXXXXX") || bail "mktemp failed"
        "$@" >"$_tap_out" 2>&1
        _tap_rc=$?
        _tap_result "$_tap_rc" "$_tap_desc" || { diag "command: $*" "exit status $_tap_rc"; diag_file "$_tap_out"; }
        rm -f "$_tap_out"
        return "$_tap_rc"
}
is() {
        if [ "$2" = "$3" ]; then
                _tap_result 0 "$1"
                return 0
        fi
        _tap_result 1 "$1"
        diag "     got: '$2'" "expected: '$3'"
        return 1
}
isnt() {
        if [ "$2" != "$3" ]; then
                _tap_result 0 "$1"
                return 0
        fi
        _tap_result 1 "$1"
        diag "     got: '$2' (must differ)"
        return 1
}
cmp_ok() {
        if [[ "$2" =~ ^-?[0-9]+$ ]] && [ "$2" "$3" "$4" ]; then
                _tap_result 0 "$1"
                return 0
        fi
        _tap_result 1 "$1"
        diag "     got: '$2'" "expected: $3 $4"
        return 1
}
like() {
        printf '%s\n' "$2" | grep -qE -- "$3"
        _tap_result $? "$1" && return 0
        diag "no line matches /$3/ in:"
        printf '%s\n' "$2" | head -n 40 | sed 's/^/#   /'
        return 1
}
# re_quote STRING: STRING as an ERE that matches exactly it
re_quote() { printf '%s' "$1" | sed 's/[].[\*^$+?(){}|]/\\&/g'; }
# lowercase: stdin with A-Z as a-z (what grep -i folds in the C locale)
lowercase() { LC_ALL=C tr 'A-Z' 'a-z'; }

skip() { # N REASON
        local i
        _tap_show_plan
        for ((i = 0; i < $1; i++)); do
                _tap_run=$((_tap_run + 1))
                echo "ok $_tap_run # SKIP ${2//#/\\#}"
        done
}
skip_all() {
        if [ "$_tap_run" -eq 0 ]; then
                echo "1..0 # SKIP $*"
                _tap_plan=0
                _tap_plan_shown=1
        elif [ -n "$_tap_plan" ]; then
                skip $((_tap_plan - _tap_run)) "$*"
        fi
        _tap_finished=1
        exit 0
}
bail() {
        echo "Bail out! $*"
        _tap_bailed=1
        exit 99
}
finish() {
        _tap_finished=1
        exit 0 # the verdict is _tap_exit's
}

tap_at_exit() { _tap_at_exit+=("$1"); }
tap_error() {
        _tap_errors=$((_tap_errors + 1))
        diag "$@"
}
tap_passing() {
        [ "$_tap_failed" -eq 0 ] && [ "$_tap_errors" -eq 0 ] && [ -z "$_tap_bailed" ] || return 1
        [ -n "$_tap_exiting" ] || return 0
        [ -n "$_tap_plan" ] && [ "$_tap_run" -eq "$_tap_plan" ] && { [ -n "$_tap_finished" ] || [ "$_tap_exit_status" -eq 0 ]; }
}

_tap_exit() {
        _tap_exit_status=$?
        local f rc=0
        trap - EXIT
        _tap_exiting=1
        for f in "${_tap_at_exit[@]}"; do "$f"; done
        [ -n "$_tap_plan" ] && [ -z "$_tap_bailed" ] && _tap_show_plan # one that died before its first test shows its plan
        if [ -n "$_tap_bailed" ]; then
                rc=99
        elif ! tap_passing; then
                rc=1
                [ -n "$_tap_plan" ] || diag "no plan: the script declared none"
                [ -n "$_tap_plan" ] && [ "$_tap_run" -ne "$_tap_plan" ] && diag "planned $_tap_plan tests but ran $_tap_run"
                [ -n "$_tap_finished" ] || [ "$_tap_exit_status" -eq 0 ] ||
                        diag "the script exited with status $_tap_exit_status before its end"
                [ "$_tap_failed" -eq 0 ] || diag "$_tap_failed of $_tap_run tests failed"
        fi
        exit "$rc"
}
trap _tap_exit EXIT
