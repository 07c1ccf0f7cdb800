/* test_bdat.c - CHUNKING (bdat.c): the size grammar, the chunk counter
 * (exact sizes, bare CR/LF across chunks, BINARYMIME's header rule,
 * max_size) and the session side (states, replies after the chunk, the
 * failed transaction's later chunks) */
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
		       "\"max_size\": 10, \"max_errors\": 100}]}");
}

static void test_parse(void **state)
{
	static const struct {
		const char *arg;
		int ok;
		unsigned long long n;
		int last;
	} t[] = {
		{"0", 1, 0, 0},
		{"0 LAST", 1, 0, 1},
		{"12 last", 1, 12, 1},
		{"007\t \tLaSt", 1, 7, 1},
		{"4611686018427387904", 1, 1ULL << 62, 0},
		{"4611686018427387905", 0, 0, 0},
		{"99999999999999999999999", 0, 0, 0},
		{"", 0, 0, 0},
		{"LAST", 0, 0, 0},
		{"-1", 0, 0, 0},
		{"+1", 0, 0, 0},
		{"1x", 0, 0, 0},
		{"1 LASTX", 0, 0, 0},
		{"1 LAST LAST", 0, 0, 0},
		{"1 2", 0, 0, 0},
		{"0x10", 0, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned long long n = 99;
		int last = 9;
		int r = bdat_parse(t[i].arg, strlen(t[i].arg), &n, &last);

		if ((r == 0) != t[i].ok)
			fail_msg("\"%s\": %d", t[i].arg, r);
		if (r == 0 && (n != t[i].n || last != t[i].last))
			fail_msg("\"%s\": %llu %d", t[i].arg, n, last);
	}
}

struct out {
	char p[256];
	size_t len;
	int fail;
};

static int sink(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (o->fail)
		return -1;
	assert_true(o->len + n <= sizeof(o->p));
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

/* run - the chunks through one reader, in 1-octet reads; returns bare,
 * with the octets in o */
static int run(int binary, const char *const *chunks, size_t nc,
               struct out *o)
{
	struct bdat_rd b;
	size_t i, j;

	memset(o, 0, sizeof(*o));
	bdat_init(&b, 1000, binary);
	for (i = 0; i < nc; i++) {
		size_t n = strlen(chunks[i]);

		bdat_chunk(&b, n, 0);
		for (j = 0; j < n; j++)
			assert_int_equal(
				bdat_feed(&b, chunks[i] + j, 1, sink, o), 1);
		assert_int_equal(b.left, 0);
	}
	bdat_finish(&b);
	assert_int_equal(b.size, (long long)o->len);
	return b.bare;
}

static void test_bare(void **state)
{
	static const char *const crlf_split[] = {"a: b\r", "\nbody\r\n"};
	static const char *const lf[] = {"a: b\n", "\r\n"};
	static const char *const cr_end[] = {"a: b\r\n\r\nx\r"};
	static const char *const cr_mid[] = {"a\r", "b\r\n"};
	static const char *const bin_body[] = {"a: b\r\n", "\r\n\n\r\x01"};
	static const char *const bin_hdr[] = {"a: b\n\r\n\r\n"};
	static const char *const bin_empty_hdr[] = {"\r\n\n\r"};
	static const char *const dots[] = {".\r\n..\r\n", ".\r\n"};
	struct out o;

	(void)state;
	assert_int_equal(run(0, crlf_split, 2, &o), 0);
	assert_int_equal(o.len, 12);
	assert_int_equal(run(0, lf, 2, &o), 1);
	assert_int_equal(run(0, cr_end, 1, &o), 1);
	assert_int_equal(run(1, cr_end, 1, &o), 0); /* in the body */
	assert_int_equal(run(0, cr_mid, 2, &o), 1);
	assert_int_equal(run(1, cr_mid, 2, &o), 1); /* still a header */
	assert_int_equal(run(1, bin_body, 2, &o), 0);
	assert_int_equal(run(0, bin_body, 2, &o), 1);
	assert_int_equal(run(1, bin_hdr, 1, &o), 1);
	assert_int_equal(run(1, bin_empty_hdr, 1, &o), 0);
	/* dots are data */
	assert_int_equal(run(0, dots, 2, &o), 0);
	assert_int_equal(o.len, 10);
	assert_memory_equal(o.p, ".\r\n..\r\n.\r\n", 10);
}

static void test_exact_and_max(void **state)
{
	struct bdat_rd b;
	struct out o;
	const char *in = "12345BDAT 1\r\n";

	(void)state;
	memset(&o, 0, sizeof(o));
	bdat_init(&b, 7, 0);
	bdat_chunk(&b, 5, 0);
	/* a chunk takes exactly its size: the next command is left */
	assert_int_equal(bdat_feed(&b, in, strlen(in), sink, &o), 5);
	assert_int_equal(b.left, 0);
	assert_false(b.toolarge);
	bdat_chunk(&b, 3, 0);
	assert_int_equal(bdat_feed(&b, "678", 3, sink, &o), 3);
	assert_true(b.toolarge);
	assert_int_equal(b.size, 8);
	assert_int_equal(o.len, 5); /* nothing past max */
	/* a dropped chunk is read, not counted, not emitted */
	bdat_chunk(&b, 4, 1);
	assert_int_equal(bdat_feed(&b, "abcd", 4, sink, &o), 4);
	assert_int_equal(b.size, 8);
	assert_int_equal(b.chunks, 2);
	/* a failing sink latches */
	bdat_init(&b, 100, 0);
	o.fail = 1;
	bdat_chunk(&b, 2, 0);
	assert_int_equal(bdat_feed(&b, "ab", 2, sink, &o), 2);
	assert_true(b.sink_failed);
}

/* line - feed one command line */
static enum session_action line(struct session *s, const char *l)
{
	return session_feed_line(s, l, strlen(l));
}

/* last_reply - the last queued line, then clear */
static void last_reply(struct session *s, const char *want)
{
	char buf[4096], *p;
	size_t n = s->out.len;

	assert_true(n >= 2 && n < sizeof(buf));
	memcpy(buf, s->out.p, n);
	buf[n - 2] = '\0';
	s->out.len = 0;
	p = strrchr(buf, '\n');
	p = p ? p + 1 : buf;
	if (strncmp(p, want, strlen(want)))
		fail_msg("got \"%s\", want \"%s\"", p, want);
}

/* chunk - a BDAT the session accepted: its octets, then its end */
static int chunk(struct session *s, const char *data, enum reply_id err)
{
	size_t n = strlen(data);

	if (s->bdat.take && s->bdat.first)
		bdat_opened(s, 1, R_OKAY);
	bdat_chunk(&s->bdat.rd, s->bdat.n, !s->bdat.take);
	assert_int_equal(s->bdat.n, n);
	assert_int_equal(bdat_feed(&s->bdat.rd, data, n, sink,
				   &(struct out){0}),
			 n);
	return bdat_chunk_end(s, err);
}

static void test_session(void **state)
{
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1);
	/* before HELO: the chunk is read, then 503 */
	assert_int_equal(line(&s, "BDAT 2"), ACT_BDAT);
	assert_int_equal(s.out.len, 0);
	assert_int_equal(chunk(&s, "ab", R_OKAY), 0);
	last_reply(&s, "503 5.5.1 Send HELO/EHLO first");
	assert_int_equal(line(&s, "EHLO c"), ACT_NONE);
	s.out.len = 0;
	assert_int_equal(line(&s, "BDAT 1 LAST"), ACT_BDAT);
	assert_int_equal(chunk(&s, "x", R_OKAY), 0);
	last_reply(&s, "503 5.5.1 Need RCPT before BDAT");
	assert_int_equal(line(&s, "BDAT x"), ACT_NONE);
	last_reply(&s, "501 5.5.4 Syntax: BDAT octets [LAST]");
	line(&s, "MAIL FROM:<a@b.example.com>");
	line(&s, "RCPT TO:<c@example.com>");
	s.out.len = 0;
	/* a message in two chunks */
	assert_int_equal(line(&s, "BDAT 3"), ACT_BDAT);
	assert_int_equal(s.state, ST_BDAT);
	assert_int_equal(chunk(&s, "abc", R_OKAY), 0);
	last_reply(&s, "250 2.0.0 OK: 3 octets received");
	assert_int_equal(line(&s, "DATA"), ACT_NONE);
	last_reply(&s, "503 5.5.1 DATA and BDAT cannot be mixed");
	assert_int_equal(line(&s, "RCPT TO:<d@example.com>"), ACT_NONE);
	last_reply(&s, "503 5.5.1 Not allowed during a BDAT");
	assert_int_equal(line(&s, "BDAT 2 LAST"), ACT_BDAT);
	assert_int_equal(chunk(&s, "de", R_OKAY), 1);
	assert_int_equal(s.bdat.rd.size, 5);
	bdat_committed(&s, R_OKAY, "Q1");
	last_reply(&s, "250 2.0.0 OK: queued as Q1");
	assert_int_equal(s.state, ST_HELO);
	assert_int_equal(s.messages, 1);
	/* over max_size (10): 552 at that chunk, the same later, counted
	 * once; then the session goes on */
	line(&s, "MAIL FROM:<a@b.example.com>");
	line(&s, "RCPT TO:<c@example.com>");
	s.out.len = 0;
	line(&s, "BDAT 8");
	assert_int_equal(chunk(&s, "12345678", R_OKAY), 0);
	last_reply(&s, "250 2.0.0 OK: 8 octets");
	line(&s, "BDAT 3");
	assert_int_equal(chunk(&s, "9ab", R_OKAY), 0);
	last_reply(&s, "552 5.3.4");
	assert_false(s.bdat.take);
	{
		unsigned errs = s.err_count;

		line(&s, "BDAT 1");
		assert_int_equal(chunk(&s, "c", R_OKAY), 0);
		last_reply(&s, "552 5.3.4");
		line(&s, "BDAT 1 LAST");
		assert_int_equal(chunk(&s, "d", R_OKAY), 0);
		last_reply(&s, "552 5.3.4");
		assert_int_equal(s.err_count, errs);
	}
	assert_int_equal(s.state, ST_HELO);
	assert_int_equal(s.tx.nrcpts, 0);
	/* a spool failure, RSET between chunks */
	line(&s, "MAIL FROM:<a@b.example.com>");
	line(&s, "RCPT TO:<c@example.com>");
	s.out.len = 0;
	line(&s, "BDAT 1");
	assert_int_equal(chunk(&s, "a", R_WRITE_FAIL), 0);
	last_reply(&s, "451 4.3.0");
	assert_int_equal(line(&s, "RSET"), ACT_NONE);
	assert_int_equal(s.state, ST_HELO);
	/* BINARYMIME: DATA refused, envelope says so */
	line(&s, "MAIL FROM:<a@b.example.com> BODY=BINARYMIME");
	line(&s, "RCPT TO:<c@example.com>");
	s.out.len = 0;
	assert_int_equal(line(&s, "DATA"), ACT_NONE);
	last_reply(&s, "503 5.5.1 BODY=BINARYMIME needs BDAT");
	{
		struct envelope env;

		session_envelope(&s, &env);
		assert_string_equal(env.body, "BINARYMIME");
	}
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_exact_and_max),
		cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests(tests, setup, fx_teardown);
}
