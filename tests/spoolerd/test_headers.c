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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
