/* test_session_faults.c - the protocol core's edges and error paths:
 * arguments to QUIT and RSET, blanks around arguments, a line after QUIT,
 * a banner longer than a reply line, the reply buffer of a pipelined
 * burst reaching its cap, and memory running out for a recipient (malloc
 * and realloc wrapped with -Wl,--wrap) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "sessfix.h"

static int fail_malloc, fail_realloc;

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	return fail_malloc ? NULL : __real_malloc(n);
}

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

static int setup(void **state)
{
	char json[1200], name[700];

	(void)state;
	memset(name, 'h', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json),
		 "{\"allowed_hosts\": [\"example.com\"], \"servers\": ["
		 "{\"host_name\": \"mx.test\"}, {\"host_name\": \"%s\"}]}",
		 name);
	cfg = cfg_load_buf(json, NULL, NULL);
	fail_malloc = fail_realloc = 0;
	return cfg ? 0 : -1;
}

static void test_arguments(void **state)
{
	struct session s;
	char r[512];

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	/* blanks around the argument are not part of it */
	assert_int_equal(fx_feed(&s, "EHLO \t  client.test \t ", r, sizeof(r)),
			 ACT_NONE);
	assert_string_equal(s.helo, "client.test");
	assert_int_equal(fx_feed(&s, "RSET now", r, sizeof(r)), ACT_NONE);
	assert_string_equal(r, "501 5.5.4 Syntax error, no parameters "
			       "allowed\r\n");
	assert_int_equal(fx_feed(&s, "QUIT now", r, sizeof(r)), ACT_NONE);
	assert_string_equal(r, "501 5.5.4 Syntax error, no parameters "
			       "allowed\r\n");
	assert_int_equal(s.state, ST_HELO);
	assert_int_equal(fx_feed(&s, "QUIT", r, sizeof(r)), ACT_CLOSE);
	assert_string_equal(r, "221 2.0.0 Bye\r\n");
	assert_int_equal(s.end, END_QUIT);
	/* after QUIT nothing more is read, nothing more is said */
	assert_int_equal(fx_feed(&s, "NOOP", r, sizeof(r)), ACT_CLOSE);
	assert_string_equal(r, "");
	assert_int_equal(s.rejected, 2);
	assert_string_equal(session_cmd_name(0), "HELO");
	assert_string_equal(session_cmd_name(SESSION_NCMDS), "?");
	session_free(&s);
}

static void test_long_banner(void **state)
{
	struct session s;
	char r[1024];

	(void)state;
	/* a 699-byte host_name: the banner is cut to one 600-byte line */
	session_init(&s, cfg, &cfg->servers[1], "192.0.2.1", 1234);
	session_greeting(&s);
	assert_int_equal(s.out.len, 599);
	memcpy(r, s.out.p, s.out.len);
	r[s.out.len] = '\0';
	assert_memory_equal(r, "220 hhh", 7);
	assert_string_equal(r + 597, "\r\n");
	assert_null(memchr(r, '\n', 597));
	assert_int_equal(s.end, END_NONE);
	session_free(&s);
}

static void test_reply_buffer_full(void **state)
{
	struct session s;
	unsigned i;

	(void)state;
	/* replies that are never flushed: the cap ends the session as an
	 * internal error instead of growing without bound */
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	s.out.max = 64;
	for (i = 0; i < 10 && s.end == END_NONE; i++)
		session_feed_line(&s, "NOOP", 4);
	assert_int_equal(s.end, END_INTERNAL);
	assert_true(s.out.len <= 64);
	session_free(&s);

	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	s.out.max = 10;
	session_greeting(&s);
	assert_int_equal(s.end, END_INTERNAL);
	session_free(&s);
}

static void test_rcpt_oom(void **state)
{
	static const char *lines[] = {"EHLO c", "MAIL FROM:<a@b.c>"};
	struct session s;
	char r[512];
	size_t i;
	int k;

	(void)state;
	for (k = 0; k < 2; k++) {
		session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
		for (i = 0; i < 2; i++)
			assert_int_equal(fx_feed(&s, lines[i], r, sizeof(r)),
					 ACT_NONE);
		if (k)
			fail_realloc = 1;
		else
			fail_malloc = 1;
		assert_int_equal(fx_feed(&s, "RCPT TO:<x@example.com>", r,
				      sizeof(r)),
				 ACT_CLOSE);
		fail_malloc = fail_realloc = 0;
		assert_memory_equal(r, "421 4.3.0 ", 10);
		assert_int_equal(s.end, END_INTERNAL);
		assert_int_equal(s.tx.nrcpts, 0);
		session_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arguments),
	    cmocka_unit_test(test_long_banner),
	    cmocka_unit_test(test_reply_buffer_full),
	    cmocka_unit_test(test_rcpt_oom),
	};

	return cmocka_run_group_tests(tests, setup, fx_teardown);
}
