/* test_amqp.c - the AMQP processor without a broker: the URL, the
 * templates and their escaping, the properties and headers of a publish,
 * both bodies, refusal codes to results, and what init refuses */
#include "proc_amqp.h"
#include "testutil.h"

static void url(void **state)
{
	struct amqp_where w;
	char err[300];
	(void)state;

	assert_int_equal(proc_amqp_parse_url("amqp://127.0.0.1:5673/", &w, err,
					     sizeof(err)), -1);
	assert_non_null(strstr(err, "amqp_url: the vhost is empty"));
	assert_int_equal(proc_amqp_parse_url("amqp://127.0.0.1:5673", &w, err,
					     sizeof(err)), 0);
	assert_string_equal(w.host, "127.0.0.1");
	assert_int_equal(w.port, 5673);
	assert_string_equal(w.vhost, "/");
	assert_false(w.tls);
	assert_string_equal(w.text, "amqp://127.0.0.1:5673/%2f");
	assert_int_equal(proc_amqp_parse_url("amqps://mq.example/mail", &w,
					     err, sizeof(err)), 0);
	assert_true(w.tls);
	assert_int_equal(w.port, 5671);
	assert_string_equal(w.vhost, "mail");
	assert_string_equal(w.text, "amqps://mq.example:5671/mail");
	assert_int_equal(proc_amqp_parse_url("amqp://h/%2f", &w, err,
					     sizeof(err)), 0);
	assert_string_equal(w.vhost, "/");
	/* credentials belong in amqp_user and amqp_password_file */
	assert_int_equal(proc_amqp_parse_url("amqp://u:secret@h/", &w, err,
					     sizeof(err)), -1);
	assert_non_null(strstr(err, "amqp_url: no user or password"));
	assert_null(strstr(err, "secret"));
	assert_int_equal(proc_amqp_parse_url("http://h/", &w, err,
					     sizeof(err)), -1);
	assert_non_null(strstr(err, "amqp_url: not an amqp://"));
	assert_int_equal(proc_amqp_parse_url("", &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "amqp_url is empty"));
}

static void templates(void **state)
{
	char out[300], err[300], big[400];
	const char *why = NULL;
	(void)state;

	assert_int_equal(proc_amqp_check_template("amqp_routing_key",
						  "mail.{domain}.{user}", err,
						  sizeof(err)), 0);
	assert_int_equal(proc_amqp_check_template("amqp_routing_key",
						  "mail.{queue}", err,
						  sizeof(err)), -1);
	assert_non_null(strstr(err, "backend_config.amqp_routing_key: "));
	assert_int_equal(proc_amqp_expand("mail.{domain}", "Bob@Example.COM",
					  "", out, sizeof(out), &why), 0);
	assert_string_equal(out, "mail.example.com");
	/* a dot in {user} would split a topic word; '#', '*', space and
	 * bytes past ASCII are escaped */
	assert_int_equal(proc_amqp_expand("{user}.{domain}",
					  "J.Doe#*x y\xc3\xa9@b.example", "",
					  out, sizeof(out), &why), 0);
	assert_string_equal(out, "j%2Edoe%23%2Ax%20y%C3%A9.b.example");
	/* no '@' (postmaster): the primary host's domain */
	assert_int_equal(proc_amqp_expand("in.{domain}.{user}", "postmaster",
					  "mx.test", out, sizeof(out), &why),
			 0);
	assert_string_equal(out, "in.mx.test.postmaster");
	memset(big, 'a', 300);
	memcpy(big + 300, "@x.example", 11);
	assert_int_equal(proc_amqp_expand("k.{user}", big, "", out,
					  sizeof(out), &why), -1);
	assert_string_equal(why, "longer than 255 bytes");
}

/* hdr - the headers table entry named key */
static const amqp_field_value_t *hdr(const struct amqp_pub *p,
				     const char *key)
{
	int i;

	for (i = 0; i < p->props.headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->props.headers.entries[i];

		if (e->key.len == strlen(key) &&
		    !memcmp(e->key.bytes, key, e->key.len))
			return &e->value;
	}
	return NULL;
}

/* is - a longstr value equal to s */
static int is(const amqp_field_value_t *v, const char *s)
{
	return v && v->kind == AMQP_FIELD_KIND_UTF8 &&
	       v->value.bytes.len == strlen(s) &&
	       !memcmp(v->value.bytes.bytes, s, strlen(s));
}

static void prepare(void **state)
{
	char *d = tu_tmpdir(), ep[512], why[PROC_WHY_MAX];
	const char *rcpts[] = {"a@one.example", "b@Two.example"};
	struct cfg *c = tu_cfg("{}");
	const amqp_field_value_t *to;
	struct amqp_pub p;
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	tu_entry(ep, "1764078600.M1P1Q1", "s@example.org", rcpts, 2, "x\r\n",
		 &m, c);
	assert_int_equal(proc_amqp_prepare(&m, -1, "mail", "in.{domain}", &p,
					   why, sizeof(why)), 0);
	assert_string_equal(p.exchange, "mail");
	assert_string_equal(p.rkey, "in.one.example");
	assert_string_equal(p.msgid, "1764078600.M1P1Q1");
	assert_int_equal(p.props.delivery_mode, 2);
	assert_true(p.props._flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
	assert_true(p.props._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
	assert_true(p.props._flags & AMQP_BASIC_HEADERS_FLAG);
	assert_int_equal(p.props.content_type.len, 14);
	assert_memory_equal(p.props.content_type.bytes, "message/rfc822", 14);
	assert_true(is(hdr(&p, "X-Queue-Id"), "1764078600.M1P1Q1"));
	assert_true(is(hdr(&p, "X-Envelope-From"), "s@example.org"));
	assert_true(is(hdr(&p, "X-Client-Ip"), "192.0.2.1"));
	assert_true(is(hdr(&p, "X-Helo"), "client.test"));
	to = hdr(&p, "X-Envelope-To");
	assert_non_null(to);
	assert_int_equal(to->kind, AMQP_FIELD_KIND_ARRAY);
	assert_int_equal(to->value.array.num_entries, 2);
	assert_true(is(&to->value.array.entries[0], "a@one.example"));
	assert_true(is(&to->value.array.entries[1], "b@Two.example"));
	proc_amqp_pub_free(&p);
	/* per recipient: its own key, id and X-Envelope-To */
	assert_int_equal(proc_amqp_prepare(&m, 1, "mail", "in.{domain}", &p,
					   why, sizeof(why)), 0);
	assert_string_equal(p.rkey, "in.two.example");
	assert_string_equal(p.msgid, "1764078600.M1P1Q1/b@Two.example");
	to = hdr(&p, "X-Envelope-To");
	assert_int_equal(to->value.array.num_entries, 1);
	assert_true(is(&to->value.array.entries[0], "b@Two.example"));
	proc_amqp_pub_free(&p);
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void bodies(void **state)
{
	char *d = tu_tmpdir(), ep[512], *p, want[512];
	const char *rcpts[] = {"a@example.com", "b@example.com"};
	struct cfg *c = tu_cfg("{}");
	const char *data;
	size_t len, dl;
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	tu_entry(ep, "1764078600.M1P1Q1", "s@example.org", rcpts, 2,
		 "Subject: x\r\n\r\n\xe9t\xe9\r\n.\r\n", &m, c);
	data = msg_data(&m, &dl);
	p = proc_amqp_body(&m, -1, &len);
	snprintf(want, sizeof(want), "Return-Path: <s@example.org>\r\n%s",
		 data);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
	free(p);
	p = proc_amqp_body(&m, 1, &len);
	snprintf(want, sizeof(want), "%s%s", msg_head(&m, 1), data);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
	assert_non_null(strstr(p, "Delivered-To: b@example.com\r\n"));
	free(p);
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void classes(void **state)
{
	(void)state;
	assert_int_equal(proc_amqp_close_class(312), PROC_PERM);
	assert_int_equal(proc_amqp_close_class(404), PROC_PERM);
	assert_int_equal(proc_amqp_close_class(406), PROC_PERM);
	assert_int_equal(proc_amqp_close_class(403), PROC_TEMP);
	assert_int_equal(proc_amqp_close_class(320), PROC_TEMP);
	assert_int_equal(proc_amqp_close_class(504), PROC_TEMP);
	assert_int_equal(proc_amqp_close_class(0), PROC_TEMP);
}

static void init_refuses(void **state)
{
	static const struct tu_init_case cases[] = {
		{"{}", "amqp_url is empty"},
		{"{\"amqp_url\":\"amqp://u:p@h/\"}", "amqp_url: no user"},
		{"{\"amqp_url\":\"amqp://h\",\"amqp_exchange\":\"{rcpt}\"}",
		 "backend_config.amqp_exchange: "},
		{"{\"amqp_url\":\"amqp://h\",\"amqp_routing_key\":\"{x}\"}",
		 "backend_config.amqp_routing_key: "},
		{"{\"amqp_url\":\"amqps://h\","
		 "\"amqp_tls_ca_file\":\"/nonexistent/ca.pem\"}",
		 "amqp_tls_ca_file: /nonexistent/ca.pem"},
		{"{\"amqp_url\":\"amqp://h\",\"amqp_user\":\"\"}",
		 "amqp_user is empty"},
		{"{\"amqp_url\":\"amqp://127.0.0.1:1\"}", NULL},
		{"{\"amqp_url\":\"amqps://h/v\",\"amqp_per_recipient\":true,"
		 "\"amqp_routing_key\":\"m.{domain}.{user}\"}", NULL},
	};
	(void)state;
	tu_init_cases(&proc_amqp, cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url),     cmocka_unit_test(templates),
		cmocka_unit_test(prepare), cmocka_unit_test(bodies),
		cmocka_unit_test(classes), cmocka_unit_test(init_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
