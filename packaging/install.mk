# make install / uninstall / dist / check-packaging (included by the
# top-level Makefile; the directory variables are set there).
#
# `make install` puts corral in BINDIR, corral-sandbox in LIBEXECDIR/corral/
# (where corral looks first; see SANDBOX_PATH) with a relative link to it in
# BINDIR, the man pages, the systemd units, the sysusers.d and tmpfiles.d
# snippets and the bash completion.  `make uninstall` removes exactly the
# files in INSTALLED.

# Man pages are mdoc(7) source, installed as they are.
MAN_PAGES  := $(sort $(wildcard packaging/man/*.[1-8]))
UNIT_OUT   := $(BUILD)/packaging
# Units name the installed binary; everything else is copied as it is.
UNITS      := corral.service corral.socket
USER_UNITS := corral.service corral.socket
SED_PATHS  := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

INSTALLED  := $(BINDIR)/corral $(BINDIR)/corral-sandbox $(SANDBOX_PATH) \
              $(foreach p,$(notdir $(MAN_PAGES)),$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(p)) \
              $(UNITS:%=$(UNITDIR)/%) $(USER_UNITS:%=$(USERUNITDIR)/%) \
              $(SYSUSERSDIR)/corral.conf $(TMPFILESDIR)/corral.conf $(BASHCOMPDIR)/corral

$(UNIT_OUT)/system/%: packaging/systemd/system/%.in FORCE
	@mkdir -p $(dir $@)
	@$(SED_PATHS) $< >$@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }

$(UNIT_OUT)/user/%: packaging/systemd/user/%.in FORCE
	@mkdir -p $(dir $@)
	@$(SED_PATHS) $< >$@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }

units: $(UNITS:%=$(UNIT_OUT)/system/%) $(USER_UNITS:%=$(UNIT_OUT)/user/%)

install: $(BINS) units
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(dir $(SANDBOX_PATH)) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0755 $(BUILD)/corral $(DESTDIR)$(BINDIR)/corral
	$(INSTALL) -m 0755 $(BUILD)/corral-sandbox $(DESTDIR)$(SANDBOX_PATH)
	ln -sf $$(realpath -m --relative-to=$(BINDIR) $(SANDBOX_PATH)) \
		$(DESTDIR)$(BINDIR)/corral-sandbox
	$(INSTALL) -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(UNITS:%=$(UNIT_OUT)/system/%) $(DESTDIR)$(UNITDIR)/
	$(INSTALL) -m 0644 $(USER_UNITS:%=$(UNIT_OUT)/user/%) $(DESTDIR)$(USERUNITDIR)/
	$(INSTALL) -m 0644 packaging/systemd/corral.sysusers $(DESTDIR)$(SYSUSERSDIR)/corral.conf
	$(INSTALL) -m 0644 packaging/systemd/corral.tmpfiles $(DESTDIR)$(TMPFILESDIR)/corral.conf
	$(INSTALL) -m 0644 packaging/completions/corral.bash $(DESTDIR)$(BASHCOMPDIR)/corral

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(dir $(SANDBOX_PATH)) 2>/dev/null

# Prints what `make install` installs, one path a line (for tests).
print-installed:
	@printf '%s\n' $(INSTALLED)

print-version:
	@echo $(VERSION)

# A reproducible source tarball: the tracked files (no VCS data), sorted,
# owned by 0:0, every mtime SOURCE_DATE_EPOCH (default: the last commit's
# time), modes normalised, gzip without a name or time stamp.
DIST_NAME  := corral-$(VERSION)
DIST_EPOCH  = $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),0)
dist:
	@mkdir -p $(BUILD)
	@if [ -d .git ] || [ -f .git ]; then git ls-files -z; \
	 else find . -path ./$(BUILD) -prune -o -type f -print0 | sed -z 's|^\./||'; fi \
	 | LC_ALL=C sort -z >$(BUILD)/dist.list
	LC_ALL=C tar --null -T $(BUILD)/dist.list --sort=name --owner=0 --group=0 \
		--numeric-owner --mode='u+rwX,go+rX,go-w' --mtime=@$(DIST_EPOCH) \
		--transform='s|^|$(DIST_NAME)/|' --format=gnu -cf - | gzip -9n >$(BUILD)/$(DIST_NAME).tar.gz
	@rm -f $(BUILD)/dist.list
	@echo "$(BUILD)/$(DIST_NAME).tar.gz"

# Builds and checks the packages (once; never under ASan): see
# scripts/check-packaging.
check-packaging:
	@scripts/check-packaging

.PHONY: units print-installed print-version
