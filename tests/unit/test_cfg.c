/* test_cfg.c - the config loader: go-guerrilla 1.6 and seed files as they
 * are, comments, defaults, every kind of bad value naming its key,
 * allowed_hosts matching and server selection */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

struct diag_log {
	char text[4096];
	int errors, warnings;
};

static void collect(void *arg, int is_error, const char *msg)
{
	struct diag_log *d = arg;
	size_t n = strlen(d->text);

	snprintf(d->text + n, sizeof(d->text) - n, "%s: %s\n",
		 is_error ? "error" : "warning", msg);
	if (is_error)
		d->errors++;
	else
		d->warnings++;
}

static void test_goguerrilla_16(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_file("tests/unit/conf/goguerrilla-1.6.json",
				      collect, &d);

	(void)state;
	if (!c)
		fail_msg("%s", d.text);
	assert_int_equal(d.errors, 0);
	/* its backend_config has go-guerrilla's recipient-check timeout,
	 * and 1.6.1's sample cipher list names three RC4 suites in each of
	 * its two servers: warnings, the suites dropped, the file loads */
	assert_int_equal(d.warnings, 7);
	assert_non_null(strstr(d.text, "warning: servers[0].tls.ciphers[3]: "
				       "TLS_RSA_WITH_RC4_128_SHA is not "
				       "offered"));
	assert_non_null(strstr(d.text, "warning: servers[1].tls.ciphers[7]: "
				       "TLS_ECDHE_RSA_WITH_RC4_128_SHA is "
				       "not offered"));
	assert_int_equal(c->servers[0].tls.ciphers.n, 8);
	assert_null(strstr(c->servers[0].tls.ciphers.v[3], "RC4"));
	assert_non_null(strstr(d.text, "warning: backend_config."
				       "gw_val_rcpt_timeout: accepted for "
				       "compatibility, has no effect"));
	assert_int_equal(c->allowed_hosts.n, 5);
	assert_string_equal(c->allowed_hosts.v[2], "sharklasers.com");
	assert_string_equal(c->pid_file, "/var/run/go-guerrilla.pid");
	assert_string_equal(c->backend.save_process,
			    "HeadersParser|Header|Debugger");
	assert_int_equal(c->backend.gw_save_timeout, 30000);
	assert_int_equal(c->backend.log_received_mails, 1);
	assert_string_equal(c->backend.primary_mail_host, "mail.example.com");
	assert_int_equal(c->nservers, 2);
	assert_int_equal(c->servers[0].max_size, 1000000);
	assert_int_equal(c->servers[0].timeout, 180);
	assert_int_equal(c->servers[0].max_clients, 1000);
	assert_int_equal(c->servers[0].tls.start_tls_on, 1);
	assert_int_equal(c->servers[0].tls.protocols.n, 2);
	assert_int_equal(c->servers[0].tls.curves.n, 4);
	assert_string_equal(c->servers[0].tls.public_key_file.v[0],
			    "/path/to/pem/file/test.com.crt");
	assert_int_equal(c->servers[1].is_enabled, 0);
	assert_int_equal(c->servers[1].tls.tls_always_on, 1);
	/* defaults of our keys */
	assert_string_equal(c->spool_dir, "/var/spool/smtpd");
	assert_int_equal(c->servers[0].max_recipients, 100);
	assert_int_equal(c->servers[0].max_unrecognized_commands, 5);
	assert_int_equal(c->servers[0].max_line_length, 1024);
	cfg_free(c);
}

static void test_seed(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_file("tests/unit/conf/seed.json", collect,
				      &d);

	(void)state;
	if (!c)
		fail_msg("%s", d.text);
	assert_int_equal(d.warnings, 0);
	assert_string_equal(c->backend_name, "guerrilla-db-redis");
	assert_string_equal(c->backend.mysql_host, "127.0.0.1:3306");
	assert_string_equal(c->backend.mysql_db, "gmail_mail");
	assert_int_equal(c->backend.redis_expire_seconds, 7200);
	assert_int_equal(c->backend.save_workers_size, 3);
	assert_string_equal(c->backend.primary_mail_host, "sharklasers.com");
	/* TLS keys flat on the server */
	assert_int_equal(c->servers[0].tls.start_tls_on, 1);
	assert_int_equal(c->servers[0].tls.tls_always_on, 0);
	assert_string_equal(c->servers[0].tls.private_key_file.v[0],
			    "/path/to/pem/file/test.com.key");
	cfg_free(c);
}

static void test_comments_and_defaults(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf(
		"// line comment\n{ /* block\n comment */ \"spool_dir\": "
		"\"/x // not a comment\", \"allowed_hosts\": \"a.com, b.com\"}",
		collect, &d);

	(void)state;
	if (!c)
		fail_msg("%s", d.text);
	assert_string_equal(c->spool_dir, "/x // not a comment");
	assert_int_equal(c->allowed_hosts.n, 2);
	assert_string_equal(c->allowed_hosts.v[1], "b.com");
	assert_int_equal(c->nservers, 1);
	assert_int_equal(c->servers[0].is_enabled, 1);
	assert_int_equal(c->servers[0].max_size, 10485760);
	assert_int_equal(c->servers[0].timeout, 30);
	assert_string_equal(c->servers[0].listen_interface, "127.0.0.1:2525");
	assert_non_null(c->servers[0].host_name);
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->backend.retry_first, 300000);
	assert_int_equal(c->backend.retry_max, 3600000);
	assert_int_equal(c->backend.max_queue_lifetime, 120LL * 3600000);
	cfg_free(c);
}

static void test_unknown_key_warns(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf(
		"{\"frobnicate\": 1, \"servers\": [{\"colour\": \"red\"}]}",
		collect, &d);

	(void)state;
	assert_non_null(c);
	assert_int_equal(d.warnings, 2);
	assert_non_null(strstr(d.text, "warning: frobnicate: unknown key"));
	assert_non_null(strstr(d.text, "warning: servers[0].colour: unknown"));
	assert_null(strstr(d.text, "did you mean"));
	cfg_free(c);
}

/* test_unknown_key_suggests - a typo names the key it was meant to be */
static void test_unknown_key_suggests(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf(
		"{\"alowed_hosts\": [\"a.example\"], \"Spool_Dir\": \"/x\", "
		"\"server\": [], \"servers\": [{\"max_sise\": 5, "
		"\"tls\": {\"start_tls\": true}}]}",
		collect, &d);

	(void)state;
	assert_non_null(c);
	assert_non_null(strstr(d.text, "alowed_hosts: unknown key, ignored "
				       "(did you mean \"allowed_hosts\"?)"));
	assert_non_null(strstr(d.text, "Spool_Dir: unknown key, ignored "
				       "(did you mean \"spool_dir\"?)"));
	assert_non_null(strstr(d.text, "server: unknown key, ignored "
				       "(did you mean \"servers\"?)"));
	assert_non_null(strstr(d.text, "servers[0].max_sise: unknown key, "
				       "ignored (did you mean \"max_size\"?)"));
	assert_non_null(strstr(d.text, "servers[0].tls.start_tls: unknown "
				       "key, ignored (did you mean "
				       "\"start_tls_on\"?)"));
	cfg_free(c);
}

/* test_weak_ciphers - RC4/3DES/NULL/export suites are dropped with a
 * warning naming each; a list of nothing else is an error */
static void test_weak_ciphers(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf(
		"{\"servers\": [{\"tls\": {\"ciphers\": ["
		"\"TLS_RSA_WITH_3DES_EDE_CBC_SHA\", "
		"\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\", "
		"\"TLS_RSA_WITH_NULL_SHA256\"]}}]}",
		collect, &d);

	(void)state;
	assert_non_null(c);
	assert_int_equal(d.warnings, 2);
	assert_non_null(strstr(d.text, "servers[0].tls.ciphers[0]: "
				       "TLS_RSA_WITH_3DES_EDE_CBC_SHA is not "
				       "offered (3DES"));
	assert_non_null(strstr(d.text, "servers[0].tls.ciphers[2]: "
				       "TLS_RSA_WITH_NULL_SHA256 is not "
				       "offered"));
	assert_int_equal(c->servers[0].tls.ciphers.n, 1);
	assert_string_equal(c->servers[0].tls.ciphers.v[0],
			    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	cfg_free(c);
	memset(&d, 0, sizeof(d));
	c = cfg_load_buf("{\"servers\": [{\"tls\": {\"ciphers\": ["
			 "\"TLS_RSA_WITH_RC4_128_SHA\"]}}]}",
			 collect, &d);
	assert_null(c);
	assert_non_null(strstr(d.text, "error: servers[0].tls.ciphers: none "
				       "of the listed suites is offered"));
}

/* test_json_error_line_column - a syntax error says where */
static void test_json_error_line_column(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf("{\"a\": 1,\n  \"b\": x}\n", collect,
				     &d);

	(void)state;
	assert_null(c);
	assert_non_null(strstr(d.text, "error: not valid JSON at line 2, "
				       "column 8"));
}

/* keys we accept from go-guerrilla but do not act on: each one present
 * warns with its path (null and odd types too, as nothing reads them),
 * the file still loads, and --check-config's dump leaves them out */
static void test_noeffect_keys_warn(void **state)
{
	static const char *const keys[] = {
		"backend_config.gw_val_rcpt_timeout",
		"backend_config.validate_process",
		"backend_config.sql_max_open_conns",
		"backend_config.sql_max_idle_conns",
	};
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c = cfg_load_buf(
		"{\"backend_config\": {\"gw_val_rcpt_timeout\": \"3s\", "
		"\"validate_process\": null, \"sql_max_open_conns\": 10, "
		"\"sql_max_idle_conns\": \"many\", "
		"\"save_process\": \"Debugger\"}, "
		"\"servers\": [{\"xclient_on\": false}, {\"xclient_on\": true, "
		"\"listen_interface\": \"127.0.0.1:2526\"}]}",
		collect, &d);
	char *dump;
	size_t i;

	(void)state;
	if (!c)
		fail_msg("%s", d.text);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 4);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want),
			 "warning: %s: accepted for compatibility, has no "
			 "effect\n",
			 keys[i]);
		if (!strstr(d.text, want))
			fail_msg("no \"%s\" in:\n%s", want, d.text);
	}
	assert_string_equal(c->backend.save_process, "Debugger");
	assert_int_equal(c->nservers, 2);
	dump = cfg_dump(c);
	assert_non_null(dump);
	assert_null(strstr(dump, "gw_val_rcpt_timeout"));
	assert_null(strstr(dump, "validate_process"));
	assert_null(strstr(dump, "sql_max_open_conns"));
	assert_null(strstr(dump, "sql_max_idle_conns"));
	/* xclient_on acts now (XCLIENT, xclient.c) */
	assert_non_null(strstr(dump, "xclient_on"));
	assert_int_equal(c->servers[0].xclient_on, 0);
	assert_int_equal(c->servers[1].xclient_on, 1);
	assert_non_null(strstr(dump, "gw_save_timeout"));
	free(dump);
	cfg_free(c);
}

struct bad {
	const char *json;
	const char *want; /* must appear in the error text */
};

static const struct bad bads[] = {
	{"{\"servers\":[{\"max_size\":\"big\"}]}",
	 "error: servers[0].max_size: expected a whole number, got a string"},
	{"{\"servers\":[{\"max_size\":1.5}]}", "error: servers[0].max_size"},
	{"{\"servers\":[{\"timeout\":-1}]}",
	 "error: servers[0].timeout: -1 is out of range"},
	{"{\"servers\":[{},{\"timeout\":0}]}", "error: servers[1].timeout"},
	{"{\"allowed_hosts\":[\"a\", 1]}",
	 "error: allowed_hosts[1]: expected a string, got a number"},
	{"{\"allowed_hosts\":{}}", "error: allowed_hosts: expected a list"},
	{"{\"log_level\":\"loud\"}", "error: log_level: must be one of"},
	{"{\"backend_config\":{\"gw_save_timeout\":\"soon\"}}",
	 "error: backend_config.gw_save_timeout: not a duration"},
	{"{\"backend_config\":{\"retry_first\":true}}",
	 "error: backend_config.retry_first: expected a duration"},
	{"{\"backend_config\":[]}", "error: backend_config: expected an object"},
	{"{\"servers\":[{\"listen_interface\":\"nowhere\"}]}",
	 "error: servers[0].listen_interface: expected"},
	{"{\"servers\":[{\"listen_interface\":\"mail.example.com:25\"}]}",
	 "error: servers[0].listen_interface: expected \"ip:port\", "
	 "\"[ipv6]:port\" or \":port\": not an IP address"},
	{"{\"servers\":[{\"listen_interface\":\":0\"}]}",
	 "error: servers[0].listen_interface: expected \"ip:port\", "
	 "\"[ipv6]:port\" or \":port\": port is not a number from 1 to 65535"},
	{"{\"servers\":[{},{\"listen_interface\":\"[::1:25\"}]}",
	 "error: servers[1].listen_interface: expected \"ip:port\", "
	 "\"[ipv6]:port\" or \":port\": '[' without ']'"},
	{"{\"servers\":[{\"listen_interface\":\"::1:25\"}]}",
	 "error: servers[0].listen_interface: expected \"ip:port\", "
	 "\"[ipv6]:port\" or \":port\": more than one ':'"},
	{"{\"servers\":[{\"tls\":{\"client_auth_type\":\"Maybe\"}}]}",
	 "error: servers[0].tls.client_auth_type: unknown value"},
	{"{\"servers\":[{\"tls\":{\"start_tls_on\":1}}]}",
	 "error: servers[0].tls.start_tls_on: expected true or false"},
	{"{\"servers\":[{\"is_enabled\":\"yes\"}]}",
	 "error: servers[0].is_enabled"},
	{"{\"servers\":{}}", "error: servers: expected a list of objects"},
	{"{\"servers\":[5]}", "error: servers[0]: expected an object"},
	{"{\"spool_dir\":5}", "error: spool_dir: expected a string"},
	{"{\"spool_dir\":\"\"}", "error: spool_dir: must not be empty"},
	{"{\"backend_name\":\"postgres\"}", "error: backend_name: must be"},
	{"{\"servers\":[{\"max_line_length\":100}]}",
	 "error: servers[0].max_line_length: 100 is out of range (512..65536)"},
	{"{", "error: not valid JSON"},
	{"{\"a\":1,}", "error: not valid JSON"},
	{"[]", "error: the top level must be an object"},
};

static void test_bad_values_name_the_key(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct diag_log d = {{0}, 0, 0};
		struct cfg *c = cfg_load_buf(bads[i].json, collect, &d);

		if (c) {
			cfg_free(c);
			fail_msg("case %zu %s loaded", i, bads[i].json);
		}
		if (!strstr(d.text, bads[i].want))
			fail_msg("case %zu %s: got \"%s\", want \"%s\"", i,
				 bads[i].json, d.text, bads[i].want);
	}
}

static void test_missing_file(void **state)
{
	struct diag_log d = {{0}, 0, 0};

	(void)state;
	assert_null(cfg_load_file("/nonexistent/smtpd.json", collect, &d));
	assert_non_null(strstr(d.text, "/nonexistent/smtpd.json: cannot open"));
}

static void test_allowed_hosts(void **state)
{
	struct cfg *c = cfg_load_buf(
		"{\"allowed_hosts\": [\"Example.COM\", \"*.wild.org\", "
		"\"[192.0.2.1]\"]}",
		NULL, NULL);
	struct cfg *any = cfg_load_buf("{\"allowed_hosts\": [\"*\"]}", NULL,
				       NULL);
	struct cfg *none = cfg_load_buf("{}", NULL, NULL);

	(void)state;
#define A(cf, d) cfg_host_allowed(cf, d, strlen(d))
	assert_true(A(c, "example.com"));
	assert_true(A(c, "EXAMPLE.com"));
	assert_true(A(c, "example.com."));
	assert_false(A(c, "sub.example.com"));
	assert_false(A(c, "example.com.evil"));
	assert_false(A(c, "xexample.com"));
	assert_true(A(c, "a.wild.org"));
	assert_true(A(c, "a.b.WILD.org"));
	assert_false(A(c, "wild.org"));
	assert_false(A(c, "nowild.org"));
	assert_true(A(c, "[192.0.2.1]"));
	assert_false(A(c, "[192.0.2.2]"));
	assert_true(A(any, "anything.at.all"));
	assert_false(A(none, "example.com"));
#undef A
	cfg_free(c);
	cfg_free(any);
	cfg_free(none);
}

static void test_server_pick(void **state)
{
	struct cfg *c = cfg_load_buf(
		"{\"servers\": ["
		"{\"name\":\"off\",\"is_enabled\":false,"
		"\"listen_interface\":\"127.0.0.1:25\"},"
		"{\"name\":\"v4\",\"listen_interface\":\"127.0.0.1:25\"},"
		"{\"name\":\"v6\",\"listen_interface\":\"[::1]:25\"},"
		"{\"name\":\"any\",\"listen_interface\":\":465\"},"
		"{\"name\":\"any0\",\"listen_interface\":\"0.0.0.0:587\"}]}",
		NULL, NULL);

	enum cfg_pick why;

	(void)state;
	assert_non_null(c);
	assert_string_equal(cfg_server_pick(c, "127.0.0.1", 25, NULL, &why)->name,
			    "v4");
	assert_string_equal(cfg_server_pick(c, "::1", 25, NULL, &why)->name, "v6");
	assert_string_equal(
		cfg_server_pick(c, "0:0:0:0:0:0:0:1", 25, NULL, &why)->name, "v6");
	assert_string_equal(cfg_server_pick(c, "192.0.2.7", 465, NULL, &why)->name,
			    "any");
	assert_string_equal(cfg_server_pick(c, "2001:db8::1", 465, NULL, &why)->name,
			    "any");
	assert_string_equal(cfg_server_pick(c, "192.0.2.7", 587, NULL, &why)->name,
			    "any0");
	/* nothing matches: the first enabled one */
	assert_string_equal(cfg_server_pick(c, "192.0.2.7", 9, NULL, &why)->name,
			    "v4");
	assert_string_equal(cfg_server_pick(c, NULL, 0, NULL, &why)->name, "v4");
	assert_string_equal(cfg_server_pick(c, NULL, 0, "any0", &why)->name, "any0");
	/* a port entries use, an address none listens on: refused */
	assert_null(cfg_server_pick(c, "192.0.2.7", 25, NULL, &why));
	assert_int_equal(why, PICK_NO_MATCH);
	assert_null(cfg_server_pick(c, NULL, 0, "nosuch", &why));
	assert_int_equal(why, PICK_UNKNOWN_NAME);
	assert_null(cfg_server_pick(c, NULL, 0, "off", &why));
	assert_int_equal(why, PICK_DISABLED);
	cfg_free(c);
}

/* the sample's shape: :25 enabled, :465 (implicit TLS) disabled. A
 * connection to 465 must not be served by the :25 entry in plaintext */
static void test_server_pick_disabled(void **state)
{
	struct cfg *c = cfg_load_buf(
		"{\"servers\": ["
		"{\"name\":\"smtp\",\"listen_interface\":\":25\"},"
		"{\"name\":\"smtps\",\"is_enabled\":false,"
		"\"listen_interface\":\":465\","
		"\"tls\":{\"tls_always_on\":true}},"
		"{\"name\":\"sub\",\"is_enabled\":false,"
		"\"listen_interface\":\"127.0.0.1:587\"},"
		"{\"name\":\"sub2\",\"listen_interface\":\"0.0.0.0:587\"}]}",
		NULL, NULL);
	enum cfg_pick why = PICK_OK;

	(void)state;
	assert_non_null(c);
	assert_null(cfg_server_pick(c, "192.0.2.7", 465, NULL, &why));
	assert_int_equal(why, PICK_DISABLED);
	assert_null(cfg_server_pick(c, "::1", 465, NULL, &why));
	assert_int_equal(why, PICK_DISABLED);
	assert_string_equal(cfg_server_pick(c, "192.0.2.7", 25, NULL, &why)->name,
			    "smtp");
	/* the exact address is disabled: the wildcard does not stand in */
	assert_null(cfg_server_pick(c, "127.0.0.1", 587, NULL, &why));
	assert_int_equal(why, PICK_DISABLED);
	assert_string_equal(cfg_server_pick(c, "10.1.1.1", 587, NULL, &why)->name,
			    "sub2");
	cfg_free(c);
	c = cfg_load_buf("{\"servers\": [{\"is_enabled\":false}]}", NULL,
			 NULL);
	assert_non_null(c);
	assert_null(cfg_server_pick(c, NULL, 0, NULL, &why));
	assert_int_equal(why, PICK_NONE_ENABLED);
	cfg_free(c);
}



/* the dump loads back to the same dump */
static void test_dump_roundtrip(void **state)
{
	struct cfg *c = cfg_load_file("tests/unit/conf/goguerrilla-1.6.json",
				      NULL, NULL);
	struct cfg *c2;
	char *d1, *d2;

	(void)state;
	assert_non_null(c);
	d1 = cfg_dump(c);
	assert_non_null(d1);
	c2 = cfg_load_buf(d1, NULL, NULL);
	assert_non_null(c2);
	d2 = cfg_dump(c2);
	assert_string_equal(d1, d2);
	assert_non_null(strstr(d1, "\"gw_save_timeout\":\t\"30s\""));
	free(d1);
	free(d2);
	cfg_free(c);
	cfg_free(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_goguerrilla_16),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_comments_and_defaults),
		cmocka_unit_test(test_unknown_key_warns),
		cmocka_unit_test(test_noeffect_keys_warn),
		cmocka_unit_test(test_bad_values_name_the_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_allowed_hosts),
		cmocka_unit_test(test_server_pick),
		cmocka_unit_test(test_server_pick_disabled),
		cmocka_unit_test(test_dump_roundtrip),
		cmocka_unit_test(test_unknown_key_suggests),
		cmocka_unit_test(test_weak_ciphers),
		cmocka_unit_test(test_json_error_line_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
