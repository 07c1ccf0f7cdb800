/* test_util.c - util.c's host:port parser (used for listen_interface,
 * redis_interface, sql_dsn and mysql_host) and its monotonic clock */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util.h"

struct hp {
	const char *in;
	unsigned defport;
	int ok;
	const char *host; /* ok: the host; not ok: part of the reason */
	unsigned port;
};

static const struct hp hps[] = {
	{"127.0.0.1:25", 0, 1, "127.0.0.1", 25},
	{"mx.example.com:587", 0, 1, "mx.example.com", 587},
	{"[::1]:2525", 0, 1, "::1", 2525},
	{"[2001:db8::1]:65535", 0, 1, "2001:db8::1", 65535},
	{":465", 0, 1, "", 465},
	{"db", 3306, 1, "db", 3306},
	{"db:3307", 3306, 1, "db", 3307},
	{"[::1]", 3306, 1, "::1", 3306},
	{"", 3306, 1, "", 3306},
	{":1", 3306, 1, "", 1},
	/* a port is required when there is no default */
	{"db", 0, 0, "no port", 0},
	{"[::1]", 0, 0, "no port", 0},
	{"", 0, 0, "no port", 0},
	/* the port: digits only, 1..65535 */
	{"h:", 0, 0, "1 to 65535", 0},
	{"h:0", 0, 0, "1 to 65535", 0},
	{"h:65536", 0, 0, "1 to 65535", 0},
	{"h:99999999999999999999999", 0, 0, "1 to 65535", 0},
	{"h:25x", 0, 0, "1 to 65535", 0},
	{"h:+25", 0, 0, "1 to 65535", 0},
	{"h:-1", 3306, 0, "1 to 65535", 0},
	{"h: 25", 0, 0, "1 to 65535", 0},
	{"h:0x19", 0, 0, "1 to 65535", 0},
	{"[::1]:", 0, 0, "1 to 65535", 0},
	{":", 3306, 0, "1 to 65535", 0},
	/* brackets */
	{"[::1", 0, 0, "without ']'", 0},
	{"[::1:25", 3306, 0, "without ']'", 0},
	{"[]:25", 0, 0, "empty address", 0},
	{"[::1]25", 0, 0, "junk after ']'", 0},
	{"[::1]x:25", 0, 0, "junk after ']'", 0},
	{"a]b:25", 0, 0, "bracket", 0},
	{"a[b", 3306, 0, "bracket", 0},
	/* IPv6 without brackets is ambiguous */
	{"::1:25", 0, 0, "more than one ':'", 0},
	{"::1", 3306, 0, "more than one ':'", 0},
	/* what a host may not contain */
	{"a b:25", 0, 0, "space", 0},
	{"a\tb:25", 0, 0, "control", 0},
	{"[::1\n]:25", 0, 0, "control", 0},
	{"a\x7f:25", 0, 0, "control", 0},
};

static void test_hostport_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hps) / sizeof(hps[0]); i++) {
		const struct hp *c = &hps[i];
		char host[64];
		unsigned port = 7;
		const char *why = NULL;
		int r;

		memcpy(host, "unset", 6);
		r = util_parse_hostport(c->in, strlen(c->in), c->defport, host,
					sizeof(host), &port, &why);
		if (c->ok) {
			if (r != 0)
				fail_msg("\"%s\": refused: %s", c->in, why);
			if (strcmp(host, c->host) || port != c->port)
				fail_msg("\"%s\": got \"%s\" port %u", c->in,
					 host, port);
			continue;
		}
		if (r == 0)
			fail_msg("\"%s\": accepted as \"%s\" port %u", c->in,
				 host, port);
		if (!why || !strstr(why, c->host))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", c->in,
				 why ? why : "(none)", c->host);
		/* nothing is written on failure */
		assert_string_equal(host, "unset");
		assert_int_equal(port, 7);
	}
}

static void test_hostport_bounds(void **state)
{
	char host[8], big[300];
	unsigned port;
	const char *why = NULL;

	(void)state;
	/* the length is s's, not strlen: the rest is not looked at */
	assert_int_equal(util_parse_hostport("db:3307)/x", 7, 0, host,
					     sizeof(host), &port, &why),
			 0);
	assert_string_equal(host, "db");
	assert_int_equal(port, 3307);
	/* host and its NUL must fit */
	assert_int_equal(util_parse_hostport("1234567:1", 9, 0, host,
					     sizeof(host), &port, &why),
			 0);
	assert_string_equal(host, "1234567");
	assert_int_equal(util_parse_hostport("12345678:1", 10, 0, host,
					     sizeof(host), &port, &why),
			 -1);
	assert_non_null(strstr(why, "too long"));
	memset(big, 'a', sizeof(big));
	assert_int_equal(util_parse_hostport(big, sizeof(big), 25, host,
					     sizeof(host), &port, &why),
			 -1);
	assert_non_null(strstr(why, "too long"));
}

static void test_mono_ms(void **state)
{
	long long a, b;

	(void)state;
	a = util_mono_ms();
	b = util_mono_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport_table),
		cmocka_unit_test(test_hostport_bounds),
		cmocka_unit_test(test_mono_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
