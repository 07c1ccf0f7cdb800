/* test_lookupproto.c - the rcpt_check lookup protocol: requests and
 * replies round-trip, every malformed line is refused, %-encoding keeps
 * lines printable; rcpt_check table names by type */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lookupproto.h"

static void test_request_roundtrip(void **st)
{
	static const char *addrs[] = {
		"alice@example.com", "j\xc3\xb6rg@xn--bcher-kva.example",
		"\"a b%c\"@example.com", "x\x7f\x01@d", "%%@%",
	};
	char line[LOOKUP_LINE_MAX + 1];
	struct lookup_req r;
	size_t i, k;
	int n;

	(void)st;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		n = lookup_request_format(line, sizeof(line), 42 + i,
					  "sql:SELECT 1 FROM t WHERE a = ?",
					  addrs[i], strlen(addrs[i]));
		assert_true(n > 0);
		assert_int_equal(line[n - 1], '\n');
		/* printable ASCII, two spaces, one LF */
		for (k = 0; k + 1 < (size_t)n; k++)
			assert_true(line[k] >= 0x20 && line[k] < 0x7f);
		assert_int_equal(lookup_request_parse(line, (size_t)n - 1, &r),
				 0);
		assert_int_equal(r.id, 42 + i);
		assert_string_equal(r.table,
				    "sql:SELECT 1 FROM t WHERE a = ?");
		assert_string_equal(r.addr, addrs[i]);
	}
}

static void test_request_malformed(void **st)
{
	static const char *bad[] = {
		"",
		"1",
		"1 file:/x",
		"1 file:/x ",
		" file:/x a@b",
		"x file:/x a@b",
		"-1 file:/x a@b",
		"+1 file:/x a@b",
		"12345678901 file:/x a@b",
		"4294967296 file:/x a@b",
		"1 file:/x a@b extra",
		"1 file:/x a b",
		"1  a@b",
		"1 file:/x a%4",
		"1 file:/x a%",
		"1 file:/x a%zz",
		"1 file:/x a%00b",
		"1 file:/x a\tb",
		"1 file:/x a\xc3\xb6",
	};
	struct lookup_req r;
	char big[LOOKUP_LINE_MAX + 10];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lookup_request_parse(bad[i], strlen(bad[i]),
						      &r),
				 -1);
	/* an address past LOOKUP_ADDR_MAX, a line past LOOKUP_LINE_MAX */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1 file:/x ", 10);
	assert_int_equal(lookup_request_parse(big, 10 + LOOKUP_ADDR_MAX + 1,
					      &r),
			 -1);
	assert_int_equal(lookup_request_parse(big, 10 + LOOKUP_ADDR_MAX, &r),
			 0);
	assert_int_equal(lookup_request_parse(big, sizeof(big), &r), -1);
	assert_int_equal(lookup_request_parse("4294967295 f:x a", 16, &r), 0);
	assert_int_equal(r.id, 4294967295UL);
}

static void test_request_format_limits(void **st)
{
	char line[LOOKUP_LINE_MAX + 1], tab[LOOKUP_TABLE_MAX + 2];
	char addr[LOOKUP_ADDR_MAX + 2];

	(void)st;
	memset(addr, 0x80, sizeof(addr));
	memset(tab, 0x01, sizeof(tab));
	tab[LOOKUP_TABLE_MAX] = '\0';
	/* the worst case, everything %-encoded, still fits a line */
	assert_true(lookup_request_format(line, sizeof(line), 1, tab, addr,
					  LOOKUP_ADDR_MAX) > 0);
	assert_int_equal(lookup_request_format(line, sizeof(line), 1, tab,
					       addr, LOOKUP_ADDR_MAX + 1),
			 -1);
	tab[LOOKUP_TABLE_MAX] = 'x';
	tab[LOOKUP_TABLE_MAX + 1] = '\0';
	assert_int_equal(lookup_request_format(line, sizeof(line), 1, tab,
					       "a@b", 3),
			 -1);
	assert_int_equal(lookup_request_format(line, 8, 1, "file:/x", "a@b",
					       3),
			 -1);
	assert_int_equal(lookup_request_format(line, sizeof(line), 1,
					       "file:/x", "a\0b", 3),
			 -1);
	assert_int_equal(lookup_request_format(line, sizeof(line), 1,
					       "file:/x", "", 0),
			 -1);
}

static void test_reply(void **st)
{
	struct lookup_reply r;
	char line[512];
	int n;

	(void)st;
	n = lookup_reply_format(line, sizeof(line), 7, LK_FOUND, NULL);
	assert_string_equal(line, "7 OK\n");
	assert_int_equal(lookup_reply_parse(line, (size_t)n - 1, &r), 0);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.status, LK_FOUND);
	n = lookup_reply_format(line, sizeof(line), 8, LK_NOTFOUND, "x");
	assert_string_equal(line, "8 NOTFOUND\n");
	assert_int_equal(lookup_reply_parse(line, (size_t)n - 1, &r), 0);
	assert_int_equal(r.status, LK_NOTFOUND);
	n = lookup_reply_format(line, sizeof(line), 9, LK_TEMP,
				"MySQL: gone\naway\x80");
	assert_string_equal(line, "9 TEMP MySQL: gone?away?\n");
	assert_int_equal(lookup_reply_parse(line, (size_t)n - 1, &r), 0);
	assert_int_equal(r.status, LK_TEMP);
	assert_string_equal(r.reason, "MySQL: gone?away?");
	n = lookup_reply_format(line, sizeof(line), 9, LK_TEMP, "");
	assert_string_equal(line, "9 TEMP -\n");
	assert_int_equal(lookup_reply_format(line, 4, 9, LK_FOUND, NULL), -1);
	assert_int_equal(lookup_reply_parse("1 ok", 4, &r), -1);
	assert_int_equal(lookup_reply_parse("1 OK ", 5, &r), -1);
	assert_int_equal(lookup_reply_parse("1 TEMP", 6, &r), -1);
	assert_int_equal(lookup_reply_parse("1 TEMP a\tb", 10, &r), -1);
	assert_int_equal(lookup_reply_parse("OK", 2, &r), -1);
	assert_int_equal(lookup_reply_parse("x OK", 4, &r), -1);
}

static void test_spec(void **st)
{
	const char *why;

	(void)st;
	assert_int_equal(lookup_spec_type("file:/etc/smtpd/recipients", &why),
			 LK_FILE);
	assert_int_equal(lookup_spec_type("redis:rcpts", &why), LK_REDIS);
	assert_int_equal(lookup_spec_type("sql:SELECT 1 FROM u WHERE a = ?",
					  &why),
			 LK_SQL);
	/* a ? inside quotes is text, not the placeholder */
	assert_int_equal(lookup_spec_type("sql:SELECT '?' FROM u WHERE a = ?",
					  &why),
			 LK_SQL);
	assert_int_equal(lookup_spec_type("sql:SELECT 1 FROM u", &why),
			 LK_NONE);
	assert_int_equal(lookup_spec_type("sql:SELECT ? FROM u WHERE a=?",
					  &why),
			 LK_NONE);
	assert_int_equal(lookup_spec_type("file:relative", &why), LK_NONE);
	assert_int_equal(lookup_spec_type("ldap:x", &why), LK_NONE);
	assert_non_null(strstr(why, "unknown type"));
	assert_int_equal(lookup_spec_type("redis:", &why), LK_NONE);
	assert_int_equal(lookup_spec_type("nocolon", &why), LK_NONE);
	assert_int_equal(lookup_spec_type("redis:a\nb", &why), LK_NONE);
	assert_string_equal(lookup_spec_name("redis:k:1"), "k:1");
}

static void test_fold(void **st)
{
	char a[] = "J\xc3\x96rg.Smith@Example.COM";

	(void)st;
	lookup_fold(a);
	assert_string_equal(a, "j\xc3\x96rg.smith@example.com");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_request_format_limits),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
