# dashboard/dashboard.mk - smtpd-dashboard and its unit tests; included
# by the top-level Makefile before `all`. Objects go to $(BUILD)/dash/.

PKGS_DASH = libcjson gnutls libmicrohttpd libcrypt
LIBS_DASH = $(shell pkg-config --libs $(PKGS_DASH) 2>/dev/null) -lpthread
CFLAGS_DASH = $(shell pkg-config --cflags $(PKGS_DASH) 2>/dev/null)
DASH_HEADERS = $(wildcard dashboard/*.h)
DASH_MODS = collect rank ws web page
DASH_OBJS = $(DASH_MODS:%=$(BUILD)/dash/%.o)
ifeq ($(BUILD),build)
DASHBOARD = dashboard/smtpd-dashboard
else
DASHBOARD = $(BUILD)/bin/smtpd-dashboard
endif
DASH_UNIT = ws rank collect
DASH_UNIT_BINS = $(DASH_UNIT:%=$(BUILD)/tests/test_dashboard_%)

BINS += $(DASHBOARD)
UNIT_BINS += $(DASH_UNIT_BINS)

$(BUILD)/dash/%.o: dashboard/%.c $(HEADERS) $(DASH_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Icommon -Idashboard $(CFLAGS_DASH) \
		$(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(DASHBOARD): $(BUILD)/dash/main.o $(DASH_OBJS) $(COMMON_OBJS) \
		$(BUILD)/common/pwhash.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_DASH)

$(BUILD)/tests/test_dashboard_%: tests/dashboard/test_%.c $(DASH_OBJS) \
		$(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Icommon -Idashboard $(CFLAGS_DASH) \
		$(CFLAGS_ALL) -o $@ $< $(DASH_OBJS) $(COMMON_OBJS) \
		$(LDFLAGS_ALL) $(LIBS_DASH) $(LIBS_TEST)
