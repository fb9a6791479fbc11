include sandbox/policy.mk

pkglibexec_PROGRAMS += sandbox/ember-sandbox
sandbox_ember_sandbox_SOURCES = sandbox/ember-sandbox.c
sandbox_ember_sandbox_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
sandbox_ember_sandbox_LDADD = sandbox/libconfine.a common/libember.a $(SECCOMP_LIBS)
