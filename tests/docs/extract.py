#!/usr/bin/env python3
"""Print each command line of the ```sh blocks of the Markdown files named, for tests/docs/commands.sh.

One line per simple command (a pipeline, &&, || or ; splits them): FILE:LINE, the block's mark, then the command's
words, fields separated by tabs. The mark is what a comment line of the block says about the commands that cannot
run here: "run by PATH[, PATH...]" (the files that run them) or "untested: REASON"; "-" if it says neither. A line
ending in a backslash goes on on the next; comments, `sudo`, leading VAR=value assignments and redirections are
dropped. A word holding a tab or a newline is an error: the record could not carry it.

With --inline first: each `code span` of the prose that runs emberctl, ember-sandbox, ember-launch or ./configure,
as FILE:LINE, "inline" and its words ([optional] brackets dropped), for their options to be checked too."""
import re
import shlex
import sys

SEPARATORS = {'|', '||', '&&', ';', '&'}
REDIRECT = re.compile(r'^[0-9]*(>>?|<)(&[0-9-])?$')


def blocks(path):
    """(first line number, [(line number, text)...]) of each ```sh block"""
    inside, lines = False, []
    with open(path, encoding='utf-8') as f:
        for n, text in enumerate(f, 1):
            text = text.rstrip('\n')
            if not inside and re.match(r'^```(sh|bash|shell)\s*$', text):
                inside, lines = True, []
            elif inside and text.startswith('```'):
                inside = False
                yield lines
            elif inside:
                lines.append((n, text))
    if inside:
        sys.exit('%s: a ```sh block is not closed' % path)


def mark_of(lines):
    for _, text in lines:
        m = re.match(r'^\s*#.*\brun by ((?:[\w./-]+)(?:,\s*[\w./-]+)*)', text)
        if m:
            return 'run by ' + ' '.join(p.strip() for p in m.group(1).split(','))
        m = re.match(r'^\s*#\s*untested:\s*(.+)', text)
        if m:
            return 'untested: ' + m.group(1).strip()
    return '-'


def logical_lines(lines):
    """command lines, continuations joined, with the number of their first line"""
    start, acc = None, ''
    for n, text in lines:
        if start is None:
            if re.match(r'^\s*(#|$)', text):
                continue
            start = n
        if text.endswith('\\'):
            acc += text[:-1] + ' '
            continue
        yield start, acc + text
        start, acc = None, ''
    if start is not None:
        yield start, acc


def simple_commands(text):
    lex = shlex.shlex(text, posix=True, punctuation_chars='|&;<>')
    lex.whitespace_split = True
    lex.commenters = '#'
    words, skip_next = [], False
    for w in lex:
        if skip_next:
            skip_next = False
            continue
        if w in SEPARATORS:
            if words:
                yield words
            words = []
        elif REDIRECT.match(w):
            skip_next = not w.endswith(('&1', '&2', '&-'))
        else:
            words.append(w)
    if words:
        yield words


def strip_prefix(words):
    while words and (words[0] == 'sudo' or re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', words[0])):
        words = words[1:]
    return words


def inline_spans(path):
    """(line number, words) of each `code span` in prose that runs an ember program or ./configure"""
    inside = False
    with open(path, encoding='utf-8') as f:
        for n, text in enumerate(f, 1):
            if text.startswith('```'):
                inside = not inside
                continue
            if inside:
                continue
            for span in re.findall(r'`((?:emberctl|ember-sandbox|ember-launch|\./configure)(?: [^`]*)?)`', text):
                yield n, [w.strip('[]') for w in span.replace('|', ' ').split()]


if sys.argv[1:2] == ['--inline']:
    for path in sys.argv[2:]:
        for n, words in inline_spans(path):
            print('\t'.join(['%s:%d' % (path, n), 'inline'] + [w for w in words if w]))
    sys.exit(0)

for path in sys.argv[1:]:
    for lines in blocks(path):
        mark = mark_of(lines)
        for n, text in logical_lines(lines):
            for words in simple_commands(text):
                words = strip_prefix(words)
                if not words:
                    continue
                if any('\t' in w or '\n' in w for w in words):
                    sys.exit('%s:%d: a word holds a tab or a newline' % (path, n))
                print('\t'.join(['%s:%d' % (path, n), mark] + words))
