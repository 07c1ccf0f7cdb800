# units/install.mk - `make install` and `make uninstall`; included by the
# top-level Makefile.
#
#   make install [DESTDIR=] [PREFIX=/usr/local] [SBINDIR=] [SYSCONFDIR=/etc]
#                [UNITDIR=] [SYSUSERSDIR=] [TMPFILESDIR=] [MANDIR=] [DATADIR=]
#
# installs exactly these files (the units have their paths rewritten to
# SBINDIR and SYSCONFDIR):
#
#   SBINDIR/smtpd-session  SBINDIR/spoolerd  SBINDIR/spoolq
#   SBINDIR/smtpd-dashboard
#   UNITDIR/smtpd.socket  UNITDIR/smtps.socket  UNITDIR/smtpd-session@.service
#   UNITDIR/smtpd@.service -> smtpd-session@.service   (alias, symlink)
#   UNITDIR/smtps@.service -> smtpd-session@.service   (alias, symlink)
#   UNITDIR/spoolerd.service  UNITDIR/smtpd-tcpserver.service
#   UNITDIR/smtpd.service  UNITDIR/smtpd-accept.socket
#   UNITDIR/smtps-accept.socket                     (the accept mode)
#   UNITDIR/smtpd-dashboard.service
#   SYSUSERSDIR/smtpd.conf  TMPFILESDIR/smtpd.conf
#   SYSCONFDIR/smtpd/smtpd.json        (only when absent: never overwritten;
#                                       0640, group smtpd-spool)
#   SYSCONFDIR/smtpd/tls/              (empty directory, mode 0700)
#   SYSCONFDIR/smtpd/secrets/          (empty directory, mode 0700, owner
#                                       spoolerd: redis_password_file ...)
#   DATADIR/smtpd/smtpd-session-strict.conf   (the strict profile drop-in)
#   DATADIR/smtpd/smtpd.json                  (the sample, always current)
#   DATADIR/smtpd/xinetd.d/smtpd  DATADIR/smtpd/tcpserver/run
#   DATADIR/smtpd/tcpserver/tcp.smtp
#   DATADIR/smtpd/certbot-deploy-hook         (README "Certificate rotation")
#   MANDIR/man8/smtpd-session.8  MANDIR/man8/spoolerd.8  MANDIR/man8/spoolq.8  MANDIR/man5/smtpd.json.5
#   MANDIR/man8/smtpd-dashboard.8
#
# With an empty DESTDIR on a systemd machine it also creates the users and
# the spool (systemd-sysusers, systemd-tmpfiles) and reloads systemd; it
# enables nothing.
#
# `make uninstall` removes the same files, but keeps SYSCONFDIR/smtpd
# (the config, the TLS files) and the spool.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
TMPFILESDIR ?= $(or $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null),/usr/lib/tmpfiles.d)
INSTALL ?= install

INST_UNITS = smtpd.socket smtps.socket smtpd-session@.service \
	spoolerd.service smtpd-tcpserver.service smtpd.service \
	smtpd-accept.socket smtps-accept.socket smtpd-dashboard.service
INST_ALIASES = smtpd@.service smtps@.service
INST_MAN8 = smtpd-session/smtpd-session.8 spoolerd/spoolerd.8 spoolq/spoolq.8 \
	dashboard/smtpd-dashboard.8
INST_MAN5 = conf/smtpd.json.5
# the units name /usr/sbin, /usr/share/smtpd and /etc/smtpd
INST_SED = sed -e 's|/usr/sbin/|$(SBINDIR)/|g' \
	-e 's|/usr/share/smtpd/|$(DATADIR)/smtpd/|g' \
	-e 's|/etc/smtpd|$(SYSCONFDIR)/smtpd|g'

.PHONY: install uninstall

# spoolerd/spoolerd.mk, included before `all:`, would otherwise make its
# binary the default goal
.DEFAULT_GOAL := all

install: $(SESSION) $(SPOOLERD) $(SPOOLQ) $(DASHBOARD)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DATADIR)/smtpd/xinetd.d \
		$(DESTDIR)$(DATADIR)/smtpd/tcpserver \
		$(DESTDIR)$(SYSCONFDIR)/smtpd
	$(INSTALL) -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/smtpd/tls
	$(INSTALL) -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/smtpd/secrets
	$(INSTALL) -m 0755 $(SESSION) $(DESTDIR)$(SBINDIR)/smtpd-session
	$(INSTALL) -m 0755 $(SPOOLERD) $(DESTDIR)$(SBINDIR)/spoolerd
	$(INSTALL) -m 0755 $(SPOOLQ) $(DESTDIR)$(SBINDIR)/spoolq
	$(INSTALL) -m 0755 $(DASHBOARD) $(DESTDIR)$(SBINDIR)/smtpd-dashboard
	for u in $(INST_UNITS); do \
		$(INST_SED) units/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	for a in $(INST_ALIASES); do \
		ln -sfn smtpd-session@.service $(DESTDIR)$(UNITDIR)/$$a || exit 1; \
	done
	$(INSTALL) -m 0644 units/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/smtpd.conf
	$(INST_SED) units/tmpfiles.conf > $(DESTDIR)$(TMPFILESDIR)/smtpd.conf
	chmod 0644 $(DESTDIR)$(TMPFILESDIR)/smtpd.conf
	$(INST_SED) units/smtpd-session-strict.conf \
		> $(DESTDIR)$(DATADIR)/smtpd/smtpd-session-strict.conf
	chmod 0644 $(DESTDIR)$(DATADIR)/smtpd/smtpd-session-strict.conf
	$(INSTALL) -m 0644 conf/smtpd.json $(DESTDIR)$(DATADIR)/smtpd/smtpd.json
	$(INST_SED) conf/xinetd.d/smtpd > $(DESTDIR)$(DATADIR)/smtpd/xinetd.d/smtpd
	chmod 0644 $(DESTDIR)$(DATADIR)/smtpd/xinetd.d/smtpd
	$(INST_SED) conf/tcpserver/run > $(DESTDIR)$(DATADIR)/smtpd/tcpserver/run
	chmod 0755 $(DESTDIR)$(DATADIR)/smtpd/tcpserver/run
	$(INSTALL) -m 0644 conf/tcpserver/tcp.smtp \
		$(DESTDIR)$(DATADIR)/smtpd/tcpserver/tcp.smtp
	$(INSTALL) -m 0755 conf/certbot-deploy-hook \
		$(DESTDIR)$(DATADIR)/smtpd/certbot-deploy-hook
	@# a missing page is reported, not fatal (tests/launchers checks
	@# the complete list)
	for m in $(INST_MAN8) $(INST_MAN5); do \
		if [ -f $$m ]; then \
			$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; \
		else \
			echo "install: WARNING: $$m is missing" >&2; \
		fi; \
	done
	@# a config installed once is never overwritten
	if [ -e $(DESTDIR)$(SYSCONFDIR)/smtpd/smtpd.json ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/smtpd/smtpd.json" \
			"(the current sample is $(DATADIR)/smtpd/smtpd.json)"; \
	else \
		$(INSTALL) -m 0640 conf/smtpd.json \
			$(DESTDIR)$(SYSCONFDIR)/smtpd/smtpd.json; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		echo systemd-sysusers $(SYSUSERSDIR)/smtpd.conf; \
		systemd-sysusers $(SYSUSERSDIR)/smtpd.conf; \
		echo chown spoolerd $(SYSCONFDIR)/smtpd/secrets; \
		chown spoolerd $(SYSCONFDIR)/smtpd/secrets; \
		echo chgrp smtpd-spool $(SYSCONFDIR)/smtpd/smtpd.json; \
		chgrp smtpd-spool $(SYSCONFDIR)/smtpd/smtpd.json; \
		echo systemd-tmpfiles --create $(TMPFILESDIR)/smtpd.conf; \
		systemd-tmpfiles --create $(TMPFILESDIR)/smtpd.conf; \
		systemctl daemon-reload; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtpd-session $(DESTDIR)$(SBINDIR)/spoolerd \
		$(DESTDIR)$(SBINDIR)/spoolq $(DESTDIR)$(SBINDIR)/smtpd-dashboard
	for u in $(INST_UNITS) $(INST_ALIASES); do \
		rm -f $(DESTDIR)$(UNITDIR)/$$u; \
	done
	rm -f $(DESTDIR)$(SYSUSERSDIR)/smtpd.conf $(DESTDIR)$(TMPFILESDIR)/smtpd.conf
	rm -f $(DESTDIR)$(DATADIR)/smtpd/smtpd-session-strict.conf \
		$(DESTDIR)$(DATADIR)/smtpd/smtpd.json \
		$(DESTDIR)$(DATADIR)/smtpd/xinetd.d/smtpd \
		$(DESTDIR)$(DATADIR)/smtpd/tcpserver/run \
		$(DESTDIR)$(DATADIR)/smtpd/tcpserver/tcp.smtp \
		$(DESTDIR)$(DATADIR)/smtpd/certbot-deploy-hook
	-rmdir $(DESTDIR)$(DATADIR)/smtpd/xinetd.d \
		$(DESTDIR)$(DATADIR)/smtpd/tcpserver $(DESTDIR)$(DATADIR)/smtpd
	rm -f $(DESTDIR)$(MANDIR)/man8/smtpd-session.8 \
		$(DESTDIR)$(MANDIR)/man8/spoolerd.8 $(DESTDIR)$(MANDIR)/man8/spoolq.8 \
		$(DESTDIR)$(MANDIR)/man8/smtpd-dashboard.8 \
		$(DESTDIR)$(MANDIR)/man5/smtpd.json.5
	@echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/smtpd and the spool"
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload; \
	fi
