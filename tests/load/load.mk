# tests/load/load.mk - the chaos load generator and `make loadtest`
# (included by the top-level Makefile). The generator is built the same
# way for SAN=0 and SAN=1, into build/load/.
#
#   make loadtest [CLIENTS=5000] [DURATION=60] [LAUNCHER=accept]
#
# runs tests/load/loadtest.sh: the real stack (tcpserver, or with
# LAUNCHER=accept the accept mode, smtpd-session,
# spoolerd with maildir), the generator, a profile, and a report under
# build/loadtest/ that ends with "accepted N, lost L, duplicated D,
# corrupted C".

LOADGEN = build/load/loadgen
LOADGEN_SRCS = tests/load/loadgen.c tests/load/check.c tests/load/sampler.c
CLIENTS ?= 5000
DURATION ?= 60
LAUNCHER ?= tcpserver

.PHONY: loadgen loadtest

loadgen: $(LOADGEN)

$(LOADGEN): $(LOADGEN_SRCS) tests/load/loadgen.h tests/load/load.mk
	@mkdir -p $(dir $@)
	cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
		$(shell pkg-config --cflags gnutls) -o $@ $(LOADGEN_SRCS) \
		$(shell pkg-config --libs gnutls) -lpthread -lm

# the script builds the binaries under test itself (from HEAD)
loadtest: $(LOADGEN)
	CLIENTS=$(CLIENTS) DURATION=$(DURATION) LOADGEN=$(LOADGEN) \
		LAUNCHER=$(LAUNCHER) tests/load/loadtest.sh
