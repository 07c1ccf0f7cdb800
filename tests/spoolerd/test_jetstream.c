/* test_jetstream.c - the NATS processor without a server: the subject
 * template's check, its expansion and escaping, subject matching, and
 * what init refuses (each refusal names its key) */
#include "jetstream.h"
#include "testutil.h"

static void check_tmpl(void **state)
{
	static const struct {
		const char *t;
		int per_rcpt, ok;
	} cases[] = {
		{"mail.{domain}", 0, 1},     {"mail.{domain}", 1, 1},
		{"in.{queue_id}", 0, 1},     {"a.{domain}.{user}", 1, 1},
		{"a.{domain}.{user}", 0, 0}, {"a.{rcpt}", 0, 0},
		{"a.{rcpt}", 1, 1},          {"x{domain}y.z", 0, 1},
		{"", 0, 0},                  {"mail.", 0, 0},
		{".mail", 0, 0},             {"mail..x", 0, 0},
		{"mail.*", 0, 0},            {"mail.>", 0, 0},
		{"mail x", 0, 0},            {"mail.{nope}", 0, 0},
		{"mail.{domain", 0, 0},      {"mail}", 0, 0},
		{"mail.\t", 0, 0},
	};
	char err[200];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if ((jetstream_subject_check(cases[i].t, cases[i].per_rcpt,
					     err, sizeof(err)) == 0) !=
		    cases[i].ok)
			fail_msg("\"%s\" per_rcpt %d: %s", cases[i].t,
				 cases[i].per_rcpt, err);
		if (!cases[i].ok && !err[0])
			fail_msg("\"%s\": no reason", cases[i].t);
	}
	jetstream_subject_check("a.{user}", 0, err, sizeof(err));
	assert_string_equal(err, "{user} needs nats_per_recipient: true");
}

static void expand(void **state)
{
	const char *rcpts[] = {"Bob.Smith@Example.COM", "x*y>z w@ex.org",
			       "postmaster", "a@b"};
	struct msg m;
	char out[JETSTREAM_SUBJECT_MAX];
	(void)state;

	memset(&m, 0, sizeof(m));
	m.env.rcpts = (char **)rcpts;
	m.env.nrcpts = 4;
	m.env.queue_id = "1700000000.Q12.ab_C";
	assert_int_equal(jetstream_subject("mail.{domain}", &m, 0, out,
					   sizeof(out)), 0);
	assert_string_equal(out, "mail.example%2Ecom");
	assert_int_equal(jetstream_subject("m.{domain}.{user}.{rcpt}", &m, 0,
					   out, sizeof(out)), 0);
	assert_string_equal(out, "m.example%2Ecom.bob%2Esmith."
				 "bob%2Esmith%40example%2Ecom");
	/* nothing a recipient writes becomes a token or a wildcard */
	assert_int_equal(jetstream_subject("m.{user}", &m, 1, out,
					   sizeof(out)), 0);
	assert_string_equal(out, "m.x%2Ay%3Ez%20w");
	/* no domain, no primary_mail_host: not an empty token */
	assert_int_equal(jetstream_subject("m.{domain}", &m, 2, out,
					   sizeof(out)), 0);
	assert_string_equal(out, "m.%00");
	/* the queue id keeps its case */
	assert_int_equal(jetstream_subject("q.{queue_id}", &m, 0, out,
					   sizeof(out)), 0);
	assert_string_equal(out, "q.1700000000%2EQ12%2Eab_C");
	/* too long: refused, not cut */
	assert_int_equal(jetstream_subject("m.{rcpt}", &m, 0, out, 20), -1);
	assert_int_equal(jetstream_subject("m.{rcpt}", &m, 3, out, 20), 0);
	assert_string_equal(out, "m.a%40b");
}

static void match(void **state)
{
	(void)state;
	assert_true(jetstream_subject_match("mail.>", "mail.a"));
	assert_true(jetstream_subject_match("mail.>", "mail.a.b"));
	assert_false(jetstream_subject_match("mail.>", "mail"));
	assert_true(jetstream_subject_match("mail.*", "mail.a"));
	assert_false(jetstream_subject_match("mail.*", "mail.a.b"));
	assert_true(jetstream_subject_match("mail.*.x", "mail.a.x"));
	assert_false(jetstream_subject_match("mail.*.x", "mail.a.y"));
	assert_true(jetstream_subject_match("a.b", "a.b"));
	assert_false(jetstream_subject_match("a.b", "a.bc"));
	assert_false(jetstream_subject_match("a.bc", "a.b"));
	assert_false(jetstream_subject_match("a", "a.b"));
	assert_true(jetstream_subject_match(">", "x"));
	assert_true(jetstream_subject_match("*", "x"));
	assert_false(jetstream_subject_match("*", "x.y"));
}

/* refused - init with backend_config b refuses, naming want */
static void refused(const char *b, const char *want)
{
	char conf[2048], err[600] = "";
	struct cfg *c;
	void *st = NULL;

	snprintf(conf, sizeof(conf),
		 "{\"spool_dir\": \"/tmp\", \"backend_config\": {"
		 "\"save_process\": \"NATS\", %s}}", b);
	c = cfg_load_buf(conf, NULL, NULL);
	assert_non_null(c);
	if (proc_nats.init(c, &st, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", b);
	if (!strstr(err, want))
		fail_msg("%s: \"%s\" does not name %s", b, err, want);
	cfg_free(c);
}

static void init_refuses(void **state)
{
	char conf[512], err[600] = "";
	struct cfg *c;
	void *st = NULL;
	(void)state;

	refused("\"nats_subject\": \"x\"", "backend_config.nats_stream");
	refused("\"nats_stream\": \"a.b\"", "backend_config.nats_stream");
	refused("\"nats_stream\": \"S\", \"nats_url\": \"http://h:1\"",
		"backend_config.nats_url");
	refused("\"nats_stream\": \"S\", \"nats_url\": \"nats://u:p@h:1\"",
		"backend_config.nats_url");
	refused("\"nats_stream\": \"S\", \"nats_url\": "
		"[\"nats://h:1\", \"tls://h:2\"]", "backend_config.nats_url");
	refused("\"nats_stream\": \"S\", \"nats_subject\": \"m.*\"",
		"backend_config.nats_subject");
	refused("\"nats_stream\": \"S\", \"nats_subject\": \"m.{user}\"",
		"backend_config.nats_subject");
	refused("\"nats_stream\": \"S\", \"nats_creds_file\": \"/nonexist\"",
		"backend_config.nats_creds_file");
	refused("\"nats_stream\": \"S\", \"nats_user\": \"u\"",
		"backend_config.nats_user");
	refused("\"nats_stream\": \"S\", \"nats_tls_ca_file\": \"/etc/hosts\"",
		"backend_config.nats_tls_ca_file");
	refused("\"nats_stream\": \"S\", \"nats_url\": \"tls://h:1\", "
		"\"nats_tls_ca_file\": \"/nonexist\"",
		"backend_config.nats_tls_ca_file");
	/* and a good one: no connection before the first entry */
	snprintf(conf, sizeof(conf),
		 "{\"spool_dir\": \"/tmp\", \"backend_config\": {"
		 "\"save_process\": \"NATS\", \"nats_stream\": \"MAIL\", "
		 "\"nats_url\": [\"nats://127.0.0.1:1\", "
		 "\"nats://127.0.0.1:2\"]}}");
	c = cfg_load_buf(conf, NULL, NULL);
	assert_non_null(c);
	assert_int_equal(proc_nats.init(c, &st, err, sizeof(err)), 0);
	proc_nats.fini(st);
	cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_tmpl),
		cmocka_unit_test(expand),
		cmocka_unit_test(match),
		cmocka_unit_test(init_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
