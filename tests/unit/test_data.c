/* test_data.c - the DATA byte machine: unstuffing, the terminator at every
 * chunk boundary, each smuggling variant, the size limit */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data.h"

struct out {
	char buf[8192];
	size_t len;
	int fail_after; /* sink fails once len would exceed it; 0 = never */
};

static int sink(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (o->fail_after && o->len + n > (size_t)o->fail_after)
		return -1;
	assert_true(o->len + n <= sizeof(o->buf));
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

/* feed - run input through in chunks of `chunk` bytes (0 = all at once);
 * returns the offset just past the terminator, or -1 if none */
static long feed(struct data_rd *d, struct out *o, const char *in, size_t n,
                 size_t chunk)
{
	size_t off = 0;

	while (off < n) {
		size_t len = chunk ? chunk : n;
		size_t used;

		if (len > n - off)
			len = n - off;
		if (data_feed(d, in + off, len, &used, sink, o) == DATA_END)
			return (long)(off + used);
		assert_int_equal(used, len);
		off += len;
	}
	return -1;
}

struct dcase {
	const char *in;
	const char *out; /* NULL: no terminator expected */
	int bare;
	const char *rest; /* bytes after the terminator */
};

static const struct dcase cases[] = {
	{".\r\n", "", 0, ""},
	{"a\r\n.\r\n", "a\r\n", 0, ""},
	{"a\r\n.\r\nQUIT\r\n", "a\r\n", 0, "QUIT\r\n"},
	{"..a\r\n.\r\n", ".a\r\n", 0, ""},
	{"a\r\n..\r\n.\r\n", "a\r\n.\r\n", 0, ""},
	{"a\r\n...\r\n.\r\n", "a\r\n..\r\n", 0, ""},
	{"a\r\n.b\r\n.\r\n", "a\r\nb\r\n", 0, ""},
	{"x.\r\n.\r\n", "x.\r\n", 0, ""},
	{"\r\n\r\n.\r\n", "\r\n\r\n", 0, ""},
	/* SMTP smuggling: none of these end the message */
	{"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 1, ""},
	{"a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", 1, ""},
	{"a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", 1, ""},
	{"a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 1, ""},
	{"a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 1, ""},
	{"a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", 1, ""},
	{"a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", 1, ""},
	{"a\n\r\n.\r\n", "a\n\r\n", 1, ""},
	{"a\r\r\n.\r\n", "a\r\r\n", 1, ""},
	{"a\n.\n", NULL, 1, NULL},
	{"a\r.\r", NULL, 1, NULL},
	{"a\r\n.\n", NULL, 1, NULL},
	{"a\r\n.\r", NULL, 0, NULL},
	{"a\r\n", NULL, 0, NULL},
	/* NUL and 8-bit bytes pass through untouched */
	{"\x00\xff\xc3\xa9\r\n.\r\n", "\x00\xff\xc3\xa9\r\n", 0, ""},
};

static void run_case(const struct dcase *c, size_t chunk)
{
	size_t n = strlen(c->in);
	struct data_rd d;
	struct out o;
	long end;

	if (c->in[0] == '\0') /* the NUL case */
		n = 9;
	memset(&o, 0, sizeof(o));
	data_init(&d, 1000000);
	end = feed(&d, &o, c->in, n, chunk);
	if (!c->out) {
		assert_int_equal(end, -1);
		assert_int_equal(d.bare, c->bare);
		return;
	}
	assert_true(end >= 0);
	assert_int_equal(o.len, c->in[0] == '\0' ? 6 : strlen(c->out));
	assert_memory_equal(o.buf, c->out, o.len);
	assert_int_equal(d.size, (long long)o.len);
	assert_int_equal(d.bare, c->bare);
	assert_int_equal(n - (size_t)end, strlen(c->rest));
	assert_memory_equal(c->in + end, c->rest, strlen(c->rest));
}

/* every case, with every chunk size from 1 byte up: the terminator
 * split at every position */
static void test_cases_every_chunking(void **state)
{
	size_t i, chunk;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (chunk = 0; chunk <= 12; chunk++)
			run_case(&cases[i], chunk);
}

/* a long message split at every boundary gives the same bytes */
static void test_split_everywhere(void **state)
{
	const char *msg = "Subject: x\r\n\r\n..one\r\ntwo.\r\n..\r\n"
			  "end\r\n.\r\nNEXT";
	size_t n = strlen(msg), cut;

	(void)state;
	for (cut = 0; cut <= n; cut++) {
		struct data_rd d;
		struct out o;
		size_t used, off = 0;
		enum data_status st = DATA_MORE;

		memset(&o, 0, sizeof(o));
		data_init(&d, 100000);
		if (cut) {
			st = data_feed(&d, msg, cut, &used, sink, &o);
			off = used;
		}
		if (st == DATA_MORE) {
			st = data_feed(&d, msg + off, n - off, &used, sink, &o);
			off += used;
		}
		assert_int_equal(st, DATA_END);
		assert_string_equal(msg + off, "NEXT");
		assert_int_equal(o.len, strlen("Subject: x\r\n\r\n.one\r\ntwo.\r\n"
					       ".\r\nend\r\n"));
		assert_memory_equal(o.buf,
				    "Subject: x\r\n\r\n.one\r\ntwo.\r\n.\r\n"
				    "end\r\n",
				    o.len);
		assert_int_equal(d.bare, 0);
	}
}

static void test_too_large(void **state)
{
	const char *msg = "0123456789\r\n0123456789\r\n.\r\n";
	struct data_rd d;
	struct out o;

	(void)state;
	memset(&o, 0, sizeof(o));
	data_init(&d, 15);
	assert_true(feed(&d, &o, msg, strlen(msg), 3) > 0);
	assert_int_equal(d.toolarge, 1);
	assert_true(o.len <= 15);
	assert_int_equal(d.size, 24);

	memset(&o, 0, sizeof(o));
	data_init(&d, 24); /* exactly the limit is fine */
	assert_true(feed(&d, &o, msg, strlen(msg), 0) > 0);
	assert_int_equal(d.toolarge, 0);
	assert_int_equal(o.len, 24);
}

static void test_sink_failure_latched(void **state)
{
	const char *msg = "aaaa\r\nbbbb\r\ncccc\r\n.\r\n";
	struct data_rd d;
	struct out o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.fail_after = 8;
	data_init(&d, 1000);
	assert_true(feed(&d, &o, msg, strlen(msg), 2) > 0);
	assert_int_equal(d.sink_failed, 1);
	assert_true(o.len <= 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_every_chunking),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_sink_failure_latched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
