# spoolq/spoolq.mk - the queue tool; included by the top-level Makefile
# after spoolerd.mk (it links spoolerd's scan and retry modules, never a
# database client)

SPOOLQ = $(BUILD)/bin/spoolq
ifeq ($(BUILD),build)
SPOOLQ = spoolq/spoolq
endif
SPOOLQ_OBJS = $(BUILD)/sd/scan.o $(BUILD)/sd/retry.o $(BUILD)/common/pwhash.o

BINS += $(SPOOLQ)

$(BUILD)/spoolq/%.o: spoolq/%.c $(HEADERS) $(SPOOLERD_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Icommon -Ispoolerd $(CPPFLAGS) $(CFLAGS_ALL) \
		-c -o $@ $<

$(SPOOLQ): $(BUILD)/spoolq/spoolq.o $(SPOOLQ_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ \
		$(shell pkg-config --libs libcjson 2>/dev/null) -lcrypt
