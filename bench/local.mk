# `make bench`: ember against systemd's own per-connection floor (an Accept=yes /bin/cat instance) and
# against systemd-socket-proxyd, in a real systemd booted in a throwaway container (tests/system/lib.sh), every
# comparison interleaved sample by sample in the same run. Never part of `make check`; needs root and
# systemd-nspawn like the system tests. Tunables (environment): see bench/README.md.
# The measuring client and the backend are built only here (EXTRA_PROGRAMS: not by `make` or `make check`).
EXTRA_PROGRAMS = bench/bench-client bench/bench-backend
bench_bench_client_SOURCES = bench/bench-client.c
bench_bench_client_LDADD = -lm
bench_bench_backend_SOURCES = bench/bench-backend.c
bench_bench_backend_LDADD = common/libember.a
EXTRA_DIST += bench/bench.sh bench/lib.sh bench/compare bench/realclients.sh bench/README.md
CLEANFILES += $(EXTRA_PROGRAMS) bench/results.txt bench/samples.txt bench/realclients.log bench/hold.pid bench/compare.txt bench/compare-samples.txt

bench: bench/bench-client$(EXEEXT) bench/bench-backend$(EXEEXT) tests/system/stage.stamp
	@top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	  EMBER_STAGE='$(abs_top_builddir)/tests/system/stage' EMBER_KERNEL_RELAY='$(KERNEL_RELAY)' \
	  bash '$(abs_top_srcdir)/bench/bench.sh'
.PHONY: bench

# `make bench-compare REF=main`: the work tree against REF, connect and cold phases interleaved (bench/compare)
bench-compare: bench/bench-client$(EXEEXT) bench/bench-backend$(EXEEXT) tests/system/stage.stamp
	@test -n '$(REF)' || { echo 'make bench-compare REF=<git ref>' >&2; exit 2; }
	@top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	  EMBER_STAGE='$(abs_top_builddir)/tests/system/stage' \
	  bash '$(abs_top_srcdir)/bench/compare' '$(REF)'
.PHONY: bench-compare
