# The unit templates `emberctl new` fills in (@PLACEHOLDERS@ replaced, "NAME" in the file name becomes the app).
# No tmpfiles.d snippet: NAME-backend.socket creates /run/ember/NAME (its ExecStartPre=) before anything needs it.
templatesdir = $(pkgdatadir)/templates
dist_templates_DATA = \
	templates/NAME.socket \
	templates/NAME@.service \
	templates/NAME-backend.socket \
	templates/NAME-backend.service \
	templates/hardening-strict.conf \
	templates/hardening-lean.conf \
	templates/backend-lean.conf \
	templates/backend-strict.conf \
	templates/backend-container.conf
