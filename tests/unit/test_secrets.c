/* test_secrets.c - what of the config a session sees, and how secrets
 * are kept out of it and out of --check-config (common/cfg.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

struct diag {
	char text[4096];
	int errors;
};

static void collect(void *arg, int is_error, const char *msg)
{
	struct diag *d = arg;
	size_t n = strlen(d->text);

	snprintf(d->text + n, sizeof(d->text) - n, "%s: %s\n",
		 is_error ? "error" : "warning", msg);
	d->errors += is_error;
}

static const char *with_secrets =
	"{\"backend_config\": {\"save_process\": \"Redis\","
	" \"redis_password\": \"hunter2-redis\","
	" \"sql_dsn\": \"u:hunter2-dsn@tcp(127.0.0.1:3306)/db\","
	" \"mysql_pass\": \"hunter2-mysql\"},"
	" \"servers\": [{\"host_name\": \"mx.test\"}]}";

/* a session ignores backend_config: a bad value there is spoolerd's
 * problem, not a reason to refuse mail */
static void test_session_ignores_backend(void **state)
{
	const char *bad = "{\"backend_config\": {\"save_workers_size\": "
			  "\"many\", \"redis_password\": 7, \"nosuch\": 1},"
			  " \"servers\": [{\"host_name\": \"mx.test\"}]}";
	struct diag d = {"", 0};
	struct cfg *c;

	(void)state;
	c = cfg_load_buf_as(bad, CFG_SESSION, collect, &d);
	assert_non_null(c);
	assert_int_equal(d.errors, 0);
	assert_string_equal(d.text, ""); /* not even the unknown key */
	assert_null(c->backend.redis_password);
	cfg_free(c);
	c = cfg_load_buf(bad, collect, &d);
	assert_null(c);
	assert_non_null(strstr(d.text, "backend_config.save_workers_size"));
}

/* neither a session's dump nor spoolerd's shows a secret */
static void test_dump_hides_secrets(void **state)
{
	struct cfg *c, *again;
	char *out, *out2;

	(void)state;
	c = cfg_load_buf_as(with_secrets, CFG_SESSION, NULL, NULL);
	assert_non_null(c);
	out = cfg_dump(c);
	assert_non_null(out);
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "backend_config"));
	free(out);
	cfg_free(c);

	c = cfg_load_buf(with_secrets, NULL, NULL);
	assert_non_null(c);
	assert_string_equal(c->backend.redis_password, "hunter2-redis");
	out = cfg_dump(c);
	assert_non_null(out);
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "\"redis_password\":\t\"********\""));
	assert_non_null(strstr(out, "\"sql_dsn\":\t\"********\""));
	assert_non_null(strstr(out, "\"mysql_pass\":\t\"********\""));
	/* the dump loads again and dumps the same */
	again = cfg_load_buf(out, NULL, NULL);
	assert_non_null(again);
	out2 = cfg_dump(again);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	cfg_free(again);
	cfg_free(c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* _file keys: the first line of the file, relative names under
 * $CREDENTIALS_DIRECTORY; a session never opens them */
static void test_secret_files(void **state)
{
	char dir[] = "/tmp/test-secrets.XXXXXX", path[200], conf[600];
	struct diag d = {"", 0};
	struct cfg *c;
	char *out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/redis", dir);
	write_file(path, "from-file-redis\n");
	snprintf(path, sizeof(path), "%s/dsn", dir);
	write_file(path, "u:from-file-dsn@tcp(127.0.0.1)/db\r\nignored\n");
	snprintf(conf, sizeof(conf),
		 "{\"backend_config\": {\"redis_password_file\": \"%s/redis\","
		 " \"sql_dsn_file\": \"dsn\", \"mysql_pass_file\": \"nosuch\"},"
		 " \"servers\": [{\"host_name\": \"mx.test\"}]}",
		 dir);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	/* mysql_pass_file is missing: an error naming the key */
	c = cfg_load_buf(conf, collect, &d);
	assert_null(c);
	assert_non_null(strstr(d.text, "backend_config.mysql_pass_file: "));
	assert_non_null(strstr(d.text, "No such file"));
	/* a session does not care */
	c = cfg_load_buf_as(conf, CFG_SESSION, NULL, NULL);
	assert_non_null(c);
	cfg_free(c);
	snprintf(path, sizeof(path), "%s/nosuch", dir);
	write_file(path, "from-file-mysql");
	c = cfg_load_buf(conf, NULL, NULL);
	assert_non_null(c);
	assert_string_equal(c->backend.redis_password, "from-file-redis");
	assert_string_equal(c->backend.sql_dsn,
			    "u:from-file-dsn@tcp(127.0.0.1)/db");
	assert_string_equal(c->backend.mysql_pass, "from-file-mysql");
	out = cfg_dump(c);
	assert_non_null(strstr(out, "\"redis_password\":\tnull"));
	assert_non_null(strstr(out, "\"sql_dsn_file\":\t\"dsn\""));
	assert_null(strstr(out, "from-file"));
	free(out);
	cfg_free(c);
	/* both the value and its file: which one? an error */
	snprintf(conf, sizeof(conf),
		 "{\"backend_config\": {\"redis_password\": \"x\","
		 " \"redis_password_file\": \"redis\"}}");
	d.text[0] = '\0';
	c = cfg_load_buf(conf, collect, &d);
	assert_null(c);
	assert_non_null(strstr(d.text, "backend_config.redis_password_file: "
				       "give redis_password or"));
	/* an empty file is refused */
	snprintf(path, sizeof(path), "%s/redis", dir);
	write_file(path, "\n");
	snprintf(conf, sizeof(conf),
		 "{\"backend_config\": {\"redis_password_file\": \"redis\"}}");
	d.text[0] = '\0';
	assert_null(cfg_load_buf(conf, collect, &d));
	assert_non_null(strstr(d.text, "empty"));
	unsetenv("CREDENTIALS_DIRECTORY");
	snprintf(path, sizeof(path), "%s/redis", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dsn", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nosuch", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* a JSON syntax error says the line */
static void test_json_error_line(void **state)
{
	struct diag d = {"", 0};

	(void)state;
	assert_null(cfg_load_buf("{\n\"servers\": [\n{\"a\": 1,,}\n]}",
				 collect, &d));
	assert_non_null(strstr(d.text, "not valid JSON at line 3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_ignores_backend),
		cmocka_unit_test(test_dump_hides_secrets),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_json_error_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
