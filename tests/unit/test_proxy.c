/* test_proxy.c - the PROXY header parser (proxy.c): every valid form,
 * every truncation of each (never a request past the header, never a
 * header before its last byte), malformed headers of each kind, the
 * byte-exact reader over a socket (the SMTP bytes after the header stay
 * unread) and its deadline; the CIDR lists (cidr.c); XCLIENT
 * (xclient.c) through the session core */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "proxy.h"
#include "session.h"
#include "xclient.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

struct good {
	const char *in;
	size_t len;
	int version, local;
	const char *src;
	unsigned sport;
};

/* v2 TCP4 192.0.2.1:40000 -> 127.0.0.1:25 */
#define V2_TCP4                                                            \
	SIG "\x21\x11\x00\x0c\xc0\x00\x02\x01\x7f\x00\x00\x01\x9c\x40\x00\x19"
/* the same with two TLVs (ALPN "smtp", NOOP 0 bytes) */
#define V2_TLV                                                             \
	SIG "\x21\x11\x00\x16\xc0\x00\x02\x01\x7f\x00\x00\x01\x9c\x40\x00\x19" \
	"\x01\x00\x04smtp\x04\x00\x00"
/* v2 TCP6 2001:db8::1:1234 -> ::1:25 */
#define V2_TCP6 SIG "\x21\x21\x00\x24" \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x04\xd2\x00\x19"
#define V2_LOCAL SIG "\x20\x00\x00\x00"
#define V2_UNSPEC SIG "\x21\x00\x00\x00"

static const struct good goods[] = {
	{"PROXY TCP4 192.0.2.1 127.0.0.1 40000 25\r\n", 0, 1, 0, "192.0.2.1",
	 40000},
	{"PROXY TCP6 2001:db8::1 ::1 1234 25\r\n", 0, 1, 0, "2001:db8::1",
	 1234},
	{"PROXY TCP6 ::ffff:192.0.2.9 ::1 0 25\r\n", 0, 1, 0, "192.0.2.9", 0},
	{"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 0, 1,
	 0, "255.255.255.255", 65535},
	{"PROXY UNKNOWN\r\n", 0, 1, 1, "", 0},
	{"PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\n", 0, 1, 1, "",
	 0},
	{V2_TCP4, sizeof(V2_TCP4) - 1, 2, 0, "192.0.2.1", 40000},
	{V2_TLV, sizeof(V2_TLV) - 1, 2, 0, "192.0.2.1", 40000},
	{V2_TCP6, sizeof(V2_TCP6) - 1, 2, 0, "2001:db8::1", 1234},
	{V2_LOCAL, sizeof(V2_LOCAL) - 1, 2, 1, "", 0},
	{V2_UNSPEC, sizeof(V2_UNSPEC) - 1, 2, 1, "", 0},
};

static size_t good_len(const struct good *g)
{
	return g->len ? g->len : strlen(g->in);
}

/* feed - scan p as the reader does: *need more each time, or what is
 * left of avail (a short read); the result, and the bytes taken in *n */
static enum proxy_res feed(const unsigned char *p, size_t avail, size_t *n,
                           struct proxy_hdr *h, const char **why)
{
	size_t need;
	enum proxy_res r;

	*n = 0;
	for (;;) {
		r = proxy_scan(p, *n, &need, h, why);
		if (r != PROXY_MORE)
			return r;
		assert_true(need > 0);
		if (*n == avail)
			return PROXY_MORE;
		*n += *n + need > avail ? avail - *n : need;
	}
}

static void test_valid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		unsigned char buf[512];
		size_t len = good_len(g), n;
		struct proxy_hdr h;
		const char *why;

		/* the SMTP bytes that follow must never be asked for */
		memcpy(buf, g->in, len);
		memcpy(buf + len, "EHLO x\r\n", 8);
		if (feed(buf, len + 8, &n, &h, &why) != PROXY_DONE)
			fail_msg("case %zu: not parsed: %s", i,
				 why ? why : "MORE");
		assert_int_equal(n, len);
		assert_int_equal(h.len, len);
		assert_int_equal(h.version, g->version);
		assert_int_equal(h.local, g->local);
		if (!g->local) {
			assert_string_equal(h.src_ip, g->src);
			assert_int_equal(h.src_port, g->sport);
		}
	}
}

/* every prefix of every valid header: more is wanted, never past its
 * end, and nothing is refused */
static void test_every_truncation(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		size_t len = good_len(&goods[i]);

		for (k = 0; k < len; k++) {
			struct proxy_hdr h;
			const char *why;
			size_t need;
			enum proxy_res r = proxy_scan(
				(const unsigned char *)goods[i].in, k, &need,
				&h, &why);

			if (r != PROXY_MORE)
				fail_msg("case %zu cut at %zu: %d %s", i, k, r,
					 why ? why : "");
			if (k + need > len)
				fail_msg("case %zu cut at %zu: asks %zu, past "
					 "the header (%zu)",
					 i, k, need, len);
		}
	}
}

struct bad {
	const char *in;
	size_t len;
};

static const struct bad bads[] = {
	{"GET / HTTP/1.0\r\n\r\n", 0},
	{"EHLO client.example\r\n", 0},
	{"proxy TCP4 192.0.2.1 127.0.0.1 1 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n", 0},  /* no CR */
	{"PROXY TCP4  192.0.2.1 127.0.0.1 1 2\r\n", 0}, /* two spaces */
	{"PROXY TCP4 192.0.2.1 127.0.0.1 1 2 \r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 1\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 1 2 3\r\n", 0},
	{"PROXY TCP4 2001:db8::1 ::1 1 2\r\n", 0}, /* family mismatch */
	{"PROXY TCP6 192.0.2.1 127.0.0.1 1 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 65536 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 01 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 -1 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\r\n", 0},
	{"PROXY UDP4 192.0.2.1 127.0.0.1 1 2\r\n", 0},
	{"PROXY TCP4 192.0.2.1\0127.0.0.1 1 2\r\n", 38},
	{"PROXY UNKNOWNX\r\n", 0},
	{"PROXY X\r\n", 0}, /* LF before the 15th byte: read, then refused */
	/* v1 with no LF in 107 bytes */
	{"PROXY TCP4 1111111111111111111111111111111111111111111111111111111"
	 "111111111111111111111111111111111111111111111111111111111111111",
	 0},
	{"\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c", 16}, /* bad signature */
	{"\r\n\r\n\x01", 5},
	{SIG "\x11\x11\x00\x0c", 16},     /* version 1 */
	{SIG "\x22\x11\x00\x0c", 16},     /* command 2 */
	{SIG "\x21\x41\x00\x00", 16},     /* family 4 */
	{SIG "\x21\x13\x00\x0c" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1", 28}, /* tr 3 */
	{SIG "\x21\x12\x00\x0c" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1", 28}, /* DGRAM */
	{SIG "\x21\x10\x00\x0c" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1", 28}, /* UNSPEC */
	{SIG "\x21\x11\x00\x0b" "\xc0\0\2\1\x7f\0\0\1\0\1\0", 27}, /* 11 < 12 */
	{SIG "\x21\x21\x00\x0c" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1", 28}, /* v6 12 */
	{SIG "\x21\x31\x00\x0c" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1", 28}, /* unix */
	{SIG "\x21\x11\x00\x0e" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1\x01\x00", 30},
	{SIG "\x21\x11\x00\x10" "\xc0\0\2\1\x7f\0\0\1\0\1\0\1\x01\x00\x02X",
	 32},                              /* TLV says 2, has 1 */
	{SIG "\x21\x11\xff\xff", 16},     /* 65535: over 4096 */
	{SIG "\x21\x11\x0f\xf1", 16},     /* 16 + 4081 = 4097 */
};

static void test_malformed(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		size_t len = bads[i].len ? bads[i].len : strlen(bads[i].in);
		struct proxy_hdr h;
		const char *why = NULL;
		size_t n;
		enum proxy_res r = feed((const unsigned char *)bads[i].in,
					len, &n, &h, &why);

		if (r != PROXY_BAD)
			fail_msg("bad case %zu: %s", i,
				 r == PROXY_DONE ? "accepted" : "wants more");
		assert_non_null(why);
		assert_true(n <= len);
	}
}

/* the reader over a socket: exactly the header is taken, the SMTP
 * client's bytes stay for the session */
static void test_read_byte_exact(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		struct proxy_hdr h;
		const char *why = NULL;
		char rest[64];
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(write(sv[1], goods[i].in, good_len(&goods[i])),
				 (ssize_t)good_len(&goods[i]));
		assert_int_equal(write(sv[1], "EHLO x\r\n", 8), 8);
		if (proxy_read(sv[0], 2000, &h, &why) < 0)
			fail_msg("case %zu: %s", i, why);
		close(sv[1]);
		assert_int_equal(read(sv[0], rest, sizeof(rest)), 8);
		assert_memory_equal(rest, "EHLO x\r\n", 8);
		close(sv[0]);
	}
}

/* a header that stops short, or never comes: refused at the deadline,
 * not later, and a closed connection at once */
static void test_read_deadline(void **state)
{
	struct proxy_hdr h;
	const char *why = NULL;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "PROXY TCP4 192.0.2.1", 20), 20);
	assert_int_equal(proxy_read(sv[0], 200, &h, &why), -1);
	assert_non_null(strstr(why, "proxy_timeout"));
	close(sv[1]);
	why = NULL;
	assert_int_equal(proxy_read(sv[0], 200, &h, &why), -1);
	assert_non_null(strstr(why, "closed"));
	close(sv[0]);
}

static void test_cidr(void **state)
{
	char *v[] = {"10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "::1",
		     "172.16.0.0/12"};
	struct cfg_strlist l = {v, 5}, empty = {NULL, 0};
	const char *why;

	(void)state;
	assert_int_equal(cidr_match(&l, "10.1.2.3"), 1);
	assert_int_equal(cidr_match(&l, "11.0.0.1"), 0);
	assert_int_equal(cidr_match(&l, "192.0.2.1"), 1);
	assert_int_equal(cidr_match(&l, "192.0.2.2"), 0);
	assert_int_equal(cidr_match(&l, "::ffff:10.9.9.9"), 1);
	assert_int_equal(cidr_match(&l, "2001:db8:1::5"), 1);
	assert_int_equal(cidr_match(&l, "2001:db9::5"), 0);
	assert_int_equal(cidr_match(&l, "::1"), 1);
	assert_int_equal(cidr_match(&l, "172.31.255.255"), 1);
	assert_int_equal(cidr_match(&l, "172.32.0.0"), 0);
	assert_int_equal(cidr_match(&l, "unknown"), 0);
	assert_int_equal(cidr_match(&empty, "10.0.0.1"), 0);
	assert_int_equal(cidr_check("10.0.0.0/8", &why), 0);
	assert_int_equal(cidr_check("::/0", &why), 0);
	assert_int_equal(cidr_check("10.0.0.0/33", &why), -1);
	assert_int_equal(cidr_check("fd00::/129", &why), -1);
	assert_int_equal(cidr_check("10.0.0.0/", &why), -1);
	assert_int_equal(cidr_check("example.com", &why), -1);
	assert_int_equal(cidr_check("", &why), -1);
}

/* diag_text - the config loader's messages, concatenated */
static void diag_text(void *arg, int is_error, const char *msg)
{
	char *t = arg;

	(void)is_error;
	strncat(t, msg, 1000 - strlen(t));
}

/* a bad entry in proxy_trusted or xclient_trusted fails the load and
 * names its key */
static void test_cfg_lists(void **state)
{
	char text[1024] = "";
	struct cfg *c;

	(void)state;
	c = cfg_load_buf("{\"servers\": [{\"proxy_protocol\": true, "
			 "\"proxy_trusted\": [\"10.0.0.0/8\", \"10.0.0.0/33\"], "
			 "\"xclient_trusted\": [\"mx.example\"]}]}",
			 diag_text, text);
	assert_null(c);
	assert_non_null(strstr(text, "servers[0].proxy_trusted[1]"));
	assert_non_null(strstr(text, "servers[0].xclient_trusted[0]"));
	c = cfg_load_buf("{\"servers\": [{\"proxy_protocol\": true, "
			 "\"proxy_timeout\": \"2s\", "
			 "\"proxy_trusted\": [\"10.0.0.0/8\", \"::1\"]}]}",
			 NULL, NULL);
	assert_non_null(c);
	assert_int_equal(c->servers[0].proxy_protocol, 1);
	assert_int_equal(c->servers[0].proxy_timeout, 2000);
	assert_int_equal(c->servers[0].proxy_trusted.n, 2);
	cfg_free(c);
}

/* ---- XCLIENT through the session core ---- */

static struct cfg *cfg;

/* last - the last reply line queued, then the queue cleared */
static const char *last(struct session *s)
{
	static char out[4096];
	char *p;
	size_t n = s->out.len;

	assert_true(n >= 2 && n < sizeof(out));
	memcpy(out, s->out.p, n);
	out[n - 2] = '\0';
	s->out.len = 0;
	p = strrchr(out, '\n');
	return p ? p + 1 : out;
}

static void feed_line(struct session *s, const char *line)
{
	session_feed_line(s, line, strlen(line));
}

static int full_ip(void *arg, const char *ip)
{
	(void)arg;
	return strcmp(ip, "192.0.2.99") ? 0 : -1;
}

static void test_xclient(void **state)
{
	struct session s;
	struct envelope env;

	(void)state;
	cfg = cfg_load_buf("{\"allowed_hosts\": [\"example.com\"], "
			   "\"servers\": [{\"host_name\": \"mx.test\", "
			   "\"xclient_on\": true, "
			   "\"xclient_trusted\": [\"127.0.0.0/8\"]}]}",
			   NULL, NULL);
	assert_non_null(cfg);
	session_init(&s, cfg, &cfg->servers[0], "127.0.0.1", 5000);
	s.xclient_ok = 1;
	s.claim_ip = full_ip;
	feed_line(&s, "EHLO nginx");
	assert_non_null(memmem(s.out.p, s.out.len,
			       "250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN\r\n",
			       45));
	s.out.len = 0;
	feed_line(&s, "XCLIENT ADDR=192.0.2.7 PORT=4711 NAME=client.example "
		      "LOGIN=a+2Bb HELO=[UNAVAILABLE] PROTO=ESMTP");
	assert_string_equal(last(&s), "220 mx.test ESMTP ready");
	assert_string_equal(s.peer_ip, "192.0.2.7");
	assert_int_equal(s.peer_port, 4711);
	assert_string_equal(s.peer_name, "client.example");
	assert_string_equal(s.proxy, "127.0.0.1 port 5000 via XCLIENT");
	assert_int_equal(s.state, ST_CONNECTED);
	feed_line(&s, "MAIL FROM:<a@b.example>");
	assert_string_equal(last(&s), "503 5.5.1 Send HELO/EHLO first");
	feed_line(&s, "EHLO real.client");
	last(&s);
	feed_line(&s, "MAIL FROM:<a@b.example>");
	last(&s);
	/* not inside a transaction */
	feed_line(&s, "XCLIENT ADDR=192.0.2.8");
	assert_string_equal(last(&s), "503 5.5.1 Mail transaction in progress");
	feed_line(&s, "RCPT TO:<u@example.com>");
	last(&s);
	session_envelope(&s, &env);
	assert_string_equal(env.client_ip, "192.0.2.7");
	assert_string_equal(env.proxy, "127.0.0.1 port 5000 via XCLIENT");
	assert_string_equal(env.client_name, "client.example");
	feed_line(&s, "RSET");
	last(&s);
	/* syntax: nothing changes */
	feed_line(&s, "XCLIENT");
	assert_string_equal(last(&s), "501 5.5.4 Syntax: XCLIENT "
				      "attribute=value ...");
	feed_line(&s, "XCLIENT ADDR=300.1.1.1");
	assert_string_equal(last(&s), "501 5.5.4 Syntax: XCLIENT "
				      "attribute=value ...");
	feed_line(&s, "XCLIENT ADDR=192.0.2.9 FOO=bar");
	last(&s);
	feed_line(&s, "XCLIENT ADDR");
	last(&s);
	feed_line(&s, "XCLIENT PORT=65536");
	last(&s);
	feed_line(&s, "XCLIENT PROTO=LMTP");
	last(&s);
	feed_line(&s, "XCLIENT NAME=a+0Db");
	last(&s);
	feed_line(&s, "XCLIENT NAME=a+2");
	assert_string_equal(last(&s), "501 5.5.4 Syntax: XCLIENT "
				      "attribute=value ...");
	assert_string_equal(s.peer_ip, "192.0.2.7");
	/* IPv6 and the helo name; the session is greeted at once */
	feed_line(&s, "xclient addr=IPV6:2001:db8::7 helo=h+2Eexample "
		      "name=[TEMPUNAVAIL]");
	assert_string_equal(last(&s), "220 mx.test ESMTP ready");
	assert_string_equal(s.peer_ip, "2001:db8::7");
	assert_string_equal(s.helo, "h.example");
	assert_string_equal(s.peer_name, "");
	assert_int_equal(s.state, ST_HELO);
	/* a client whose per-IP slots are full: 421 and close */
	assert_int_equal(session_feed_line(&s, "XCLIENT ADDR=192.0.2.99",
					   23),
			 ACT_CLOSE);
	assert_string_equal(last(&s),
			    "421 4.7.0 Too many connections, try again later");
	session_free(&s);

	/* an untrusted peer: 550, and no XCLIENT in EHLO */
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.50", 5000);
	feed_line(&s, "EHLO x");
	assert_null(memmem(s.out.p, s.out.len, "XCLIENT", 7));
	s.out.len = 0;
	feed_line(&s, "XCLIENT ADDR=192.0.2.7");
	assert_string_equal(last(&s), "550 5.7.0 Insufficient authorization");
	assert_string_equal(s.peer_ip, "192.0.2.50");
	session_free(&s);
	cfg_free(cfg);

	/* xclient_on off: the verb is unknown, as before */
	cfg = cfg_load_buf("{\"servers\": [{\"host_name\": \"mx.test\"}]}",
			   NULL, NULL);
	session_init(&s, cfg, &cfg->servers[0], "127.0.0.1", 5000);
	feed_line(&s, "XCLIENT ADDR=192.0.2.7");
	assert_string_equal(last(&s), "500 5.5.1 Command unrecognized");
	session_free(&s);
	cfg_free(cfg);
}

static void test_xtext(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(xclient_xtext("a+2Bb", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "a+b");
	assert_int_equal(xclient_xtext("+3D", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "=");
	assert_int_equal(xclient_xtext("a=b", 3, out, sizeof(out)), -1);
	assert_int_equal(xclient_xtext("+20", 3, out, sizeof(out)), -1);
	assert_int_equal(xclient_xtext("+0", 2, out, sizeof(out)), -1);
	assert_int_equal(xclient_xtext("+GG", 3, out, sizeof(out)), -1);
	assert_int_equal(xclient_xtext("0123456789abcdefg", 17, out,
				       sizeof(out)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_read_byte_exact),
		cmocka_unit_test(test_read_deadline),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_cfg_lists),
		cmocka_unit_test(test_xclient),
		cmocka_unit_test(test_xtext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
