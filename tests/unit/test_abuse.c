/* test_abuse.c - the protocol core against a client that keeps failing:
 * the hard and soft error limits, junk commands, duplicate recipients
 * and the free-space check at MAIL (session.c; pure, no I/O) */
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

static int setup(void **state)
{
	(void)state;
	return fx_load("{\"allowed_hosts\": [\"example.com\"],"
		       "\"servers\": [{\"host_name\": \"mx.test\", "
		       "\"max_errors\": 6, \"soft_error_limit\": 2, "
		       "\"error_sleep_time\": \"250ms\", "
		       "\"max_junk_commands\": 3, "
		       "\"max_unrecognized_commands\": 100}]}");
}

static void start(struct session *s)
{
	char r[2048];

	session_init(s, cfg, &cfg->servers[0], "192.0.2.7", 4000);
	assert_int_equal(fx_feed(s, "EHLO c.test", r, sizeof(r)), ACT_NONE);
}

/* every 4xx/5xx counts; the sixth closes with 421 4.7.0 */
static void test_hard_limit(void **state)
{
	struct session s;
	char r[2048];
	int i;

	(void)state;
	start(&s);
	assert_int_equal(fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r)),
			 ACT_NONE);
	for (i = 0; i < 5; i++) {
		assert_int_equal(fx_feed(&s, "RCPT TO:<x@relay.example>", r,
				      sizeof(r)),
				 ACT_NONE);
		assert_string_equal(r, "554 5.7.1 Relay access denied\r\n");
	}
	assert_int_equal(
		fx_feed(&s, "RCPT TO:<x@relay.example>", r, sizeof(r)),
		ACT_CLOSE);
	assert_string_equal(r, "554 5.7.1 Relay access denied\r\n"
			       "421 4.7.0 Too many errors, closing "
			       "connection\r\n");
	assert_int_equal(s.state, ST_QUIT);
	assert_int_equal(s.end, END_ERRORS);
	session_free(&s);
}

/* past soft_error_limit each error owes error_sleep_time */
static void test_soft_limit(void **state)
{
	struct session s;
	char r[2048];

	(void)state;
	start(&s);
	fx_feed(&s, "VRFY", r, sizeof(r)); /* 501: error 1 */
	fx_feed(&s, "RCPT TO:<x@example.com>", r, sizeof(r)); /* 503: 2 */
	assert_int_equal(s.delay_ms, 0);
	fx_feed(&s, "DATA", r, sizeof(r)); /* 503: 3 */
	assert_int_equal(s.delay_ms, 250);
	fx_feed(&s, "BOGUS", r, sizeof(r)); /* 500: 4 */
	assert_int_equal(s.delay_ms, 500);
	session_free(&s);
}

/* an accepted message forgives the errors before it */
static void test_message_resets(void **state)
{
	struct session s;
	struct data_rd d;
	char r[2048];
	int i;

	(void)state;
	start(&s);
	for (i = 0; i < 5; i++)
		fx_feed(&s, "BOGUS", r, sizeof(r));
	assert_int_equal(s.err_count, 5);
	fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r));
	fx_feed(&s, "RCPT TO:<x@example.com>", r, sizeof(r));
	assert_int_equal(fx_feed(&s, "DATA", r, sizeof(r)), ACT_DATA);
	session_data_start(&s, 1, R_OKAY);
	memset(&d, 0, sizeof(d));
	session_data_end(&s, &d, R_OKAY, "QID");
	assert_int_equal(s.err_count, 0);
	assert_int_equal(s.end, END_NONE);
	for (i = 0; i < 5; i++)
		assert_int_equal(fx_feed(&s, "BOGUS", r, sizeof(r)), ACT_NONE);
	assert_int_equal(fx_feed(&s, "BOGUS", r, sizeof(r)), ACT_CLOSE);
	session_free(&s);
}

/* a failed DATA (here 452 before 354) counts and can end the session */
static void test_data_errors_count(void **state)
{
	struct session s;
	char r[2048];
	int i;

	(void)state;
	start(&s);
	for (i = 0; i < 5; i++)
		fx_feed(&s, "BOGUS", r, sizeof(r));
	fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r));
	fx_feed(&s, "RCPT TO:<x@example.com>", r, sizeof(r));
	assert_int_equal(fx_feed(&s, "DATA", r, sizeof(r)), ACT_DATA);
	session_data_start(&s, 0, R_NO_SPACE);
	assert_int_equal(s.end, END_ERRORS);
	assert_int_equal(s.state, ST_QUIT);
	assert_non_null(strstr(s.out.p, "421 4.7.0"));
	session_free(&s);
}

/* NOOP VRFY RSET HELP are free up to max_junk_commands (3), then each
 * is an error: 3 free + 6 counted = the limit */
static void test_junk_commands(void **state)
{
	struct session s;
	char r[2048];
	int i;

	(void)state;
	start(&s);
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_feed(&s, "NOOP", r, sizeof(r)), ACT_NONE);
	assert_int_equal(s.err_count, 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(fx_feed(&s, i % 2 ? "VRFY bob" : "RSET", r,
				      sizeof(r)),
				 ACT_NONE);
		assert_int_equal(r[0], '2'); /* the reply itself is a 2xx */
	}
	assert_int_equal(fx_feed(&s, "HELP", r, sizeof(r)), ACT_CLOSE);
	assert_non_null(strstr(r, "421 4.7.0"));
	session_free(&s);
}

/* the same recipient twice is recorded once and answered 250 twice;
 * the domain compares without case, the local part exactly */
static void test_duplicate_rcpts(void **state)
{
	struct session s;
	char r[2048];

	(void)state;
	start(&s);
	fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r));
	fx_feed(&s, "RCPT TO:<bob@example.com>", r, sizeof(r));
	assert_string_equal(r, "250 2.1.5 OK\r\n");
	fx_feed(&s, "RCPT TO:<bob@EXAMPLE.com>", r, sizeof(r));
	assert_string_equal(r, "250 2.1.5 OK\r\n");
	fx_feed(&s, "RCPT TO:<bob@example.com>", r, sizeof(r));
	assert_string_equal(r, "250 2.1.5 OK\r\n");
	assert_int_equal(s.tx.nrcpts, 1);
	fx_feed(&s, "RCPT TO:<Bob@example.com>", r, sizeof(r));
	assert_int_equal(s.tx.nrcpts, 2);
	fx_feed(&s, "RCPT TO:<postmaster>", r, sizeof(r));
	fx_feed(&s, "RCPT TO:<PostMaster>", r, sizeof(r));
	assert_string_equal(r, "250 2.1.5 OK\r\n");
	assert_int_equal(s.tx.nrcpts, 3);
	assert_string_equal(s.tx.rcpts[0], "bob@example.com");
	assert_string_equal(s.tx.rcpts[1], "Bob@example.com");
	session_free(&s);
}

struct space {
	long long room; /* bytes above spool_min_free */
	long long asked;
	int calls;
	int fail;
};

static int fake_space(void *arg, long long need)
{
	struct space *sp = arg;

	sp->calls++;
	sp->asked = need;
	if (sp->fail)
		return -1;
	return need <= sp->room;
}

/* SIZE= is weighed against the free space at MAIL: 452 4.3.1 */
static void test_size_at_mail(void **state)
{
	struct space room = {5000, 0, 0, 0};
	struct session s;
	char r[2048];

	(void)state;
	start(&s);
	s.space = fake_space;
	s.space_arg = &room;
	fx_feed(&s, "MAIL FROM:<a@b.example> SIZE=6000", r, sizeof(r));
	assert_string_equal(r, "452 4.3.1 Insufficient system storage\r\n");
	assert_int_equal(s.state, ST_HELO);
	assert_int_equal(room.asked, 6000);
	fx_feed(&s, "MAIL FROM:<a@b.example> SIZE=4000", r, sizeof(r));
	assert_string_equal(r, "250 2.1.0 OK\r\n");
	assert_int_equal(s.tx.declared, 4000);
	fx_feed(&s, "RSET", r, sizeof(r));
	/* no SIZE: the floor itself is checked */
	room.room = -1;
	fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r));
	assert_string_equal(r, "452 4.3.1 Insufficient system storage\r\n");
	assert_int_equal(room.asked, 0);
	/* statvfs failed: DATA decides */
	room.fail = 1;
	fx_feed(&s, "MAIL FROM:<a@b.example>", r, sizeof(r));
	assert_string_equal(r, "250 2.1.0 OK\r\n");
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hard_limit),
		cmocka_unit_test(test_soft_limit),
		cmocka_unit_test(test_message_resets),
		cmocka_unit_test(test_data_errors_count),
		cmocka_unit_test(test_junk_commands),
		cmocka_unit_test(test_duplicate_rcpts),
		cmocka_unit_test(test_size_at_mail),
	};

	return cmocka_run_group_tests(tests, setup, fx_teardown);
}
