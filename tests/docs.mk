# Docs layer: every command shown in README.md and doc/*.md is checked against the programs (their --help, a dry
# emberctl new) or against the test that runs it (tests/docs/commands.sh says how). Needs the programs built.
docs_tests = tests/docs/commands.sh
TESTS += $(docs_tests)
EXTRA_DIST += $(docs_tests) tests/docs/extract.py
