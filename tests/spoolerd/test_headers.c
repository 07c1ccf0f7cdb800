/* test_headers.c - HeadersParser: unfolding, RFC 2047, fields */
#include "testutil.h"
#include "hdrparse.h"

static void decode(const char *in, const char *want)
{
	char *got = hdr_decode_2047(in, strlen(in));

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void rfc2047(void **state)
{
	(void)state;
	decode("plain text", "plain text");
	decode("=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9");
	decode("=?utf-8?q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait");
	decode("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
	/* blanks between encoded words vanish (RFC 2047 6.2) */
	decode("=?utf-8?q?a?= =?utf-8?q?b?=", "ab");
	decode("=?utf-8?q?a?=  \t =?utf-8?q?b?= c", "ab c");
	decode("x =?utf-8?q?a?=", "x a");
	/* RFC 2231 language suffix */
	decode("=?utf-8*en?q?hi?=", "hi");
	/* broken words are kept as written */
	decode("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	decode("=?utf-8?q?abc", "=?utf-8?q?abc");
	decode("=?no-such-charset?q?abc?=", "=?no-such-charset?q?abc?=");
	decode("=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?=");
	decode("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?=");
	/* the whole base64 alphabet, lower-case hex in Q */
	decode("=?utf-8?B?Pj4+Pz8/?=", ">>>???");
	decode("=?UTF8?b?QUJDeHl6MDEy?=", "ABCxyz012");
	decode("=?us-ascii?q?a=3d=3Fb?=", "a=?b");
	/* no charset, no second "?", a charset iconv cannot convert */
	decode("=??q?abc?=", "=??q?abc?=");
	decode("=?utf-8 x", "=?utf-8 x");
	decode("=?utf-16?b?QUJD?=", "=?utf-16?b?QUJD?=");
}

static void fields(void **state)
{
	const char *h = "Received: x\r\n"
			"Subject: first\r\n part\r\n"
			"subject: second\r\n"
			"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n"
			"To: a@example.com,\r\n\tb@example.com\r\n"
			"Message-ID:   <id@x>  \r\n"
			"Content-Type: Multipart/Mixed; boundary=\"b\";\r\n"
			" charset=\"UTF-8\"\r\n"
			"\r\n"
			"Subject: in the body\r\n";
	struct msg_headers m;
	(void)state;

	memset(&m, 0, sizeof(m));
	assert_int_equal(hdr_parse(&m, h, strlen(h)), 0);
	assert_string_equal(m.subject, "first part");
	assert_string_equal(m.from, "J\xc3\xb6rg <j@example.org>");
	assert_string_equal(m.to, "a@example.com,\tb@example.com");
	assert_string_equal(m.message_id, "<id@x>");
	assert_string_equal(m.content_type, "multipart/mixed");
	assert_string_equal(m.charset, "utf-8");
	assert_true(m.has_attachment);
	free(m.subject);
	free(m.from);
	free(m.to);
	free(m.message_id);
	free(m.content_type);
	free(m.charset);
}

static void disposition(void **state)
{
	static const struct {
		const char *h;
		int att;
	} t[] = {
	    {"Content-Disposition:  \tAttachment; filename=a\r\n\r\n", 1},
	    {"Content-Disposition: inline\r\n\r\n", 0},
	    {"Content-Disposition: attach\r\n\r\n", 0},
	    {"Content-Disposition:\r\n\r\n", 0},
	};
	struct msg_headers m;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&m, 0, sizeof(m));
		assert_int_equal(hdr_parse(&m, t[i].h, strlen(t[i].h)), 0);
		assert_int_equal(m.has_attachment, t[i].att);
	}
}

/* processor - the HeadersParser step reads the header from the entry
 * once; an entry shorter than it says still parses what is there */
static void processor(void **state)
{
	char *d = tu_tmpdir(), ep[512], why[256];
	const char *rcpts[] = {"u@example.com"};
	struct cfg *c = tu_cfg("{}");
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/entry", d);
	tu_entry(ep, "1.M1P1Q1", "s@x.org", rcpts, 1,
		 "Subject: one\r\n\r\nbody\r\n", &m, c);
	assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
						    sizeof(why)),
			 PROC_OK);
	assert_string_equal(msg_headers(&m)->subject, "one");
	/* parsed once: a second run changes nothing */
	assert_int_equal(pwrite(m.fd, "Subject: two", 12,
				(off_t)m.env.data_off),
			 12);
	assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
						    sizeof(why)),
			 PROC_OK);
	assert_string_equal(msg_headers(&m)->subject, "one");
	/* the file is shorter than its size: what is there */
	msg_free_parts(&m);
	m.rcpt = calloc(1, sizeof(*m.rcpt));
	m.file_size += 100;
	assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
						    sizeof(why)),
			 PROC_OK);
	assert_string_equal(msg_headers(&m)->subject, "two");
	/* nothing after the envelope at all */
	msg_free_parts(&m);
	m.rcpt = calloc(1, sizeof(*m.rcpt));
	m.file_size = (off_t)m.env.data_off - 1;
	assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
						    sizeof(why)),
			 PROC_OK);
	assert_null(msg_headers(&m)->subject);
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void hostile(void **state)
{
	struct msg_headers m;
	char *big = malloc(100000);
	(void)state;

	/* no colon, no end, a huge folded field: bounded, no crash */
	memset(big, 'a', 100000);
	memcpy(big, "Subject: ", 9);
	memset(&m, 0, sizeof(m));
	assert_int_equal(hdr_parse(&m, big, 100000), 0);
	assert_non_null(m.subject);
	assert_true(strlen(m.subject) <= 4096);
	free(m.subject);
	memset(&m, 0, sizeof(m));
	assert_int_equal(hdr_parse(&m, "garbage\r\nno colon", 17), 0);
	assert_null(m.subject);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc2047),
		cmocka_unit_test(fields),
		cmocka_unit_test(hostile),
		cmocka_unit_test(disposition),
		cmocka_unit_test(processor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
