/* test_frame.c - the command-line framer: the same lines and the same
 * overlong-line answers whether the input comes in one read, split at
 * any byte, or one byte per read */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "frame.h"

#define A10 "AAAAAAAAAA"

struct fcase {
	size_t max;
	const char *in;
	const char *want; /* "L:line|" per line, "T|" per overlong line */
};

static const struct fcase cases[] = {
	{16, "HELO a\r\nQUIT\r\n", "L:HELO a\r|L:QUIT\r|"},
	/* a bare LF ends a command too; the CR stays for session.c */
	{16, "HELO a\nQUIT\n", "L:HELO a|L:QUIT|"},
	{16, "HELO a\r\nNOOP\nQUIT\r\n", "L:HELO a\r|L:NOOP|L:QUIT\r|"},
	/* a CR alone ends nothing */
	{16, "A\rB\r\nC\r\r\n", "L:A\rB\r|L:C\r\r|"},
	{16, "\r\n\n", "L:\r|L:|"},
	/* the limit counts CRLF: 14 + CRLF fits in 16, 15 + CRLF not */
	{16, "B" "BBBBBBBBBBBBB\r\nQUIT\r\n", "L:BBBBBBBBBBBBBB\r|L:QUIT\r|"},
	{16, "BB" "BBBBBBBBBBBBB\r\nQUIT\r\n", "T|L:QUIT\r|"},
	/* a bare LF counts as if it were CRLF */
	{16, "BBBBBBBBBBBBBB\nQUIT\n", "L:BBBBBBBBBBBBBB|L:QUIT|"},
	{16, "BBBBBBBBBBBBBBB\nQUIT\n", "T|L:QUIT|"},
	/* an overlong line is answered once, its tail never a command */
	{16, A10 A10 "QUIT\r\nNOOP\r\n", "T|L:NOOP\r|"},
	{16, A10 A10 A10 A10 "\r\nQUIT\r\n" A10 A10 "\nX\n",
	 "T|L:QUIT\r|T|L:X|"},
	{16, A10 "\r\n" A10 A10 "\n" A10 A10 "\n", "L:" A10 "\r|T|T|"},
	/* the end of input in an overlong line: one answer, nothing else */
	{16, A10 A10 A10, "T|"},
	/* the end of input in a line: nothing yet */
	{16, "QUIT", ""},
	{512, "EHLO x\r\nMAIL FROM:<a@b>\r\n",
	 "L:EHLO x\r|L:MAIL FROM:<a@b>\r|"},
};

/* drive - feed in, cut at the offsets in cuts (ascending, ncuts of
 * them), into out; the way run.c reads: more input only on FRAME_MORE */
static void drive(const struct fcase *c, const size_t *cuts, size_t ncuts,
                  char *out, size_t outsize)
{
	char buf[256];
	size_t inlen = strlen(c->in), start = 0, end = 0, next = 0, o = 0;
	struct frame f;

	assert_true(inlen <= sizeof(buf));
	frame_init(&f, c->max);
	out[0] = '\0';
	for (;;) {
		const char *line = NULL;
		size_t used = (size_t)-1, len = 0, upto;
		enum frame_res r = frame_next(&f, buf + start, end - start,
					      &used, &line, &len);

		assert_true(used <= end - start);
		start += used;
		if (r == FRAME_LINE) {
			assert_true(line >= buf && line + len < buf + start);
			assert_int_equal(line[len], '\n');
			o += (size_t)snprintf(out + o, outsize - o, "L:%.*s|",
					      (int)len, line);
		} else if (r == FRAME_TOOLONG) {
			o += (size_t)snprintf(out + o, outsize - o, "T|");
		} else {
			/* nothing left that could be a line: all used, or
			 * less than a line's worth without its LF */
			assert_null(memchr(buf + start, '\n', end - start));
			if (end == inlen)
				break;
			upto = next < ncuts ? cuts[next++] : inlen;
			memcpy(buf + end, c->in + end, upto - end);
			end = upto;
		}
		assert_true(o < outsize);
	}
}

static void check(const struct fcase *c, const size_t *cuts, size_t ncuts,
                  const char *how)
{
	char out[1024];

	drive(c, cuts, ncuts, out, sizeof(out));
	if (strcmp(out, c->want))
		fail_msg("max %zu, \"%s\" %s:\n got  \"%s\"\n want \"%s\"",
			 c->max, c->in, how, out, c->want);
}

static void test_whole(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i], NULL, 0, "in one read");
}

static void test_split_at_every_byte(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (k = 1; k < strlen(cases[i].in); k++) {
			char how[64];

			snprintf(how, sizeof(how), "split at %zu", k);
			check(&cases[i], &k, 1, how);
		}
}

static void test_one_byte_per_read(void **state)
{
	size_t i, k, cuts[256];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);

		for (k = 1; k < n; k++)
			cuts[k - 1] = k;
		check(&cases[i], cuts, n ? n - 1 : 0, "a byte per read");
	}
}

static void test_nul_and_used(void **state)
{
	static const char in[] = "A\0B\r\nQU";
	struct frame f;
	const char *line;
	size_t used, len;

	(void)state;
	frame_init(&f, 512);
	/* a NUL is an ordinary byte here; session.c refuses it */
	assert_int_equal(
		frame_next(&f, in, sizeof(in) - 1, &used, &line, &len),
		FRAME_LINE);
	assert_ptr_equal(line, in);
	assert_int_equal(len, 4);
	assert_int_equal(used, 5);
	/* a partial line is left where it is, for the next read */
	assert_int_equal(frame_next(&f, in + 5, 2, &used, &line, &len),
			 FRAME_MORE);
	assert_int_equal(used, 0);
	/* the overlong answer comes when max bytes are in view */
	frame_init(&f, 512);
	{
		char big[600];

		memset(big, 'x', sizeof(big));
		assert_int_equal(frame_next(&f, big, 511, &used, &line, &len),
				 FRAME_MORE);
		assert_int_equal(used, 0);
		assert_int_equal(frame_next(&f, big, 512, &used, &line, &len),
				 FRAME_TOOLONG);
		assert_int_equal(used, 512);
		assert_int_equal(frame_next(&f, big, 88, &used, &line, &len),
				 FRAME_MORE);
		assert_int_equal(used, 88);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_split_at_every_byte),
		cmocka_unit_test(test_one_byte_per_read),
		cmocka_unit_test(test_nul_and_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
