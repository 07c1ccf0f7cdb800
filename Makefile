# smtpd: smtpd-session (one SMTP session per process) and spoolerd.
# Targets: all test lint deps run bench coverage clean. `make SAN=1` builds
# the AddressSanitizer + UBSan variant into build-asan/, `make COV=1` the
# gcov-instrumented one into build-cov/ (`make coverage` runs it).

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

CPPFLAGS_ALL = -D_GNU_SOURCE -Icommon -Ismtpd-session \
	$(shell pkg-config --cflags $(PKGS_SESSION) 2>/dev/null)
CFLAGS_ALL = -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-format-nonliteral -Wno-format-truncation $(FORTIFY) -fstack-protector-strong \
	-fPIE $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANFLAGS) $(LDFLAGS)
LIBS_SESSION = $(shell pkg-config --libs $(PKGS_SESSION) 2>/dev/null)
LIBS_TEST = $(shell pkg-config --libs $(PKGS_TEST) 2>/dev/null)

COMMON_OBJS = $(BUILD)/common/cfg.o $(BUILD)/common/entry.o \
	$(BUILD)/common/log.o $(BUILD)/common/util.o
SESSION_OBJS = $(BUILD)/smtpd-session/session.o \
	$(BUILD)/smtpd-session/addr.o $(BUILD)/smtpd-session/data.o \
	$(BUILD)/smtpd-session/reply.o $(BUILD)/smtpd-session/spool.o \
	$(BUILD)/smtpd-session/io.o $(BUILD)/smtpd-session/run.o \
	$(BUILD)/smtpd-session/tls.o $(BUILD)/smtpd-session/limits.o

UNIT_TESTS = addr data session cfg spool entry tls log cfg_faults \
	session_faults io
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

HEADERS = $(wildcard common/*.h smtpd-session/*.h)

.PHONY: all test unit lint deps need-deps run bench coverage clean
.DEFAULT_GOAL := all

BINS = $(SESSION)
# spoolerd's rules (it adds to BINS and UNIT_BINS)
-include spoolerd/spoolerd.mk
# install/uninstall (units/install.mk), fuzzing (tests/fuzz/fuzz.mk),
# the chaos load test (tests/load/load.mk)
-include units/install.mk
-include tests/fuzz/fuzz.mk
-include tests/load/load.mk

all: $(BINS)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

# tls.c includes GnuTLS's headers but the session does not link it: the
# library is dlopen'ed at the first handshake (see tls.c)
$(BUILD)/smtpd-session/tls.o: CPPFLAGS += $(shell pkg-config --cflags gnutls)

$(SESSION): $(BUILD)/smtpd-session/main.o $(SESSION_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_SESSION)

# unit tests link the module objects, never main.o; the spool test wraps
# the syscalls it makes fail, others list theirs in WRAP_<name>
$(BUILD)/tests/test_%: tests/unit/test_%.c $(SESSION_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(SESSION_OBJS) \
		$(COMMON_OBJS) $(LDFLAGS_ALL) $(LIBS_SESSION) $(LIBS_TEST) \
		$(if $(filter spool,$*),-Wl$(comma)--wrap=fsync -Wl$(comma)--wrap=write -Wl$(comma)--wrap=renameat2) \
		$(WRAP_$*)

# the calls each unit test wraps (-Wl,--wrap=) to see or fail them
WRAP_log = -Wl,--wrap=syslog,--wrap=__syslog_chk,--wrap=openlog \
	-Wl,--wrap=closelog,--wrap=dup3,--wrap=write
WRAP_cfg_faults = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	-Wl,--wrap=strdup,--wrap=gethostname,--wrap=__gethostname_chk \
	-Wl,--wrap=read
WRAP_session_faults = -Wl,--wrap=malloc,--wrap=realloc
WRAP_io = -Wl,--wrap=poll,--wrap=__poll_chk

comma = ,

unit: $(UNIT_BINS)

need-deps:
	@tests/need-deps.sh || $(MAKE) deps

deps:
	tests/install-deps.sh

# The whole suite: unit, conversations over a pipe, real clients over TCP,
# then the same again under ASan+UBSan. Ends with "N passed, M failed".
test: need-deps
	$(MAKE) all unit
	$(MAKE) SAN=1 all unit
	tests/run-all.sh

lint:
	@! grep -nE '\b(gets|strcpy|strcat|sprintf|vsprintf|strncpy|strtok|atoi|atol|sscanf|system|popen) *\(' \
		common/*.c smtpd-session/*.c $(wildcard spoolerd/*.c) \
		|| { echo "lint: banned function above"; exit 1; }
	@echo "lint: ok"

# (a sub-make after need-deps: pkg-config flags are read when make starts,
# and on a fresh machine pkg-config arrives with the deps)
run: need-deps
	$(MAKE) all
	tests/run-local.sh

# intake vs smtp-sink, spoolerd drain, STARTTLS vs Postfix, launchers
# (the last needs root and builds a container root once)
bench: need-deps
	$(MAKE) all
	bench/run.sh
	bench/db-drain.sh
	bench/tls.sh
	bench/launchers.sh

# line and branch coverage of the whole suite (unit tests and every suite
# but fuzz and systemd) on the build-cov/ build: a table per file, totals
# per directory, HTML in build-cov/coverage/ (tests/coverage.sh).
# COV_UNIT=1: the unit tests only (fast)
coverage: need-deps
	$(MAKE) COV=1 all unit
	tests/coverage.sh

clean:
	rm -rf build build-asan build-cov smtpd-session/smtpd-session \
		spoolerd/spoolerd
