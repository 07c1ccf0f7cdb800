/* test_addr.c - reverse-path and forward-path parsing */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"

struct acase {
	const char *in;
	enum addr_kind kind;
	const char *addr;   /* as stored */
	const char *domain; /* after the '@', or NULL */
	const char *params;
};

static const struct acase cases[] = {
	{"<a@example.com>", ADDR_MAILBOX, "a@example.com", "example.com", ""},
	{" <a@example.com>", ADDR_MAILBOX, "a@example.com", "example.com", ""},
	{"<>", ADDR_NULL, "", NULL, ""},
	{"<> SIZE=10", ADDR_NULL, "", NULL, "SIZE=10"},
	{"<a@b.c> SIZE=100 BODY=8BITMIME", ADDR_MAILBOX, "a@b.c", "b.c",
	 "SIZE=100 BODY=8BITMIME"},
	{"<\"john doe\"@example.com>", ADDR_MAILBOX, "\"john doe\"@example.com",
	 "example.com", ""},
	{"<\"a\\\"b\"@example.com>", ADDR_MAILBOX, "\"a\\\"b\"@example.com",
	 "example.com", ""},
	{"<@relay.one,@relay.two:user@example.com>", ADDR_MAILBOX,
	 "user@example.com", "example.com", ""},
	{"<user@[192.0.2.1]>", ADDR_MAILBOX, "user@[192.0.2.1]", "[192.0.2.1]",
	 ""},
	{"<user@[IPv6:2001:db8::1]>", ADDR_MAILBOX, "user@[IPv6:2001:db8::1]",
	 "[IPv6:2001:db8::1]", ""},
	{"<postmaster>", ADDR_LOCAL, "postmaster", NULL, ""},
	{"<first.last+tag@sub.example.org>", ADDR_MAILBOX,
	 "first.last+tag@sub.example.org", "sub.example.org", ""},
	{"user@example.com", ADDR_MAILBOX, "user@example.com", "example.com",
	 ""},
	{"user@example.com SIZE=5", ADDR_MAILBOX, "user@example.com",
	 "example.com", "SIZE=5"},
	{"<j\xc3\xa9r\xc3\xb4me@example.com>", ADDR_MAILBOX,
	 "j\xc3\xa9r\xc3\xb4me@example.com", "example.com", ""},
	/* refused */
	{"", ADDR_BAD, NULL, NULL, NULL},
	{"<", ADDR_BAD, NULL, NULL, NULL},
	{"<a@example.com", ADDR_BAD, NULL, NULL, NULL},
	{"<a@example.com>x", ADDR_BAD, NULL, NULL, NULL},
	{"<a b@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@-example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@example-.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@example..com>", ADDR_BAD, NULL, NULL, NULL},
	{"<.a@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a.@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a..b@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@[300.1.1.1]>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@[IPv6:zz::1]>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@[192.0.2.1>", ADDR_BAD, NULL, NULL, NULL},
	{"<\"unterminated@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a\r@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<a@exa\nmple.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<\"a\x01\"@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"<@relay.one:>", ADDR_BAD, NULL, NULL, NULL},
	{"<@relay.one user@example.com>", ADDR_BAD, NULL, NULL, NULL},
	{"a b@example.com", ADDR_BAD, NULL, NULL, NULL},
};

static void test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct acase *c = &cases[i];
		struct mailpath mp;
		enum addr_kind k = addr_parse(c->in, strlen(c->in), &mp);

		if (k != c->kind)
			fail_msg("case %zu \"%s\": kind %d, want %d", i, c->in,
				 k, c->kind);
		if (k == ADDR_BAD)
			continue;
		assert_string_equal(mp.addr, c->addr);
		assert_int_equal(mp.len, strlen(c->addr));
		if (c->domain)
			assert_string_equal(mp.addr + mp.at + 1, c->domain);
		else
			assert_int_equal(mp.at, mp.len);
		assert_int_equal(mp.params_len, strlen(c->params));
		assert_memory_equal(mp.params, c->params, mp.params_len);
	}
}

/* local part 64, domain 255, path 256 */
static void test_lengths(void **state)
{
	char in[600], local[100], dom[300];
	struct mailpath mp;
	size_t n;

	(void)state;
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@example.com>", local);
	assert_int_equal(addr_parse(in, strlen(in), &mp), ADDR_MAILBOX);
	local[64] = 'l';
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@example.com>", local);
	assert_int_equal(addr_parse(in, strlen(in), &mp), ADDR_BAD);

	/* a 250-byte domain of 50 labels: path is 2+1+1+250 = 254 */
	for (n = 0; n < 250; n += 5)
		memcpy(dom + n, "abcd.", 5);
	dom[249] = 'x';
	dom[250] = '\0';
	snprintf(in, sizeof(in), "<a@%s>", dom);
	assert_int_equal(addr_parse(in, strlen(in), &mp), ADDR_MAILBOX);
	/* longer than a path may be */
	snprintf(in, sizeof(in), "<aaaa@%s>", dom);
	assert_int_equal(addr_parse(in, strlen(in), &mp), ADDR_BAD);
	memset(dom, 'a', 290);
	dom[290] = '\0';
	snprintf(in, sizeof(in), "<a@%s>", dom);
	assert_int_equal(addr_parse(in, strlen(in), &mp), ADDR_BAD);
}

static void test_params(void **state)
{
	const char *p = "SIZE=100  BODY=8BITMIME FLAG";
	const char *end = p + strlen(p), *k, *v;
	size_t kl, vl;

	(void)state;
	assert_int_equal(addr_param_next(&p, end, &k, &kl, &v, &vl), 0);
	assert_int_equal(kl, 4);
	assert_memory_equal(k, "SIZE", 4);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "100", 3);
	assert_int_equal(addr_param_next(&p, end, &k, &kl, &v, &vl), 0);
	assert_memory_equal(k, "BODY", 4);
	assert_int_equal(vl, 8);
	assert_int_equal(addr_param_next(&p, end, &k, &kl, &v, &vl), 0);
	assert_int_equal(kl, 4);
	assert_null(v);
	assert_int_equal(addr_param_next(&p, end, &k, &kl, &v, &vl), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
