# spoolerd/spoolerd.mk - spoolerd and its unit tests; included by the
# top-level Makefile before `all`. Objects go to $(BUILD)/sd/.

# the database clients, zlib, libcurl, libnats and librabbitmq link
# here only, never into smtpd-session
PKGS_SPOOLERD = libcjson libsystemd gnutls hiredis zlib libcurl libnats \
	librabbitmq
MYSQL_CFLAGS = $(shell pkg-config --cflags mysqlclient 2>/dev/null || \
	mysql_config --cflags)
MYSQL_LIBS = $(shell pkg-config --libs mysqlclient 2>/dev/null || \
	mysql_config --libs)
LIBS_SPOOLERD = $(shell pkg-config --libs $(PKGS_SPOOLERD) 2>/dev/null) \
	$(MYSQL_LIBS) -lpthread
SPOOLERD_HEADERS = $(wildcard spoolerd/*.h)

SPOOLERD_MODS = chain msg path retry scan queue deliver notify \
	proc_headersparser proc_header proc_hasher proc_debugger \
	proc_maildir proc_mbox proc_compressor proc_redis proc_sql sql_conn ticket \
	proc_webhook proc_pipe pipe_run proc_nats jetstream lookup lookup_file \
	lookup_db proc_amqp
SPOOLERD_OBJS = $(SPOOLERD_MODS:%=$(BUILD)/sd/%.o)

SPOOLERD_UNIT = chain retry path mbox hasher headers maildir queue procs \
	sql msg scan webhook pipe jetstream lookup amqp
SPOOLERD_UNIT_BINS = $(SPOOLERD_UNIT:%=$(BUILD)/tests/test_spoolerd_%)

# every spoolerd/proc_*.c is a processor and links in, listed above or
# not: a new one is its file plus its row in processors.def (and its
# library in PKGS_SPOOLERD or LIBS_SPOOLERD if it needs one)
SPOOLERD_HEADERS += spoolerd/processors.def
SPOOLERD_PROCS = $(filter-out $(SPOOLERD_MODS),$(basename $(notdir \
	$(wildcard spoolerd/proc_*.c))))
SPOOLERD_OBJS += $(SPOOLERD_PROCS:%=$(BUILD)/sd/%.o)

BINS += $(SPOOLERD)
UNIT_BINS += $(SPOOLERD_UNIT_BINS)

$(BUILD)/sd/%.o: spoolerd/%.c $(HEADERS) $(SPOOLERD_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Icommon -Ispoolerd \
		$(shell pkg-config --cflags libsystemd gnutls hiredis libcurl \
		2>/dev/null) \
		$(MYSQL_CFLAGS) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(SPOOLERD): $(BUILD)/sd/main.o $(SPOOLERD_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_SPOOLERD)

# unit tests link the module objects, never main.o; WRAP_spoolerd_<name>
# lists the calls a test wraps (-Wl,--wrap=) to fail them
WRAP_spoolerd_msg = -Wl,--wrap=malloc,--wrap=pread64,--wrap=__pread64_chk \
	-Wl,--wrap=copy_file_range,--wrap=deflate

$(BUILD)/tests/test_spoolerd_%: tests/spoolerd/test_%.c \
		tests/spoolerd/testutil.h $(SPOOLERD_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Icommon -Ispoolerd -Itests/spoolerd \
		$(MYSQL_CFLAGS) $(CFLAGS_ALL) \
		-o $@ $< $(SPOOLERD_OBJS) $(COMMON_OBJS) $(LDFLAGS_ALL) \
		$(LIBS_SPOOLERD) $(LIBS_TEST) $(WRAP_spoolerd_$*)
