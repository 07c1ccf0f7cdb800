/* test_procs.c - the small processors: Header and Debugger; how Redis
 * reads redis_interface (its init does not connect) */
#include "testutil.h"
#include "log.h"

static void header(void **state)
{
	char *d = tu_tmpdir(), ep[512], why[256];
	const char *rcpts[] = {"X@Example.com", "postmaster"};
	struct cfg *c = tu_cfg("{\"backend_config\":"
			       "{\"primary_mail_host\":\"mx.example.com\"}}");
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	tu_entry(ep, "1764078600.M1P1Q1", "s@example.org", rcpts, 2,
		 "x\r\n", &m, c);
	assert_null(m.rcpt[0].head);
	assert_int_equal(proc_header.deliver(NULL, &m, why, sizeof(why)),
			 PROC_OK);
	assert_string_equal(m.rcpt[0].head,
			    "Return-Path: <s@example.org>\r\n"
			    "Delivered-To: X@Example.com\r\n");
	/* no domain: primary_mail_host, as go-guerrilla's Header */
	assert_string_equal(m.rcpt[1].head,
			    "Return-Path: <s@example.org>\r\n"
			    "Delivered-To: postmaster@mx.example.com\r\n");
	tu_msg_free(&m);
	/* the null sender */
	tu_entry(ep, "1764078600.M1P1Q2", "", rcpts, 1, "x\r\n", &m, c);
	assert_string_equal(msg_head(&m, 0), "Return-Path: <>\r\n"
					     "Delivered-To: X@Example.com\r\n");
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void debugger(void **state)
{
	char *d = tu_tmpdir(), ep[512], lp[512], why[256], *text;
	const char *rcpts[] = {"r@example.com"};
	struct cfg *on = tu_cfg("{\"backend_config\":"
				"{\"log_received_mails\":true}}");
	struct cfg *off = tu_cfg("{}");
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	snprintf(lp, sizeof(lp), "%s/log", d);
	log_open("test", lp, "info", -1);
	tu_entry(ep, "1764078600.M1P1Q3", "s@example.org", rcpts, 1,
		 "Subject: caf\xc3\xa9\r\n\r\nx\r\n", &m, off);
	assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
						    sizeof(why)),
			 PROC_OK);
	assert_int_equal(proc_debugger.deliver(NULL, &m, why, sizeof(why)),
			 PROC_OK);
	text = tu_read(lp, NULL);
	assert_non_null(text);
	assert_null(strstr(text, "received"));
	free(text);
	m.cfg = on;
	assert_int_equal(proc_debugger.deliver(NULL, &m, why, sizeof(why)),
			 PROC_OK);
	text = tu_read(lp, NULL);
	/* the envelope and the subject, escaped for the log */
	assert_non_null(strstr(text, "1764078600.M1P1Q3 received "
				     "from=<s@example.org> "
				     "to=<r@example.com> nrcpt=1"));
	assert_non_null(strstr(text, "subject=\"caf\\xc3\\xa9\""));
	free(text);
	log_close();
	tu_msg_free(&m);
	cfg_free(on);
	cfg_free(off);
	tu_rm_rf(d);
	free(d);
}

/* redis_iface - init accepts the forms of redis_interface, and names
 * the key and the reason for anything else */
static void redis_iface(void **state)
{
	static const struct {
		const char *iface, *err;
	} cases[] = {
		{"127.0.0.1:6379", NULL},
		{"[::1]:6380", NULL},
		{"localhost:6379", NULL},
		{"/run/redis.sock", NULL},
		{"unix:/run/redis.sock", NULL},
		{"127.0.0.1", "no port"},
		{":6379", "no host"},
		{"127.0.0.1:0", "1 to 65535"},
		{"127.0.0.1:6379x", "1 to 65535"},
		{"[::1:6379", "without ']'"},
		{"::1:6379", "more than one ':'"},
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[256], err[400] = "";
		struct cfg *c;
		void *st = NULL;
		int r;

		snprintf(json, sizeof(json),
			 "{\"backend_config\":{\"redis_interface\":\"%s\"}}",
			 cases[i].iface);
		c = tu_cfg(json);
		r = proc_redis.init(c, &st, err, sizeof(err));
		if (!cases[i].err) {
			if (r != 0)
				fail_msg("%s: %s", cases[i].iface, err);
			proc_redis.fini(st);
		} else if (r == 0 || !strstr(err, "redis_interface: ") ||
			   !strstr(err, cases[i].err)) {
			fail_msg("%s: %d \"%s\", want \"%s\"", cases[i].iface,
				 r, err, cases[i].err);
		}
		cfg_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header),
		cmocka_unit_test(debugger),
		cmocka_unit_test(redis_iface),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
