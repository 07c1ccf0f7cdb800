/* test_session.c - the protocol core, table-driven: lines in, the reply
 * codes and states out (no I/O: session.c is pure) */
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
	return fx_load("{\"allowed_hosts\": [\"example.com\", "
		       "\"*.example.org\"],"
		       "\"servers\": [{\"host_name\": \"mx.test\", "
		       "\"max_size\": 1000, \"max_recipients\": 3, "
		       "\"max_unrecognized_commands\": 3}]}");
}

/* take - the final line of what was queued, then clear */
static void take(struct session *s, char *out, size_t size)
{
	size_t n = s->out.len;
	char *p;

	assert_true(n >= 2 && n < size);
	memcpy(out, s->out.p, n);
	out[n] = '\0';
	s->out.len = 0;
	/* keep only the last line */
	out[n - 2] = '\0';
	p = strrchr(out, '\n');
	if (p)
		memmove(out, p + 1, strlen(p + 1) + 1);
}

struct step {
	const char *line;
	const char *reply; /* prefix of the last reply line */
	enum session_action act;
	enum session_state st;
};

static void play(const struct step *steps, size_t n, struct session *s)
{
	size_t i;
	char got[4096];

	for (i = 0; i < n; i++) {
		enum session_action a = session_feed_line(
			s, steps[i].line, strlen(steps[i].line));

		if (a != steps[i].act)
			fail_msg("step %zu \"%s\": action %d, want %d", i,
				 steps[i].line, a, steps[i].act);
		if (steps[i].reply) {
			take(s, got, sizeof(got));
			if (strncmp(got, steps[i].reply,
				    strlen(steps[i].reply)))
				fail_msg("step %zu \"%s\": got \"%s\", want "
					 "\"%s\"",
					 i, steps[i].line, got, steps[i].reply);
		} else {
			assert_int_equal(s->out.len, 0);
		}
		if (s->state != steps[i].st)
			fail_msg("step %zu \"%s\": state %d, want %d", i,
				 steps[i].line, s->state, steps[i].st);
	}
}

#define PLAY(steps, s) play(steps, sizeof(steps) / sizeof(steps[0]), s)

static void test_transaction(void **state)
{
	static const struct step steps[] = {
		{"NOOP", "250 2.0.0", ACT_NONE, ST_CONNECTED},
		{"MAIL FROM:<a@b.c>", "503 5.5.1", ACT_NONE, ST_CONNECTED},
		{"EHLO client.test\r", "250 HELP", ACT_NONE, ST_HELO},
		{"RCPT TO:<x@example.com>", "503 5.5.1", ACT_NONE, ST_HELO},
		{"DATA", "503 5.5.1", ACT_NONE, ST_HELO},
		{"mail from:<a@b.c> SIZE=999 BODY=8BITMIME", "250 2.1.0",
		 ACT_NONE, ST_MAIL},
		{"MAIL FROM:<a@b.c>", "503 5.5.1", ACT_NONE, ST_MAIL},
		{"DATA", "503 5.5.1", ACT_NONE, ST_MAIL},
		{"RCPT TO:<x@elsewhere.com>", "554 5.7.1", ACT_NONE, ST_MAIL},
		{"DATA", "554 5.5.1", ACT_NONE, ST_MAIL},
		{"RCPT TO:<x@EXAMPLE.COM>", "250 2.1.5", ACT_NONE, ST_RCPT},
		{"RCPT TO:<y@deep.sub.example.org>", "250 2.1.5", ACT_NONE,
		 ST_RCPT},
		{"RCPT TO:<y@example.org>", "554 5.7.1", ACT_NONE, ST_RCPT},
		{"RCPT TO:<Postmaster>", "250 2.1.5", ACT_NONE, ST_RCPT},
		{"RCPT TO:<z@example.com>", "452 4.5.3", ACT_NONE, ST_RCPT},
		{"RCPT TO:<bob>", "501 5.1.3", ACT_NONE, ST_RCPT},
		{"RCPT TO:<z@example.com> NOTIFY=NEVER", "555 5.5.4", ACT_NONE,
		 ST_RCPT},
		{"DATA extra", "501 5.5.4", ACT_NONE, ST_RCPT},
		{"DATA", NULL, ACT_DATA, ST_RCPT},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	assert_int_equal(s.tx.nrcpts, 3);
	assert_int_equal(s.tx.body8, 1);
	assert_string_equal(s.tx.sender, "a@b.c");
	session_free(&s);
}

static void test_mail_params(void **state)
{
	static const struct step steps[] = {
		{"HELO client.test", "250 mx.test", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b.c> SIZE=10", "555 5.5.4", ACT_NONE, ST_HELO},
		{"MAIL FROM:<>", "250 2.1.0", ACT_NONE, ST_MAIL},
		{"RSET", "250 2.0.0", ACT_NONE, ST_HELO},
		{"EHLO client.test", "250 HELP", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b.c> SIZE=1001", "552 5.3.4", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b.c> SIZE=abc", "501 5.5.4", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b.c> BODY=BINARY", "501 5.5.4", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<a@b.c> SMTPUTF8=yes", "501 5.5.4", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<a@b.c", "501 5.1.7", ACT_NONE, ST_HELO},
		{"MAIL FROM:<postmaster>", "501 5.1.7", ACT_NONE, ST_HELO},
		{"MAIL TO:<a@b.c>", "501 5.5.4", ACT_NONE, ST_HELO},
		{"MAIL", "501 5.5.4", ACT_NONE, ST_HELO},
		{"MAIL FROM: <a@b.c> BODY=7BIT", "250 2.1.0", ACT_NONE,
		 ST_MAIL},
		{"RCPT TO:<>", "501 5.1.3", ACT_NONE, ST_MAIL},
		{"RCPT TO:", "501 5.1.3", ACT_NONE, ST_MAIL},
		{"RCPT <x@example.com>", "501 5.5.4", ACT_NONE, ST_MAIL},
		{"HELO again", "250 mx.test", ACT_NONE, ST_HELO},
		{"RCPT TO:<x@example.com>", "503 5.5.1", ACT_NONE, ST_HELO},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	session_free(&s);
}

static void test_misc_commands(void **state)
{
	static const struct step steps[] = {
		{"HELO", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"EHLO bad name", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"VRFY someone", "252 2.5.2", ACT_NONE, ST_CONNECTED},
		{"VRFY", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"HELP", "214 2.0.0", ACT_NONE, ST_CONNECTED},
		{"NOOP anything", "250 2.0.0", ACT_NONE, ST_CONNECTED},
		{"EXPN list", "502 5.5.1", ACT_NONE, ST_CONNECTED},
		{"STARTTLS", "502 5.5.1", ACT_NONE, ST_CONNECTED},
		{"RSET", "250 2.0.0", ACT_NONE, ST_CONNECTED},
		{"QUIT now", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"quit", "221 2.0.0", ACT_CLOSE, ST_QUIT},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	assert_int_equal(s.end, END_QUIT);
	session_free(&s);
}

/* max_unrecognized_commands is 3 here: the third one closes */
static void test_error_limit(void **state)
{
	static const struct step steps[] = {
		{"BOGUS", "500 5.5.1", ACT_NONE, ST_CONNECTED},
		{"EHLO\x01x", "500 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO ok.test", "250 HELP", ACT_NONE, ST_HELO},
		{"XYZZY", "421 4.7.0", ACT_CLOSE, ST_QUIT},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	assert_int_equal(s.end, END_ERRORS);
	session_free(&s);
}

static void test_nul_in_command(void **state)
{
	struct session s;
	char got[512];

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	assert_int_equal(session_feed_line(&s, "HELO a\0b", 8), ACT_NONE);
	take(&s, got, sizeof(got));
	assert_string_equal(got, "500 5.5.2 Invalid characters in command");
	assert_int_equal(s.state, ST_CONNECTED);
	assert_int_equal(session_line_too_long(&s), ACT_NONE);
	take(&s, got, sizeof(got));
	assert_string_equal(got, "500 5.5.2 Line too long");
	session_free(&s);
}

static void test_ehlo_advertises(void **state)
{
	struct session s;
	char *text;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	session_feed_line(&s, "EHLO c.test", 11);
	text = strndup(s.out.p, s.out.len);
	assert_non_null(strstr(text, "250-mx.test"));
	assert_non_null(strstr(text, "\r\n250-SIZE 1000\r\n"));
	assert_non_null(strstr(text, "\r\n250-PIPELINING\r\n"));
	assert_non_null(strstr(text, "\r\n250-8BITMIME\r\n"));
	assert_non_null(strstr(text, "\r\n250-ENHANCEDSTATUSCODES\r\n"));
	assert_non_null(strstr(text, "\r\n250-SMTPUTF8\r\n"));
	assert_non_null(strstr(text, "\r\n250-LIMITS RCPTMAX=3\r\n"));
	assert_null(strstr(text, "STARTTLS"));
	assert_non_null(strstr(text, "\r\n250 HELP\r\n"));
	/* the client's name is never echoed */
	assert_null(strstr(text, "c.test"));
	free(text);
	s.out.len = 0;
	s.tls_offer = 1;
	session_feed_line(&s, "EHLO c.test", 11);
	text = strndup(s.out.p, s.out.len);
	assert_non_null(strstr(text, "\r\n250-STARTTLS\r\n"));
	free(text);
	session_free(&s);
}

static void test_data_end_and_envelope(void **state)
{
	struct session s;
	struct envelope env;
	struct data_rd d;
	char got[512];

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	session_feed_line(&s, "EHLO c.test", 11);
	session_feed_line(&s, "MAIL FROM:<a@b.c>", 17);
	session_feed_line(&s, "RCPT TO:<x@example.com>", 23);
	s.out.len = 0;
	session_envelope(&s, &env);
	assert_string_equal(env.sender, "a@b.c");
	assert_int_equal(env.nrcpts, 1);
	assert_string_equal(env.rcpts[0], "x@example.com");
	assert_string_equal(env.protocol, "ESMTP");
	assert_string_equal(env.helo, "c.test");
	assert_string_equal(env.client_ip, "192.0.2.1");
	session_data_start(&s, 1, R_OKAY);
	take(&s, got, sizeof(got));
	assert_string_equal(got, "354 End data with <CR><LF>.<CR><LF>");
	assert_int_equal(s.state, ST_DATA);

	data_init(&d, 1000);
	d.size = 10;
	session_data_end(&s, &d, R_OKAY, "QID1");
	take(&s, got, sizeof(got));
	assert_string_equal(got, "250 2.0.0 OK: queued as QID1");
	assert_int_equal(s.state, ST_HELO);
	assert_int_equal(s.tx.nrcpts, 0);
	assert_int_equal(s.messages, 1);

	/* each latched error, and the spool failing */
	d.toolarge = 1;
	session_data_end(&s, &d, R_WRITE_FAIL, "x");
	take(&s, got, sizeof(got));
	assert_string_equal(got, "552 5.3.4 Message size exceeds fixed limit");
	d.toolarge = 0;
	d.bare = 1;
	session_data_end(&s, &d, R_WRITE_FAIL, "x");
	take(&s, got, sizeof(got));
	assert_memory_equal(got, "550 5.6.0", 9);
	d.bare = 0;
	session_data_end(&s, &d, R_WRITE_FAIL, "x");
	take(&s, got, sizeof(got));
	assert_memory_equal(got, "451 4.3.0", 9);
	session_data_end(&s, &d, R_NO_SPACE, "x");
	take(&s, got, sizeof(got));
	assert_memory_equal(got, "452 4.3.1", 9);
	session_data_start(&s, 0, R_NO_SPACE);
	take(&s, got, sizeof(got));
	assert_memory_equal(got, "452 4.3.1", 9);
	assert_int_equal(s.messages, 1);
	session_free(&s);
}

#define UE "\xc3\xbc" /* u with diaeresis */

/* SMTPUTF8 (RFC 6531): 8-bit addresses only with the parameter and only
 * valid UTF-8; U-label domains checked as A-labels; the envelope */
static void test_smtputf8(void **state)
{
	static const struct step steps[] = {
		{"EHLO c.test", "250 HELP", ACT_NONE, ST_HELO},
		{"MAIL FROM:<j" UE "rg@b.c>", "553 5.6.7", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b" UE "cher.c>", "553 5.6.7", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<\"j" UE "rg\"@b.c>", "553 5.6.7", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<a\xc0\xaf" "b@b.c> SMTPUTF8", "501 5.1.7", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<a\xed\xa0\x80@b.c> SMTPUTF8", "501 5.1.7",
		 ACT_NONE, ST_HELO},
		{"MAIL FROM:<a\xc2\x85@b.c> SMTPUTF8", "501 5.1.7", ACT_NONE,
		 ST_HELO},
		{"MAIL FROM:<a@b.c>", "250 2.1.0", ACT_NONE, ST_MAIL},
		/* without SMTPUTF8 at MAIL a UTF-8 recipient is refused */
		{"RCPT TO:<j" UE "rg@example.com>", "553 5.6.7", ACT_NONE,
		 ST_MAIL},
		{"RSET", "250 2.0.0", ACT_NONE, ST_HELO},
		{"MAIL FROM:<j" UE "rg@b" UE "cher.c> SMTPUTF8", "250 2.1.0",
		 ACT_NONE, ST_MAIL},
		{"RCPT TO:<k" UE "@b" UE "cher.example.org>", "250 2.1.5",
		 ACT_NONE, ST_RCPT},
		{"RCPT TO:<x@B" UE "CHER.example.org>", "250 2.1.5", ACT_NONE,
		 ST_RCPT},
		{"RCPT TO:<x@b" UE "cher.example.net>", "554 5.7.1", ACT_NONE,
		 ST_RCPT},
		{"RCPT TO:<x@b\xff.example.org>", "501 5.1.3", ACT_NONE,
		 ST_RCPT},
	};
	struct session s;
	struct envelope env;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	session_envelope(&s, &env);
	assert_string_equal(env.protocol, "UTF8SMTP");
	assert_int_equal(env.smtputf8, 1);
	assert_int_equal(env.nrcpts, 2);
	assert_string_equal(env.rcpts[0], "k" UE "@b" UE "cher.example.org");
	s.tls_on = 1;
	session_envelope(&s, &env);
	assert_string_equal(env.protocol, "UTF8SMTPS");
	session_free(&s);
}

/* smtputf8 off: not advertised, the parameter unknown, 8-bit still 553;
 * helo_strict off: any printable name */
static void test_smtputf8_off(void **state)
{
	static const struct step steps[] = {
		{"EHLO <script>", "250 HELP", ACT_NONE, ST_HELO},
		{"MAIL FROM:<a@b.c> SMTPUTF8", "555 5.5.4", ACT_NONE, ST_HELO},
		{"MAIL FROM:<j" UE "rg@b.c>", "553 5.6.7", ACT_NONE, ST_HELO},
	};
	struct cfg *c = cfg_load_buf(
		"{\"allowed_hosts\": [\"example.com\"], \"servers\": "
		"[{\"host_name\": \"mx.test\", \"smtputf8\": false, "
		"\"helo_strict\": false}]}",
		NULL, NULL);
	struct session s;
	char *text;

	(void)state;
	assert_non_null(c);
	session_init(&s, c, &c->servers[0], "192.0.2.1", 1234);
	session_feed_line(&s, "EHLO c.test", 11);
	text = strndup(s.out.p, s.out.len);
	assert_null(strstr(text, "SMTPUTF8"));
	assert_non_null(strstr(text, "\r\n250-LIMITS RCPTMAX=100\r\n"));
	free(text);
	s.out.len = 0;
	PLAY(steps, &s);
	session_free(&s);
	cfg_free(c);
}

/* helo_strict (default): a domain, a literal, or a bare address */
static void test_helo_strict(void **state)
{
	static const struct step steps[] = {
		{"HELO <script>alert(1)</script>", "501 5.5.2", ACT_NONE,
		 ST_CONNECTED},
		{"EHLO a;b", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO -a.test", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO a-.test", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO a..test", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO .a.test", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO a.test..", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO [300.1.1.1]", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO [IPv6:zz]", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO [tag:x]", "501 5.5.2", ACT_NONE, ST_CONNECTED},
		{"EHLO b" UE "cher.test", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"EHLO bad name", "501 5.5.4", ACT_NONE, ST_CONNECTED},
		{"EHLO mx.example.com", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO mx.example.com.", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO localhost", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO WIN_PC-01", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO xn--bcher-kva.test", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO [192.0.2.1]", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO [IPv6:2001:db8::1]", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO 192.0.2.1", "250 HELP", ACT_NONE, ST_HELO},
		{"EHLO ::1", "250 HELP", ACT_NONE, ST_HELO},
		{"HELO c.test", "250 mx.test", ACT_NONE, ST_HELO},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	session_free(&s);
}

/* AUTH: 503 before EHLO, 502 after, never "unknown" */
static void test_auth(void **state)
{
	static const struct step steps[] = {
		{"AUTH PLAIN AGFAAGI=", "503 5.5.1 Send EHLO first; no AUTH",
		 ACT_NONE, ST_CONNECTED},
		{"EHLO c.test", "250 HELP", ACT_NONE, ST_HELO},
		{"AUTH LOGIN", "502 5.5.1 AUTH not available", ACT_NONE,
		 ST_HELO},
	};
	struct session s;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	PLAY(steps, &s);
	assert_int_equal(s.errors, 0);
	session_free(&s);
}

/* an HTTP method as the first command closes at once, with no reply;
 * later it is only an unknown command */
static void test_http_first(void **state)
{
	static const char *const reqs[] = {
		"GET / HTTP/1.1", "POST /x HTTP/1.0", "CONNECT a:25 HTTP/1.1",
		"HEAD / HTTP/1.1", "get /", "OPTIONS * HTTP/1.1",
	};
	struct session s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
		assert_int_equal(
			session_feed_line(&s, reqs[i], strlen(reqs[i])),
			ACT_CLOSE);
		assert_int_equal(s.out.len, 0);
		assert_int_equal(s.end, END_HTTP);
		session_free(&s);
	}
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	assert_int_equal(session_feed_line(&s, "NOOP", 4), ACT_NONE);
	s.out.len = 0;
	assert_int_equal(session_feed_line(&s, "GET / HTTP/1.1", 14),
			 ACT_NONE);
	assert_int_equal(s.end, END_NONE);
	session_free(&s);
}

static void test_tls_reset(void **state)
{
	static const struct step after[] = {
		{"MAIL FROM:<a@b.c>", "503 5.5.1", ACT_NONE, ST_CONNECTED},
		{"STARTTLS", "503 5.5.1", ACT_NONE, ST_CONNECTED},
		{"EHLO c.test", "250 HELP", ACT_NONE, ST_HELO},
		{"STARTTLS", "503 5.5.1", ACT_NONE, ST_HELO},
	};
	struct session s;
	struct envelope env;

	(void)state;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 1234);
	s.tls_offer = 1;
	session_feed_line(&s, "EHLO c.test", 11);
	s.out.len = 0;
	assert_int_equal(session_feed_line(&s, "STARTTLS", 8), ACT_STARTTLS);
	session_tls_done(&s, "TLS1.3 AES");
	assert_int_equal(s.state, ST_CONNECTED);
	PLAY(after, &s);
	session_feed_line(&s, "MAIL FROM:<a@b.c>", 17);
	session_feed_line(&s, "RCPT TO:<x@example.com>", 23);
	session_envelope(&s, &env);
	assert_string_equal(env.protocol, "ESMTPS");
	assert_string_equal(env.tls, "TLS1.3 AES");
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_misc_commands),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_nul_in_command),
		cmocka_unit_test(test_ehlo_advertises),
		cmocka_unit_test(test_data_end_and_envelope),
		cmocka_unit_test(test_tls_reset),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_smtputf8_off),
		cmocka_unit_test(test_helo_strict),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_http_first),
	};

	return cmocka_run_group_tests(tests, setup, fx_teardown);
}
