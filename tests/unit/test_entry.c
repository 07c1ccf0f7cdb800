/* test_entry.c - the spool entry format: write then read back, the
 * message found through X-Spool-Data-Offset (version 1 entries by the
 * shape of the Received header), and the reader refusing anything that
 * is not our envelope */
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
	char field[64];

	base(&env, r, n);
	assert_int_equal(entry_format(&b, &env), 0);
	/* the offset is filled in: the message starts where it says */
	assert_int_equal(env.data_off, b.len);
	snprintf(field, sizeof(field), "\r\nX-Spool-Data-Offset: %010zu\r\n",
		 b.len);
	assert_memory_equal(b.p + env.received_off - strlen(field), field,
			    strlen(field));
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
	assert_non_null(strstr(text, "X-Spool-Size: 00000000000000000007\r\n"
				     "X-Spool-Data-Offset: 0000000"));
	assert_non_null(strstr(text, "X-Spool-Version: 2\r\n"));
	free(text);
	buf_free(&b);
}

/* SMTPUTF8: the field only when used, read back; absent reads as 0;
 * any other value, or twice, is refused */
static void test_smtputf8_field(void **state)
{
	static char *u[] = {"j\xc3\xb6rg@b\xc3\xbc" "cher.example"};
	struct buf b = {NULL, 0, 0, 1 << 20};
	struct envelope env, got;
	const char *err;
	char *text, *at;

	(void)state;
	base(&env, u, 1);
	env.protocol = "UTF8SMTPS";
	env.smtputf8 = 1;
	assert_int_equal(entry_format(&b, &env), 0);
	text = strndup(b.p, b.len);
	assert_non_null(strstr(text, "X-Spool-Body: 8BITMIME\r\n"
				     "X-Spool-SMTPUTF8: yes\r\n"
				     "X-Spool-Size: "));
	assert_non_null(strstr(text, "\tby mx.test with UTF8SMTPS (TLS1.3"));
	assert_non_null(strstr(text, "for <j\xc3\xb6rg@b\xc3\xbc" "cher."));
	assert_int_equal(entry_parse(b.p, b.len, &got, &err), 0);
	assert_int_equal(got.smtputf8, 1);
	assert_string_equal(got.protocol, "UTF8SMTPS");
	assert_string_equal(got.rcpts[0], u[0]);
	entry_free(&got);
	at = strstr(text, "SMTPUTF8: yes");
	memcpy(at + 10, "no!", 3);
	assert_int_equal(entry_parse(text, b.len, &got, &err), -1);
	assert_string_equal(err, "bad X-Spool-SMTPUTF8");
	free(text);
	buf_free(&b);
	base(&env, one, 1);
	assert_int_equal(entry_format(&b, &env), 0);
	text = strndup(b.p, b.len);
	assert_null(strstr(text, "SMTPUTF8"));
	assert_int_equal(entry_parse(b.p, b.len, &got, &err), 0);
	assert_int_equal(got.smtputf8, 0);
	entry_free(&got);
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

/* version 1: no X-Spool-Data-Offset, the Received header's shape says
 * where the message starts (entries written before version 2) */
#define V1_HEAD                                                               \
	"X-Spool-Version: 1\r\nX-Spool-Queue-Id: Q\r\nX-Spool-Time: 1\r\n"    \
	"X-Spool-Host: h\r\nX-Spool-Sender: <>\r\n"                           \
	"X-Spool-Recipient: <a@b>\r\nX-Spool-Client: 1.2.3.4 port 5\r\n"      \
	"X-Spool-Helo: h\r\nX-Spool-Protocol: ESMTP\r\nX-Spool-TLS: none\r\n" \
	"X-Spool-Body: 7BIT\r\n"
#define V1_TAIL                                                              \
	"X-Spool-Size: 00000000000000000003\r\nReceived: from h\r\n\tby h\r\n" \
	"\tfor <a@b>; date\r\nx\r\n"

static const struct bad bads[] = {
	{V1_HEAD V1_TAIL, NULL},
	{"Subject: x\r\n" V1_HEAD V1_TAIL, "unexpected line"},
	{V1_HEAD "X-Spool-Extra: 1\r\n" V1_TAIL, "unknown or repeated"},
	{V1_HEAD "X-Spool-Helo: again\r\n" V1_TAIL, "unknown or repeated"},
	{V1_HEAD "X-Spool-Recipient: a@b\r\n" V1_TAIL, "Recipient"},
	{V1_HEAD "X-Spool-Size: 3\n" V1_TAIL, "CRLF"},
	{"X-Spool-Version: 3\r\n" V1_TAIL, "version"},
	{"X-Spool-Version: 0\r\n" V1_TAIL, "version"},
	{V1_HEAD "Received: from h\r\n", "not complete"},
	{V1_HEAD "X-Spool-Size: 1\r\n", "no Received"},
	{"X-Spool-Version: 1\r\nReceived: from h\r\n\tby h\r\n\tfor x\r\n",
	 "missing"},
	/* the offset field belongs to version 2 */
	{V1_HEAD "X-Spool-Data-Offset: 0000000350\r\n" V1_TAIL, "version 1"},
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
			/* version 1: after the three Received lines */
			assert_string_equal(bads[i].text + env.data_off,
					    "x\r\n");
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

/* version 2 cases: "OOOOOOOOOO" becomes the offset of the '^' (which is
 * removed); explicit digits stay as they are */
#define V2_HEAD                                                               \
	"X-Spool-Version: 2\r\nX-Spool-Queue-Id: Q\r\nX-Spool-Time: 1\r\n"    \
	"X-Spool-Host: h\r\nX-Spool-Sender: <>\r\n"                           \
	"X-Spool-Recipient: <a@b>\r\nX-Spool-Client: 1.2.3.4 port 5\r\n"      \
	"X-Spool-Helo: h\r\nX-Spool-Protocol: ESMTP\r\nX-Spool-TLS: none\r\n" \
	"X-Spool-Body: 7BIT\r\nX-Spool-Size: 00000000000000000003\r\n"
#define V2_OFF "X-Spool-Data-Offset: OOOOOOOOOO\r\n"
#define V2_REC "Received: from h\r\n\tby h\r\n\tfor <a@b>; date\r\n"

struct v2case {
	const char *text;
	const char *why; /* NULL: parses, the message starts at '^' */
	const char *msg;
};

static const struct v2case v2s[] = {
	{V2_HEAD V2_OFF V2_REC "^x\r\n", NULL, "x\r\n"},
	/* a message that starts with white space is the client's: version 1
	 * relied on the "for" line being there to tell */
	{V2_HEAD V2_OFF V2_REC "^\tfolded\r\n\r\nbody\r\n", NULL,
	 "\tfolded\r\n\r\nbody\r\n"},
	{V2_HEAD V2_OFF V2_REC "^ x\r\n", NULL, " x\r\n"},
	/* another shape of Received header: the offset still says */
	{V2_HEAD V2_OFF "Received: from h; date\r\n^\tx\r\n", NULL, "\tx\r\n"},
	{V2_HEAD V2_OFF "Received: from h\r\n by h\r\n\tid Q\r\n\tfor <a@b>;"
			" date\r\n^x",
	 NULL, "x"},
	{V2_HEAD V2_OFF V2_REC "^", NULL, ""},
	/* offsets that are not the end of our header */
	{V2_HEAD "X-Spool-Data-Offset: 0000000010\r\n" V2_REC "x\r\n",
	 "not the end", NULL},
	{V2_HEAD "X-Spool-Data-Offset: 0000000000\r\n" V2_REC "x\r\n",
	 "not the end", NULL},
	{V2_HEAD V2_OFF "Received: from h\r\n\tby^ h\r\n\tfor <a@b>; date\r\n",
	 "not the end", NULL},
	{V2_HEAD V2_OFF "Received: from h\r\n\tby h\r\n^\tfor <a@b>\r\n",
	 NULL, "\tfor <a@b>\r\n"},
	{V2_HEAD V2_OFF "Received: from h\r\nX: y\r\n^z\r\n", "not the end",
	 NULL},
	{V2_HEAD V2_OFF "Received: from h\r\n\tby h\n^x\r\n", "not the end",
	 NULL},
	{V2_HEAD "X-Spool-Data-Offset: 0000009999\r\n" V2_REC "x\r\n",
	 "not complete", NULL},
	/* the field itself */
	{V2_HEAD V2_REC "x\r\n", "missing", NULL},
	{V2_HEAD "X-Spool-Data-Offset: 00000000x1\r\n" V2_REC "x\r\n",
	 "bad X-Spool-Data-Offset", NULL},
	{V2_HEAD "X-Spool-Data-Offset: \r\n" V2_REC "x\r\n",
	 "X-Spool-Data-Offset", NULL},
	{V2_HEAD "X-Spool-Data-Offset: 99999999999999999999999\r\n" V2_REC,
	 "bad X-Spool-Data-Offset", NULL},
	{V2_HEAD V2_OFF V2_OFF V2_REC "^x\r\n", "unknown or repeated", NULL},
};

/* v2_text - the case's text with the offset filled in; its length */
static size_t v2_text(const char *t, char *out, size_t size)
{
	const char *caret = strchr(t, '^');
	char *o;
	size_t n = strlen(t);

	assert_true(n < size);
	if (caret) {
		memcpy(out, t, (size_t)(caret - t));
		memcpy(out + (caret - t), caret + 1, n - (size_t)(caret - t));
		n--;
	} else {
		memcpy(out, t, n + 1);
	}
	o = strstr(out, "OOOOOOOOOO");
	if (o) {
		char d[11];

		assert_non_null(caret);
		snprintf(d, sizeof(d), "%010zu", (size_t)(caret - t));
		memcpy(o, d, 10);
	}
	return n;
}

static void test_parse_v2(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v2s) / sizeof(v2s[0]); i++) {
		struct envelope env;
		const char *err = NULL;
		char text[2048];
		size_t n = v2_text(v2s[i].text, text, sizeof(text));
		int r = entry_parse(text, n, &env, &err);

		if (!v2s[i].why) {
			if (r != 0)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(env.data_off, n - strlen(v2s[i].msg));
			assert_string_equal(text + env.data_off, v2s[i].msg);
			assert_memory_equal(text + env.received_off,
					    "Received: ", 10);
			entry_free(&env);
			continue;
		}
		if (r == 0)
			fail_msg("case %zu parsed", i);
		if (!strcasestr(err, v2s[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 v2s[i].why);
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
		cmocka_unit_test(test_smtputf8_field),
		cmocka_unit_test(test_received_trace),
		cmocka_unit_test(test_format_refuses_controls),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_v2),
		cmocka_unit_test(test_util),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
