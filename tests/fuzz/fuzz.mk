# tests/fuzz/fuzz.mk - libFuzzer harnesses and the AFL++ run; included by
# the top-level Makefile. Everything is built with clang into build-fuzz/
# (AFL++: build-afl/), apart from the normal and ASan builds.
#
#   make fuzz-build    the harnesses, build-fuzz/fuzz_<name>
#   make fuzz          each harness for FUZZ_SECONDS (default 60) in turn;
#                      new inputs go to build-fuzz/corpus/<name>/, crashes
#                      to build-fuzz/crashes/<name>/; fails on a crash
#   make fuzz-ci       the same, 30 s each
#   make fuzz-replay   run every seed and regression input once
#   make fuzz-afl      AFL++ on the real smtpd-session over stdin for
#                      AFL_SECONDS (default 600); for an ASan build:
#                      make fuzz-clean; AFL_USE_ASAN=1 make fuzz-afl
#   make fuzz-clean

_fuzz_default_goal := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
AFL_SECONDS ?= 600
FUZZ_BUILD = build-fuzz
FUZZ_HARNESSES = session addr data cfg entry hdrparse tls proxy bdat \
	lookupproto

FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -std=c11 -Wall -Wextra -fno-omit-frame-pointer \
	-D_GNU_SOURCE $(shell pkg-config --cflags libcjson gnutls 2>/dev/null)
FUZZ_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null)

# sources of each harness (besides tests/fuzz/fuzz_<name>.c)
FUZZ_COMMON = common/buf.c common/cfg.c common/entry.c common/log.c \
	common/cidr.c common/lookupproto.c \
	common/util.c common/publish.c
FUZZ_SRC_data = smtpd-session/data.c
FUZZ_SRC_addr = smtpd-session/addr.c smtpd-session/utf8.c common/buf.c \
	common/entry.c common/util.c
FUZZ_SRC_entry = common/buf.c common/entry.c common/util.c
FUZZ_SRC_cfg = common/cfg.c common/util.c common/cidr.c common/lookupproto.c
FUZZ_SRC_proxy = smtpd-session/proxy.c smtpd-session/io.c common/util.c
FUZZ_SRC_session = smtpd-session/session.c smtpd-session/addr.c \
	smtpd-session/xclient.c \
	smtpd-session/bdat.c \
	smtpd-session/data.c smtpd-session/reply.c smtpd-session/frame.c \
	smtpd-session/utf8.c smtpd-session/helo.c smtpd-session/stats.c \
	common/statsmsg.c $(FUZZ_COMMON)
# bdat.c's session half needs session.c: the same objects
FUZZ_SRC_bdat = $(FUZZ_SRC_session)
FUZZ_SRC_hdrparse = spoolerd/proc_headersparser.c spoolerd/msg.c common/util.c
FUZZ_LIBS_hdrparse = -lz
FUZZ_SRC_lookupproto = common/lookupproto.c common/util.c
FUZZ_SRC_tls = smtpd-session/tls.c smtpd-session/session.c \
	smtpd-session/bdat.c \
	smtpd-session/addr.c smtpd-session/data.c smtpd-session/reply.c \
	smtpd-session/io.c smtpd-session/run.c smtpd-session/spool.c \
	smtpd-session/slots.c smtpd-session/frame.c smtpd-session/xclient.c \
	smtpd-session/proxy.c smtpd-session/utf8.c smtpd-session/helo.c \
	smtpd-session/stats.c common/statsmsg.c $(FUZZ_COMMON)
FUZZ_LIBS_tls = $(shell pkg-config --libs gnutls 2>/dev/null) -ldl

FUZZ_BINS = $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-ci fuzz-replay fuzz-afl fuzz-clean

fuzz-build: $(FUZZ_BINS)

# objects: instrumented for coverage, linked by the harnesses; each sees
# only its own program's headers and common/'s, as in the normal build
$(FUZZ_BUILD)/obj/common/%.o: FUZZ_INC = -Icommon
$(FUZZ_BUILD)/obj/smtpd-session/%.o: FUZZ_INC = -Icommon -Ismtpd-session
$(FUZZ_BUILD)/obj/spoolerd/%.o: FUZZ_INC = -Icommon -Ispoolerd
$(FUZZ_BUILD)/obj/tests/fuzz/%.o: FUZZ_INC = -Icommon -Ismtpd-session \
	-Ispoolerd -Itests/fuzz
$(FUZZ_BUILD)/obj/%.o: %.c $(HEADERS) $(wildcard spoolerd/*.h) \
		tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -fsanitize=fuzzer-no-link \
		$(FUZZ_SAN) -c -o $@ $<

define FUZZ_LINK
$(FUZZ_BUILD)/fuzz_$(1): $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$(1).o \
		$(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(sort $(FUZZ_SRC_$(1))))
	$$(FUZZ_CC) -fsanitize=fuzzer $$(FUZZ_SAN) -o $$@ $$^ $$(FUZZ_LIBS) \
		$$(FUZZ_LIBS_$(1))
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_LINK,$(h))))

fuzz: fuzz-build
	tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-ci: fuzz-build
	tests/fuzz/run.sh fuzz 30 $(FUZZ_HARNESSES)

fuzz-replay: fuzz-build
	tests/fuzz/run.sh replay 0 $(FUZZ_HARNESSES)

# AFL++: the real binary, instrumented, reading SMTP from stdin
AFL_CC ?= afl-clang-fast
AFL_BUILD = build-afl
AFL_SRC = smtpd-session/main.c $(filter-out smtpd-session/tls.c,\
	$(FUZZ_SRC_tls)) smtpd-session/tls.c

$(AFL_BUILD)/smtpd-session: $(AFL_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(AFL_CC) -g -O1 -std=c11 -D_GNU_SOURCE -Icommon -Ismtpd-session \
		$(shell pkg-config --cflags libcjson gnutls 2>/dev/null) \
		-o $@ $(AFL_SRC) $(FUZZ_LIBS) -ldl

fuzz-afl: $(AFL_BUILD)/smtpd-session
	tests/fuzz/afl.sh $(AFL_SECONDS)

fuzz-clean:
	rm -rf $(FUZZ_BUILD) $(AFL_BUILD)

.DEFAULT_GOAL := $(_fuzz_default_goal)
