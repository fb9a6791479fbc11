# The confinement library: policy files compiled to seccomp, Landlock's file rules, the drop to the backend's user,
# all applied in the forked child before exec; and the shipped policies. It knows nothing of the supervisor:
# ember-sandbox (sandbox/) links confine/libconfine.a common/libember.a $(SECCOMP_LIBS), and finds its headers
# through CONFINE_CPPFLAGS.
noinst_LIBRARIES += confine/libconfine.a
confine_libconfine_a_SOURCES = \
	confine/policy.c confine/policy.h confine/policy-groups.c confine/policy-groups.h \
	confine/audit.c confine/audit.h \
	confine/confine.c confine/confine.h \
	confine/files.c confine/files.h
confine_libconfine_a_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
CONFINE_CPPFLAGS = -I$(top_srcdir)/confine

policiesdir = $(pkgdatadir)/policies
dist_policies_DATA = \
	confine/policies/default.policy \
	confine/policies/strict.policy \
	confine/policies/container.policy \
	confine/policies/none.policy


# ember.policy(5) names the installed policy directory.
man_MANS = man/ember.policy.5
EXTRA_DIST += man/ember.policy.5.in
CLEANFILES += man/ember.policy.5
man/ember.policy.5: man/ember.policy.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && \
	sed -e 's|@PKGDATADIR@|$(pkgdatadir)|g' $(srcdir)/man/ember.policy.5.in >$@.tmp && mv $@.tmp $@
