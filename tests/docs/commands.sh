#!/bin/bash
# Every command shown in README.md and doc/*.md stays true. Each command line of their ```sh blocks
# (tests/docs/extract.py) is checked by what it runs:
# - emberctl, ember-launch, ember-sandbox (also nested, as in inetd mode): every option it names is in that program's
#   --help (emberctl's verbs: `emberctl VERB --help`); a doc naming an option that does not exist fails here.
# - `emberctl new`: run for real, dry: the units go to a temporary --unit-dir (no systemd, no user made), without
#   --now; it must exit 0. A COMMAND that is not on this machine (podman, /opt/foo/v2/server) is replaced by
#   /bin/true, so that the rest of the line is still checked.
# - the build: ./autogen.sh, ./configure (its options in ./configure --help), make (its targets in the Makefile),
#   demo/quickstart and .ci/run (the README's quick start) exist and are executable.
# - anything else needs a real systemd (or a network, a balancer, …): its block names the files that run it, in a
#   comment `# run by tests/system/X.sh[, …]`, and one of them must hold a line with the same program (for emberctl
#   and systemctl: the same verb) and every option the doc gives it. A block may instead say `# untested: REASON`:
#   its commands are then reported as skipped, with the reason (their ember options are still checked).
# A text filter in a pipeline (grep, head, …) is taken as it is. In the prose, each `code span` that runs an ember
# program or ./configure names only options that program has.
. "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
: "${top_builddir:=$top_srcdir}"
cd "$top_srcdir" || bail "no $top_srcdir"

EMBERCTL=$top_builddir/ctl/emberctl
LAUNCH=$top_builddir/launcher/ember-launch
SANDBOX=$top_builddir/sandbox/ember-sandbox
for p in "$EMBERCTL" "$LAUNCH" "$SANDBOX"; do [ -x "$p" ] || bail "$p is not built"; done
command -v python3 >/dev/null || skip_all "python3 is missing (tests/docs/extract.py)"
T=$(mktemp -d "${TMPDIR:-/tmp}/ember-docs.XXXXXX") || bail "mktemp failed"
cleanup() { rm -rf "$T"; }
tap_at_exit cleanup

DOCS=(README.md doc/*.md)
python3 tests/docs/extract.py "${DOCS[@]}" >"$T/commands" 2>"$T/extract.err" || {
        cat "$T/extract.err"
        bail "tests/docs/extract.py failed"
}
python3 tests/docs/extract.py --inline "${DOCS[@]}" >"$T/inline" || bail "tests/docs/extract.py --inline failed"
n=$(wc -l <"$T/commands")
[ "$n" -gt 20 ] || bail "only $n commands found in ${DOCS[*]}"
plan $((n + $(wc -l <"$T/inline") + 3))

FILTERS=' grep head tail sed sort wc less cut tr '

# help_of PROG [VERB]: PROG's --help (emberctl VERB's for a verb)
help_of() {
        case $1 in
        emberctl) "$EMBERCTL" ${2:+"$2"} --help 2>&1 ;;
        ember-launch) "$LAUNCH" --help 2>&1 ;;
        ember-sandbox) "$SANDBOX" --help 2>&1 ;;
        configure) ./configure --help 2>&1 ;;
        esac
}
# opt_name WORD: an option's name without its value (--listen=8080: --listen)
opt_name() { printf '%s' "${1%%=*}"; }
# in_help OPT HELP: HELP lists OPT as an option ("  -f, --follow", "[--wait]", "--drain-timeout=DUR")
in_help() { printf '%s\n' "$2" | grep -qE -- "(^|[[:space:],[])$(re_quote "$1")([=[:space:],]|\]|$)"; }

# bad_options WORDS...: the options named for an ember program or ./configure that its help does not list, each as
# "PROG: OPT"; ember programs are found anywhere in the line, each one's options read up to its `--`
bad_options() {
        local w prog= verb= help= want_verb=
        for w in "$@"; do
                case ${w##*/} in
                emberctl | ember-launch | ember-sandbox | configure)
                        prog=${w##*/} verb= want_verb=
                        [ "$prog" = emberctl ] && want_verb=1
                        help=$(help_of "$prog")
                        continue ;;
                esac
                [ -n "$prog" ] || continue
                if [ "$w" = -- ] || [ "$w" = '&&' ] || [ "$w" = '||' ] || [ "$w" = ';' ] || [ "$w" = '|' ]; then
                        prog=
                elif [[ "$w" == -* ]]; then
                        in_help "$(opt_name "$w")" "$help" || echo "$prog${verb:+ $verb}: $(opt_name "$w")"
                elif [ -n "$want_verb" ]; then
                        verb=$w want_verb=
                        help=$(help_of emberctl "$verb")
                fi
        done
}

# dry_new WORDS...: `emberctl new` of a doc into a temporary unit directory; true if it exits 0
dry_new() {
        local args=() w dir missing rc i
        dir=$(mktemp -d "$T/units.XXXXXX")
        for w in "${@:2}"; do
                case $w in --now | --unit-dir=*) continue ;; esac
                args+=("$w")
        done
        run_new() {
                local a=() seen= w
                for w in "${args[@]}"; do
                        if [ -z "$seen" ] && [ "$w" = -- ]; then
                                a+=("--unit-dir=$dir" --)
                                seen=1
                        else
                                a+=("$w")
                        fi
                done
                EMBER_TEMPLATE_DIR=$top_srcdir/templates EMBER_RUNTIME_DIR=$T/run "$EMBERCTL" "${a[@]}" >"$T/new.out" 2>&1
        }
        run_new
        rc=$?
        missing=$(sed -n "s/^emberctl: invalid COMMAND '\(.*\)': No such file or directory$/\1/p" "$T/new.out")
        if [ "$rc" = 64 ] && [ -n "$missing" ]; then
                for i in "${!args[@]}"; do [ "${args[$i]}" = "$missing" ] && args[$i]=/bin/true; done
                diag "$missing is not on this machine: checked with /bin/true in its place"
                run_new
                rc=$?
        fi
        [ "$rc" = 0 ] || { diag "emberctl ${args[*]} --unit-dir=$dir: exit $rc"; diag_file "$T/new.out"; }
        [ "$rc" = 0 ]
}

# run_by_has FILES PROG WORDS...: some command line of one of FILES (a backslash goes on on the next line) runs PROG
# (its verb, for emberctl and systemctl) with every option WORDS gives PROG itself, up to a `--` or a nested ember
# program (whose options are checked against its --help); a short option may be in a cluster (-s in -sf). Comment
# lines do not count.
run_by_has() {
        local files=$1 prog=$2 verb= w f
        shift 2
        local want=()
        case $prog in
        emberctl | systemctl)
                for w in "$@"; do [[ "$w" != -* ]] && { verb=$w; break; }; done ;;
        esac
        # emberctl as the tests call it: emberctl, "$EMBERCTL" or a wrapper named ectl
        if [ "$prog" = emberctl ]; then want+=(@emberctl); else want+=("$prog"); fi
        [ -n "$verb" ] && want+=("$verb")
        for w in "$@"; do
                case $w in --) break ;; */ember-launch | */ember-sandbox | */emberctl) break ;; esac
                [[ "$w" == -* ]] && want+=("$(opt_name "$w")")
        done
        for f in $files; do
                [ -f "$f" ] || { diag "$f (named by 'run by') does not exist"; return 1; }
                awk -v want="$(printf '%s\n' "${want[@]}")" '
                        BEGIN { n = split(want, w, "\n"); if (w[n] == "") n-- }
                        # has(LINE, WORD): WORD stands alone in LINE, not inside a longer word; a short option
                        # also inside a cluster of them
                        function has(line, word,   p, before, after, re) {
                                if (word == "@emberctl")
                                        return line ~ /(^|[^A-Za-z0-9_])(emberctl|EMBERCTL|ectl)([^A-Za-z0-9_-]|$)/
                                if (word ~ /^-[A-Za-z0-9]$/) {
                                        re = "(^|[^A-Za-z0-9_-])-[A-Za-z0-9]*" substr(word, 2, 1) "[A-Za-z0-9]*([^A-Za-z0-9_-]|$)"
                                        return line ~ re
                                }
                                line = " " line " "
                                while ((p = index(line, word)) > 0) {
                                        before = substr(line, p - 1, 1); after = substr(line, p + length(word), 1)
                                        if (before !~ /[A-Za-z0-9_-]/ && after !~ /[A-Za-z0-9_-]/) return 1
                                        line = substr(line, p + 1)
                                }
                                return 0
                        }
                        /^[ \t]*#/ { acc = ""; next }
                        /\\$/ { acc = acc substr($0, 1, length($0) - 1) " "; next }
                        { line = acc $0; acc = ""
                          for (i = 1; i <= n; i++) if (!has(line, w[i])) next
                          hit = 1; exit }
                        END { exit !hit }' "$f" && return 0
        done
        diag "no command line of $files runs: ${want[*]}"
        return 1
}

# check_command WHERE MARK WORDS...: one TAP result for one command of the docs
check_command() {
        local where=$1 mark=$2 prog bad
        shift 2
        prog=${1##*/}
        bad=$(bad_options "$@")
        if [ -n "$bad" ]; then
                not_ok "$where: $* names options that do not exist"
                diag "$bad"
                return
        fi
        case $mark in untested:*)
                skip 1 "$where: $prog ${*:2}: $mark"
                return ;;
        esac
        case $prog in
        emberctl)
                if [ "${2:-}" = new ]; then
                        ok "$where: emberctl new ${3:-} is accepted (dry, into a temporary unit directory)" dry_new "$@"
                        return
                fi ;;
        autogen.sh | configure | quickstart | run)
                if [ "$1" = "./$prog" ] || [ "$1" = "${1#/}" ]; then
                        ok "$where: $1 is this tree's and executable" test -x "$1"
                        return
                fi ;;
        make)
                local t targets=()
                for t in "${@:2}"; do [[ "$t" != -* && "$t" != *=* ]] && targets+=("$t"); done
                ok "$where: make ${targets[*]:-all}: targets of this tree's Makefile" \
                        awk -v t="${targets[*]:-all}" 'BEGIN { n = split(t, w, " ") }
                                { for (i = 1; i <= n; i++) if (index($0, w[i] ":") == 1) seen[w[i]] = 1 }
                                END { for (i = 1; i <= n; i++) if (!(w[i] in seen)) { print "no target " w[i]; exit 1 } }' \
                        "$top_builddir/Makefile"
                return ;;
        esac
        if [[ "$FILTERS" == *" $prog "* ]]; then
                pass "$where: $prog, a text filter"
        elif [[ "$mark" == "run by "* ]]; then
                ok "$where: $prog ${*:2} is run by ${mark#run by }" run_by_has "${mark#run by }" "$prog" "${@:2}"
        else
                not_ok "$where: $* cannot be checked here: name the test that runs it (# run by tests/…)"
        fi
}

while IFS=$'\t' read -r -a rec; do
        check_command "${rec[@]}"
done <"$T/commands"

# ---- the prose: `emberctl …` spans name only options that exist ----------------------------------------------------
while IFS=$'\t' read -r -a rec; do
        is "${rec[0]}: \`${rec[*]:2}\` names only options that exist" "$(bad_options "${rec[@]:2}")" ""
done <"$T/inline"

# ---- the check itself -------------------------------------------------------------------------------------------
is "an option emberctl new does not have is caught" "$(bad_options emberctl new x --listen=1 --no-such-opt=3 -- /bin/true)" \
        "emberctl new: --no-such-opt"
is "so is a nested ember-sandbox's, past ember-launch's --" \
        "$(bad_options tcpserver 1 2 /x/ember-launch --app=a -- /x/ember-sandbox --app=a --frobnicate -- cmd --whatever)" \
        "ember-sandbox: --frobnicate"
run_by_has tests/system/cli.sh emberctl rm foo --no-such-opt >/dev/null 2>&1
is "a command with an option no line of its test gives is not taken as run by it" "$?" 1
finish
