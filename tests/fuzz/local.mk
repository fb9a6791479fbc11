# `make fuzz`: libFuzzer targets for every parser, built with clang (never part of `make check`).
# FUZZ_RUNS executions per target, starting from the seed corpora in tests/fuzz/corpus/.
FUZZ_CC = clang
FUZZ_RUNS = 1000000
FUZZ_TARGETS = parse state policy proxy
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
	-I$(top_srcdir)/common -I$(top_srcdir)/confine \
	-DRUNTIME_DIR_DEFAULT=\"/run/ember\" -DPKGDATADIR=\"$(pkgdatadir)\" -DLIBEXECDIR=\"$(pkglibexecdir)\"
FUZZ_COMMON = $(top_srcdir)/common/parse.c $(top_srcdir)/common/state.c $(top_srcdir)/common/log.c \
	$(top_srcdir)/common/timeutil.c $(top_srcdir)/common/events.c
FUZZ_SOURCES_parse = $(top_srcdir)/tests/fuzz/fuzz-parse.c
FUZZ_SOURCES_state = $(top_srcdir)/tests/fuzz/fuzz-state.c
FUZZ_SOURCES_policy = $(top_srcdir)/tests/fuzz/fuzz-policy.c $(top_srcdir)/confine/policy.c $(top_srcdir)/confine/policy-groups.c \
	$(SECCOMP_LIBS)
FUZZ_SOURCES_proxy = $(top_srcdir)/tests/fuzz/fuzz-proxy.c $(top_srcdir)/common/proxy.c

EXTRA_DIST += tests/fuzz/fuzz-parse.c tests/fuzz/fuzz-state.c tests/fuzz/fuzz-policy.c tests/fuzz/fuzz-proxy.c \
	tests/fuzz/corpus

fuzz:
	@set -e; mkdir -p tests/fuzz/bin; \
	for t in $(FUZZ_TARGETS); do \
	  case $$t in parse) src="$(FUZZ_SOURCES_parse)";; state) src="$(FUZZ_SOURCES_state)";; policy) src="$(FUZZ_SOURCES_policy)";; \
	    proxy) src="$(FUZZ_SOURCES_proxy)";; esac; \
	  $(FUZZ_CC) $(FUZZ_FLAGS) -o tests/fuzz/bin/fuzz-$$t $$src $(FUZZ_COMMON); \
	  rm -rf tests/fuzz/bin/corpus-$$t; mkdir -p tests/fuzz/bin/corpus-$$t; \
	  echo "fuzz-$$t: $(FUZZ_RUNS) runs"; \
	  tests/fuzz/bin/fuzz-$$t -runs=$(FUZZ_RUNS) -max_len=4096 -print_final_stats=1 \
	    tests/fuzz/bin/corpus-$$t $(top_srcdir)/tests/fuzz/corpus/$$t > tests/fuzz/bin/fuzz-$$t.log 2>&1 \
	    || { tail -40 tests/fuzz/bin/fuzz-$$t.log; exit 1; }; \
	  grep -E '^Done|number_of_executed_units' tests/fuzz/bin/fuzz-$$t.log; \
	done
.PHONY: fuzz
CLEANFILES += -r tests/fuzz/bin
