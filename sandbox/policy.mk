# The seccomp sandbox library (policy files, confinement before exec) and the shipped policies.
# ember-sandbox links sandbox/libconfine.a common/libember.a $(SECCOMP_LIBS).
noinst_LIBRARIES += sandbox/libconfine.a
sandbox_libconfine_a_SOURCES = \
	sandbox/policy.c sandbox/policy.h sandbox/policy-groups.c \
	sandbox/audit.c sandbox/audit.h \
	sandbox/confine.c sandbox/confine.h \
	sandbox/files.c sandbox/files.h
sandbox_libconfine_a_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)

policiesdir = $(pkgdatadir)/policies
dist_policies_DATA = \
	sandbox/policies/default.policy \
	sandbox/policies/strict.policy \
	sandbox/policies/container.policy \
	sandbox/policies/none.policy


# ember.policy(5) names the installed policy directory.
man_MANS = man/ember.policy.5
EXTRA_DIST += man/ember.policy.5.in
CLEANFILES += man/ember.policy.5
man/ember.policy.5: man/ember.policy.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && \
	sed -e 's|@PKGDATADIR@|$(pkgdatadir)|g' $(srcdir)/man/ember.policy.5.in >$@.tmp && mv $@.tmp $@
