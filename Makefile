# smtpd: smtpd-session (one SMTP session per process) and spoolerd.
# Targets: all test lint deps deps-run run bench bench-drain bench-more coverage clean.
# `make SAN=1` builds the AddressSanitizer + UBSan variant into build-asan/,
# `make COV=1` the gcov-instrumented one into build-cov/ (`make coverage`
# runs it).

CC ?= cc
PKGS_SESSION = libcjson
PKGS_TEST = cmocka

ifeq ($(SAN),1)
BUILD = build-asan
SESSION = $(BUILD)/bin/smtpd-session
SPOOLERD = $(BUILD)/bin/spoolerd
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
OPT = -O1
FORTIFY = -D_FORTIFY_SOURCE=2
else ifeq ($(COV),1)
# -O0 so that lines and branches map to the source one to one; glibc
# warns (an error under -Werror) about _FORTIFY_SOURCE without -O
BUILD = build-cov
SESSION = $(BUILD)/bin/smtpd-session
SPOOLERD = $(BUILD)/bin/spoolerd
SANFLAGS = --coverage
OPT = -O0
FORTIFY =
else
BUILD = build
SESSION = smtpd-session/smtpd-session
SPOOLERD = spoolerd/spoolerd
SANFLAGS =
OPT = -O2
FORTIFY = -D_FORTIFY_SOURCE=2
endif

# each program sees only its own headers and common/'s (INC, per
# directory below), so none of ours can stand in for a system header
CPPFLAGS_ALL = -D_GNU_SOURCE \
	$(shell pkg-config --cflags $(PKGS_SESSION) 2>/dev/null)
INC_COMMON = -Icommon
INC_SESSION = -Icommon -Ismtpd-session
CFLAGS_ALL = -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-format-nonliteral -Wno-format-truncation $(FORTIFY) -fstack-protector-strong \
	-fPIE $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANFLAGS) $(LDFLAGS)
LIBS_SESSION = $(shell pkg-config --libs $(PKGS_SESSION) 2>/dev/null)
LIBS_TEST = $(shell pkg-config --libs $(PKGS_TEST) 2>/dev/null)

COMMON_OBJS = $(BUILD)/common/buf.o $(BUILD)/common/cfg.o \
	$(BUILD)/common/entry.o $(BUILD)/common/log.o $(BUILD)/common/util.o \
	$(BUILD)/common/publish.o $(BUILD)/common/cidr.o \
	$(BUILD)/common/statsmsg.o $(BUILD)/common/lookupproto.o
SESSION_OBJS = $(BUILD)/smtpd-session/session.o \
	$(BUILD)/smtpd-session/addr.o $(BUILD)/smtpd-session/data.o \
	$(BUILD)/smtpd-session/reply.o $(BUILD)/smtpd-session/spool.o \
	$(BUILD)/smtpd-session/io.o $(BUILD)/smtpd-session/run.o \
	$(BUILD)/smtpd-session/tls.o $(BUILD)/smtpd-session/slots.o \
	$(BUILD)/smtpd-session/sandbox.o $(BUILD)/smtpd-session/frame.o \
	$(BUILD)/smtpd-session/serve.o $(BUILD)/smtpd-session/accept.o \
	$(BUILD)/smtpd-session/listen.o $(BUILD)/smtpd-session/proxy.o \
	$(BUILD)/smtpd-session/xclient.o $(BUILD)/smtpd-session/utf8.o \
	$(BUILD)/smtpd-session/helo.o $(BUILD)/smtpd-session/bdat.o \
	$(BUILD)/smtpd-session/stats.o $(BUILD)/smtpd-session/rcptcheck.o

UNIT_TESTS = addr data session cfg spool entry tls util frame publish log lookupproto \
	cfg_faults session_faults io abuse secrets proxy utf8 bdat
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

HEADERS = $(wildcard common/*.h smtpd-session/*.h)

.PHONY: all test unit lint deps deps-run need-deps need-deps-run run bench \
	bench-drain bench-more coverage clean help check
.DEFAULT_GOAL := all

BINS = $(SESSION)
# spoolerd's rules (it adds to BINS and UNIT_BINS)
-include spoolerd/spoolerd.mk
-include spoolq/spoolq.mk
# smtpd-dashboard's (the same)
-include dashboard/dashboard.mk
# install/uninstall (units/install.mk), fuzzing (tests/fuzz/fuzz.mk),
# the chaos load test (tests/load/load.mk)
-include units/install.mk
-include tests/fuzz/fuzz.mk
-include tests/load/load.mk

all: $(BINS)

$(BUILD)/common/%.o: INC = $(INC_COMMON)
$(BUILD)/smtpd-session/%.o: INC = $(INC_SESSION)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(INC) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

# tls.c includes GnuTLS's headers but the session does not link it: the
# library is dlopen'ed at the first handshake (see tls.c)
$(BUILD)/smtpd-session/tls.o: CPPFLAGS += $(shell pkg-config --cflags gnutls)

$(SESSION): $(BUILD)/smtpd-session/main.o $(SESSION_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_SESSION)

# unit tests link the module objects, never main.o; each lists the calls
# it wraps (-Wl,--wrap=) to see or fail them in WRAP_<name>
WRAP_spool = fsync write renameat2 linkat openat
WRAP_publish = fsync write renameat2 close linkat unlinkat openat
WRAP_log = syslog __syslog_chk openlog closelog dup3 write
WRAP_cfg_faults = malloc calloc realloc strdup gethostname \
	__gethostname_chk read
WRAP_session_faults = malloc realloc
WRAP_io = poll __poll_chk
$(BUILD)/tests/test_%: tests/unit/test_%.c $(SESSION_OBJS) $(COMMON_OBJS) \
		$(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(INC_SESSION) $(CFLAGS_ALL) -o $@ $< \
		$(SESSION_OBJS) $(COMMON_OBJS) $(LDFLAGS_ALL) $(LIBS_SESSION) \
		$(LIBS_TEST) $(WRAP_$*:%=-Wl$(comma)--wrap=%)

comma = ,

# tests/trust: a compromised session's attempts, under the session's
# own sandbox
TRUST_ATTACK = $(BUILD)/tests/trust-attack
$(TRUST_ATTACK): tests/trust/attack.c $(BUILD)/smtpd-session/sandbox.o
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Ismtpd-session $(CFLAGS_ALL) -o $@ $^ \
		$(LDFLAGS_ALL)

unit: $(UNIT_BINS) $(TRUST_ATTACK)

# need-deps-run: what `make run` needs (build and run the server);
# need-deps: that and what the tests, lint and benchmarks need. Each
# installs what is missing (tests/deps.list), then checks again.
need-deps-run:
	@tests/need-deps.sh run || \
		{ $(MAKE) deps-run && tests/need-deps.sh run; }

need-deps:
	@tests/need-deps.sh test || \
		{ $(MAKE) deps && tests/need-deps.sh test; }

deps-run:
	tests/install-deps.sh run

deps:
	tests/install-deps.sh test

# The whole suite: unit, conversations over a pipe, real clients over TCP,
# then the same again under ASan+UBSan. Ends with "N passed, M failed,
# K skipped".
test: need-deps
	$(MAKE) all unit
	$(MAKE) SAN=1 all unit
	tests/run-all.sh

# check: the quick part of `make test` (unit tests and the black-box
# conversations, plain build only)
check: need-deps
	$(MAKE) all unit
	SKIP_ASAN=1 SUITES="unit blackbox" tests/run-all.sh

help:
	@echo 'make run [PORT=2525] [ACCEPT=1]  the server on 127.0.0.1, mail into ./var/mail'
	@echo 'make test            every suite, plain and ASan+UBSan (installs test deps)'
	@echo 'make check           unit tests and black-box conversations only (quick)'
	@echo 'make lint            banned functions, cppcheck, shellcheck'
	@echo 'make bench [QUICK=1] issue 12 targets vs smtp-sink and Postfix, one table'
	@echo 'make bench-drain     drain rate of each processor vs intake [DRAIN_N=3000]'
	@echo 'make bench-more      the older single benchmarks (bench/*.sh)'
	@echo 'make loadtest        5000-client chaos load (CLIENTS= DURATION= LAUNCHER=accept)'
	@echo 'make coverage        line and branch coverage of the suites'
	@echo 'make fuzz-ci         each libFuzzer harness for 30 s'
	@echo 'make install         programs, units, config, man pages (DESTDIR=)'
	@echo 'make deps / deps-run install what tests / running need (apt-get)'
	@echo 'make all | unit | clean   build programs | unit tests | remove builds'

# banned C functions and raw strtol/strtoul, cppcheck, shellcheck (see
# tests/lint.sh)
lint:
	@tests/lint.sh

# (a sub-make after need-deps: pkg-config flags are read when make starts,
# and on a fresh machine pkg-config arrives with the deps)
# ACCEPT=1: the accept mode (smtpd-session --listen) instead of
# systemd-socket-activate
run: need-deps-run
	$(MAKE) all
	ACCEPT=$(ACCEPT) PORT=$(PORT) tests/run-local.sh

# every target of issue 12 in one run, against smtp-sink and a private
# durable Postfix, ending with one table (bench/targets.sh; about 18 min,
# QUICK=1 5-8). bench-more: the older single benchmarks (intake vs
# smtp-sink, spoolerd and database drain, STARTTLS vs Postfix, launchers,
# the cost of each directive of smtpd-session@.service, the accept mode vs
# tcpserver, where a spooled message's time goes)
bench: need-deps
	$(MAKE) all
	QUICK=$(QUICK) bench/targets.sh

# bench-drain: each processor's drain rate into its real server, 1 and 4
# workers, beside the accept mode's intake (bench/drain.py; also the end
# of make bench). DRAIN_N=entries per run (3000)
bench-drain: need-deps
	$(MAKE) all
	DRAIN_N=$(DRAIN_N) bench/drain.py

bench-more: need-deps
	$(MAKE) all
	bench/run.sh
	bench/tls.sh
	bench/launchers.sh
	bench/profile.sh
	bench/accept.sh
	bench/spool.sh

# line and branch coverage of the whole suite (unit tests and every suite
# but fuzz and systemd) on the build-cov/ build: a table per file, totals
# per directory, HTML in build-cov/coverage/ (tests/coverage.sh).
# COV_UNIT=1: the unit tests only (fast)
coverage: need-deps
	$(MAKE) COV=1 all unit
	tests/coverage.sh

clean:
	rm -rf build build-asan build-cov smtpd-session/smtpd-session \
		spoolerd/spoolerd spoolq/spoolq dashboard/smtpd-dashboard
