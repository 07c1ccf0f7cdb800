/* test_entry.c - the spool entry format: write then read back, and the
 * reader refusing anything that is not our envelope */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "util.h"

static char *one[] = {"x@example.com"};
static char *two[] = {"x@example.com", "\"odd name\"@example.org"};

static void base(struct envelope *env, char **r, size_t n)
{
	memset(env, 0, sizeof(*env));
	env->queue_id = "1795614195.M224185P3700Q1";
	env->time = 1795614195;
	env->host = "mx.test";
	env->sender = "";
	env->rcpts = r;
	env->nrcpts = n;
	env->client_ip = "2001:db8::1";
	env->client_port = 65535;
	env->helo = "[192.0.2.1]";
	env->protocol = "ESMTPS";
	env->tls = "TLS1.3 TLS_AES_256_GCM_SHA384";
	env->body = "8BITMIME";
	env->size = 7;
}

static void roundtrip(char **r, size_t n, const char *body)
{
	struct buf b = {NULL, 0, 0, 1 << 20};
	struct envelope env, got;
	const char *err;

	base(&env, r, n);
	assert_int_equal(entry_format(&b, &env), 0);
	assert_int_equal(buf_add(&b, body, strlen(body)), 0);
	if (entry_parse(b.p, b.len, &got, &err) < 0)
		fail_msg("parse: %s", err);
	assert_string_equal(got.queue_id, env.queue_id);
	assert_int_equal(got.time, env.time);
	assert_string_equal(got.sender, "");
	assert_int_equal(got.nrcpts, n);
	assert_string_equal(got.rcpts[n - 1], r[n - 1]);
	assert_string_equal(got.client_ip, "2001:db8::1");
	assert_int_equal(got.client_port, 65535);
	assert_string_equal(got.helo, "[192.0.2.1]");
	assert_string_equal(got.tls, env.tls);
	assert_int_equal(got.size, 7);
	assert_int_equal(got.received_off, env.received_off);
	assert_int_equal(got.data_off, env.data_off);
	assert_memory_equal(b.p + got.data_off, body, strlen(body));
	assert_memory_equal(b.p + got.received_off, "Received: from [192.0.2.1]",
			    26);
	entry_free(&got);
	buf_free(&b);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(one, 1, "Subject: hi\r\n\r\nbody\r\n");
	roundtrip(two, 2, "Subject: hi\r\n\r\nbody\r\n");
	/* a message starting with white space stays the client's */
	roundtrip(one, 1, "\tfolded?\r\n\r\nbody\r\n");
	roundtrip(two, 2, " x\r\n");
}

static void test_received_trace(void **state)
{
	struct buf b = {NULL, 0, 0, 1 << 20};
	struct envelope env;
	char *text;

	(void)state;
	base(&env, one, 1);
	assert_int_equal(entry_format(&b, &env), 0);
	text = strndup(b.p, b.len);
	assert_non_null(strstr(
		text, "Received: from [192.0.2.1] (unknown [2001:db8::1])\r\n"
		      "\tby mx.test with ESMTPS (TLS1.3 TLS_AES_256_GCM_SHA384) "
		      "id 1795614195.M224185P3700Q1\r\n\tfor <x@example.com>; "));
	assert_non_null(strstr(text, "X-Spool-Size: 00000000000000000007\r\n"));
	free(text);
	buf_free(&b);
}

static void test_format_refuses_controls(void **state)
{
	struct buf b = {NULL, 0, 0, 1 << 20};
	struct envelope env;
	char *bad[] = {"a@b\nX-Spool-Recipient: <c@d>"};

	(void)state;
	base(&env, bad, 1);
	assert_int_equal(entry_format(&b, &env), -1);
	buf_free(&b);
	base(&env, one, 1);
	env.helo = "x\ry";
	assert_int_equal(entry_format(&b, &env), -1);
	buf_free(&b);
	base(&env, one, 1);
	env.sender = "a\x7f@b";
	assert_int_equal(entry_format(&b, &env), -1);
	buf_free(&b);
}

struct bad {
	const char *text;
	const char *why;
};

#define GOOD_HEAD                                                             \
	"X-Spool-Version: 1\r\nX-Spool-Queue-Id: Q\r\nX-Spool-Time: 1\r\n"    \
	"X-Spool-Host: h\r\nX-Spool-Sender: <>\r\n"                           \
	"X-Spool-Recipient: <a@b>\r\nX-Spool-Client: 1.2.3.4 port 5\r\n"      \
	"X-Spool-Helo: h\r\nX-Spool-Protocol: ESMTP\r\nX-Spool-TLS: none\r\n" \
	"X-Spool-Body: 7BIT\r\n"
#define GOOD_TAIL                                                            \
	"X-Spool-Size: 00000000000000000003\r\nReceived: from h\r\n\tby h\r\n" \
	"\tfor <a@b>; date\r\nx\r\n"

static const struct bad bads[] = {
	{GOOD_HEAD GOOD_TAIL, NULL},
	{"Subject: x\r\n" GOOD_HEAD GOOD_TAIL, "unexpected line"},
	{GOOD_HEAD "X-Spool-Extra: 1\r\n" GOOD_TAIL, "unknown or repeated"},
	{GOOD_HEAD "X-Spool-Helo: again\r\n" GOOD_TAIL, "unknown or repeated"},
	{GOOD_HEAD "X-Spool-Recipient: a@b\r\n" GOOD_TAIL, "Recipient"},
	{GOOD_HEAD "X-Spool-Size: 3\n" GOOD_TAIL, "CRLF"},
	{"X-Spool-Version: 2\r\n" GOOD_TAIL, "version"},
	{GOOD_HEAD "Received: from h\r\n", "not complete"},
	{GOOD_HEAD "X-Spool-Size: 1\r\n", "no Received"},
	{"X-Spool-Version: 1\r\nReceived: from h\r\n\tby h\r\n\tfor x\r\n",
	 "missing"},
};

static void test_parse_refuses(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct envelope env;
		const char *err = NULL;
		int r = entry_parse(bads[i].text, strlen(bads[i].text), &env,
				    &err);

		if (!bads[i].why) {
			if (r != 0)
				fail_msg("case %zu: %s", i, err);
			entry_free(&env);
			continue;
		}
		if (r == 0)
			fail_msg("case %zu parsed", i);
		if (!strcasestr(err, bads[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 bads[i].why);
	}
}

static void test_util(void **state)
{
	long long ms;
	unsigned long u;
	char buf[64];

	(void)state;
	assert_int_equal(util_parse_duration("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(util_parse_duration("1h30m", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(util_parse_duration("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(util_parse_duration("120h", &ms), 0);
	assert_int_equal(ms, 432000000);
	assert_int_equal(util_parse_duration("7", &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(util_parse_duration("", &ms), -1);
	assert_int_equal(util_parse_duration("5x", &ms), -1);
	assert_int_equal(util_parse_duration("m", &ms), -1);
	assert_int_equal(util_parse_duration("-5s", &ms), -1);
	util_format_duration(5400500, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m500ms");
	util_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	assert_int_equal(util_parse_ulong("18446744073709551615", 20, ~0UL, &u),
			 0);
	assert_int_equal(util_parse_ulong("18446744073709551616", 20, ~0UL, &u),
			 -1);
	assert_int_equal(util_parse_ulong("12a", 3, ~0UL, &u), -1);
	assert_int_equal(util_parse_ulong("101", 3, 100, &u), -1);
	util_printable(buf, sizeof(buf), "a\r\nb\\", 5, 100);
	assert_string_equal(buf, "a\\x0d\\x0ab\\x5c");
	util_printable(buf, sizeof(buf), "abcdef", 6, 3);
	assert_string_equal(buf, "abc...");
	util_rfc5322_date(0, buf, sizeof(buf));
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_received_trace),
		cmocka_unit_test(test_format_refuses_controls),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_util),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
