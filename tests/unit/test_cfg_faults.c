/* test_cfg_faults.c - the config loader's error paths: values at and over
 * each cap (string length, list length, number of servers, file size),
 * odd but valid spellings (quoted numbers and booleans, bare seconds,
 * comma lists), unreadable files, a failing gethostname and read, and
 * every allocation failing in turn (malloc, calloc, realloc and strdup
 * wrapped with -Wl,--wrap; cJSON's through cJSON_InitHooks): the loader
 * reports "out of memory" and returns NULL, never a half-made config,
 * and cfg_dump returns NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

/* allocation n (counted from arming) fails; 0 = none */
static long fail_alloc_at, alloc_calls;
static int fail_hostname, read_eintr, read_short;

/* alloc_fails - count one allocation; should it fail? */
static int alloc_fails(void)
{
	if (!fail_alloc_at)
		return 0;
	return ++alloc_calls == fail_alloc_at;
}

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__real_calloc(size_t n, size_t m);
void *__wrap_calloc(size_t n, size_t m)
{
	return alloc_fails() ? NULL : __real_calloc(n, m);
}

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

int __real_gethostname(char *b, size_t n);
int __wrap_gethostname(char *b, size_t n)
{
	if (fail_hostname) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return __real_gethostname(b, n);
}

/* fortified builds call __gethostname_chk when they cannot prove the
 * size fits */
int __real___gethostname_chk(char *b, size_t n, size_t max);
int __wrap___gethostname_chk(char *b, size_t n, size_t max)
{
	if (fail_hostname) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return __real___gethostname_chk(b, n, max);
}

ssize_t __real_read(int fd, void *b, size_t n);
ssize_t __wrap_read(int fd, void *b, size_t n)
{
	if (read_eintr > 0) {
		read_eintr--;
		errno = EINTR;
		return -1;
	}
	if (read_short)
		return 0; /* the file shrank after fstat */
	return __real_read(fd, b, n);
}

/* cJSON's allocations (cJSON_InitHooks): allocation n fails */
static long hook_fail_at, hook_calls;

static void *hook_malloc(size_t n)
{
	if (hook_fail_at && ++hook_calls == hook_fail_at)
		return NULL;
	return __real_malloc(n);
}

struct diag_log {
	char text[8192];
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

/* load - cfg_load_buf with a fresh diagnostics log */
static struct cfg *load(const char *json, struct diag_log *d)
{
	memset(d, 0, sizeof(*d));
	return cfg_load_buf(json, collect, d);
}

/* expect_error - json fails to load with exactly one error naming msg */
static void expect_error(const char *json, const char *msg)
{
	struct diag_log d;
	struct cfg *c = load(json, &d);

	if (c || d.errors != 1 || !strstr(d.text, msg))
		fail_msg("%s: want one error \"%s\", got:\n%s", json, msg,
			 d.text);
}

static void test_odd_spellings(void **state)
{
	struct diag_log d;
	struct cfg *c;

	(void)state;
	/* quoted numbers and booleans (seed configs), bare seconds, a
	 * comma list with blanks, null keeping the default */
	c = load("{\"allowed_hosts\": \" a.example , b.example ,, \","
		 " \"pid_file\": \"/run/a\\\\\" // a \\\" b\n,"
		 " \"backend_config\": {\"gw_save_timeout\": 7,"
		 " \"keep_done\": \"TRUE\", \"log_received_mails\": \"false\","
		 " \"save_workers_size\": \"12\", \"retry_first\": null},"
		 " \"servers\": [{\"is_enabled\": \"False\"},"
		 " {\"max_size\": \"2048\"}]}",
		 &d);
	if (!c)
		fail_msg("%s", d.text);
	assert_int_equal(d.errors + d.warnings, 0);
	assert_int_equal(c->allowed_hosts.n, 2);
	assert_string_equal(c->pid_file, "/run/a\\");
	assert_string_equal(c->allowed_hosts.v[0], "a.example");
	assert_string_equal(c->allowed_hosts.v[1], "b.example");
	assert_int_equal(c->backend.gw_save_timeout, 7000);
	assert_int_equal(c->backend.keep_done, 1);
	assert_int_equal(c->backend.log_received_mails, 0);
	assert_int_equal(c->backend.save_workers_size, 12);
	assert_int_equal(c->backend.retry_first, 300000);
	assert_int_equal(c->servers[0].is_enabled, 0);
	assert_int_equal(c->servers[1].max_size, 2048);
	cfg_free(c);
	cfg_free(NULL);
}

static void test_caps_and_types(void **state)
{
	char *big, *p;
	size_t i, n;

	(void)state;
	expect_error("{\"backend_config\": {\"retry_first\": \"48h\"}}",
		     "backend_config.retry_first: duration out of range");
	expect_error("{\"backend_config\": {\"rescan_interval\": 0}}",
		     "duration out of range (100ms..");
	expect_error("{\"backend_config\": {\"keep_done\": \"yes\"}}",
		     "expected true or false, got a string");
	expect_error("{\"allowed_hosts\": [\"a\", null]}",
		     "allowed_hosts[1]: expected a string, got null");
	expect_error("{\"servers\": [{}, 7]}",
		     "servers[1]: expected an object, got a number");
	expect_error("{\"servers\": [{\"tls\": {\"public_key_file\":"
		     " [\"a.pem\", \"b.pem\"], \"private_key_file\":"
		     " [\"a.key\"]}}]}",
		     "servers[0].tls.private_key_file: needs one entry per");

	/* strings over 4096 bytes: a string key, a list given as one
	 * string, and one list element */
	big = malloc(4097 + 200);
	assert_non_null(big);
	memset(big, 'x', 4097);
	big[4097] = '\0';
	{
		char json[4400];

		snprintf(json, sizeof(json), "{\"pid_file\": \"%s\"}", big);
		expect_error(json, "pid_file: string longer than 4096 bytes");
		snprintf(json, sizeof(json), "{\"allowed_hosts\": \"%s\"}",
			 big);
		expect_error(json,
			     "allowed_hosts: string longer than 4096 bytes");
		snprintf(json, sizeof(json), "{\"allowed_hosts\": [\"%s\"]}",
			 big);
		expect_error(json,
			     "allowed_hosts[0]: string longer than 4096");
		/* 4096 itself is fine */
		big[4096] = '\0';
		snprintf(json, sizeof(json), "{\"pid_file\": \"%s\"}", big);
		{
			struct diag_log d;
			struct cfg *c = load(json, &d);

			assert_non_null(c);
			assert_int_equal(strlen(c->pid_file), 4096);
			cfg_free(c);
		}
	}
	free(big);

	/* 10001 list entries, 65 servers */
	n = 10001;
	big = malloc(n * 4 + 64);
	assert_non_null(big);
	p = big + snprintf(big, 64, "{\"allowed_hosts\": [");
	for (i = 0; i < n; i++)
		p += snprintf(p, 8, "%s\"a\"", i ? "," : "");
	memcpy(p, "]}", 3);
	expect_error(big, "allowed_hosts: more than 10000 entries");
	p = big + snprintf(big, 64, "{\"servers\": [");
	for (i = 0; i < 65; i++)
		p += snprintf(p, 8, "%s{}", i ? "," : "");
	memcpy(p, "]}", 3);
	expect_error(big, "servers: more than 64 entries");
	free(big);
}

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cfg_faults.XXXXXX");
	fail_alloc_at = alloc_calls = 0;
	fail_hostname = read_eintr = read_short = 0;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char p[300];

	(void)state;
	snprintf(p, sizeof(p), "%s/c.json", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* put - write n bytes as dir/c.json; its path */
static const char *put(const void *b, size_t n)
{
	static char p[300];
	int fd;

	snprintf(p, sizeof(p), "%s/c.json", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
	return p;
}

static void test_files(void **state)
{
	struct diag_log d = {{0}, 0, 0};
	struct cfg *c;
	const char *p;
	int fd;

	(void)state;
	c = cfg_load_file(dir, collect, &d);
	assert_null(c);
	assert_non_null(strstr(d.text, "not a regular file of at most"));

	memset(&d, 0, sizeof(d));
	p = put("{\"pid_file\": \"a\0b\"}", 19);
	assert_null(cfg_load_file(p, collect, &d));
	assert_non_null(strstr(d.text, "contains a NUL byte"));

	/* one byte over 1 MiB (sparse) */
	memset(&d, 0, sizeof(d));
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	assert_null(cfg_load_file(p, collect, &d));
	assert_non_null(strstr(d.text, "not a regular file of at most"));

	/* reads interrupted by signals are retried */
	memset(&d, 0, sizeof(d));
	p = put("{\"pid_file\": \"/run/x.pid\"}", 26);
	read_eintr = 2;
	c = cfg_load_file(p, collect, &d);
	assert_int_equal(read_eintr, 0);
	assert_non_null(c);
	assert_string_equal(c->pid_file, "/run/x.pid");
	cfg_free(c);

	/* a file that reads short loads what was read (here: nothing) */
	memset(&d, 0, sizeof(d));
	read_short = 1;
	assert_null(cfg_load_file(p, collect, &d));
	read_short = 0;
	assert_non_null(strstr(d.text, "not valid JSON"));

	/* the allocation for the text fails */
	memset(&d, 0, sizeof(d));
	fail_alloc_at = 1;
	assert_null(cfg_load_file(p, collect, &d));
	fail_alloc_at = 0;
	assert_non_null(strstr(d.text, "c.json: out of memory"));
}

static void test_no_hostname(void **state)
{
	struct diag_log d;
	struct cfg *c;

	(void)state;
	fail_hostname = 1;
	c = load("{\"servers\": [{}]}", &d);
	fail_hostname = 0;
	assert_non_null(c);
	assert_string_equal(c->servers[0].host_name, "localhost");
	assert_string_equal(c->backend.primary_mail_host, "localhost");
	cfg_free(c);
}

/* a config that takes every allocating path: defaults, lists as arrays and
 * as strings, every server key kind, two servers, backend_config */
static const char sweep_json[] =
	"{\"allowed_hosts\": [\"a.example\", \"b.example\"],"
	" \"log_file\": \"/tmp/x.log\", \"primary_mail_host\": \"mx\","
	" \"backend_config\": {\"save_process\": \"HeadersParser|Debugger\","
	" \"gw_save_timeout\": \"5s\"},"
	" \"servers\": [{\"listen_interface\": \"127.0.0.1:2525\","
	" \"tls\": {\"protocols\": \"tls1.2, tls1.3\","
	" \"public_key_file\": [\"a.pem\"], \"private_key_file\": [\"a.key\"]}},"
	" {\"host_name\": \"mx2.example\", \"listen_interface\": \":25\"}]}";

/* sweep_load - fail allocation 1, 2, ... of loading json until the load
 * makes no more; each failure must give NULL and one "out of memory".
 * Returns how many allocations the load makes. */
static long sweep_load(const char *json)
{
	struct diag_log d;
	struct cfg *c;
	long n;

	for (n = 1;; n++) {
		alloc_calls = 0;
		fail_alloc_at = n;
		c = load(json, &d);
		fail_alloc_at = 0;
		if (alloc_calls < n) {
			/* nothing failed: the sweep is over */
			if (!c)
				fail_msg("%s", d.text);
			cfg_free(c);
			return n - 1;
		}
		if (c)
			fail_msg("allocation %ld failed, config loaded", n);
		if (d.errors != 1 || !strstr(d.text, "out of memory"))
			fail_msg("allocation %ld: %s", n, d.text);
	}
}

static void test_oom_sweep_load(void **state)
{
	(void)state;
	/* the sweep reaches well into the loader */
	assert_true(sweep_load(sweep_json) > 40);
	/* no servers: the one default server */
	assert_true(sweep_load("{}") > 10);
}

static void test_oom_sweep_cjson(void **state)
{
	cJSON_Hooks h = {hook_malloc, free};
	cJSON_Hooks plain = {NULL, NULL};
	struct diag_log d;
	struct cfg *c;
	char *out;
	long n;

	(void)state;
	c = load(sweep_json, &d);
	assert_non_null(c);
	cJSON_InitHooks(&h);
	for (n = 1;; n++) {
		hook_calls = 0;
		hook_fail_at = n;
		out = cfg_dump(c);
		hook_fail_at = 0;
		if (hook_calls < n)
			break;
		assert_null(out);
	}
	assert_non_null(out);
	assert_non_null(strstr(out, "\"mx2.example\""));
	free(out);
	/* cJSON_Parse running out of memory fails the load (XXX: reported
	 * as "not valid JSON") */
	hook_calls = 0;
	hook_fail_at = 1;
	assert_null(load(sweep_json, &d));
	hook_fail_at = 0;
	assert_int_equal(d.errors, 1);
	cJSON_InitHooks(&plain);
	cfg_free(c);
	assert_true(n > 20);
}

static void test_diag_stderr(void **state)
{
	char buf[256];
	int p[2], save;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	fflush(stderr);
	save = dup(2);
	dup2(p[1], 2);
	close(p[1]);
	assert_null(cfg_load_buf("{\"spool_dir\": \"\", \"x\": 1}",
				 cfg_diag_stderr, "prog"));
	assert_null(cfg_load_buf("[]", cfg_diag_stderr, NULL));
	fflush(stderr);
	dup2(save, 2);
	close(save);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf,
			    "prog: config warning: x: unknown key, ignored\n"
			    "prog: config error: spool_dir: must not be "
			    "empty\n"
			    "smtpd: config error: the top level must be an "
			    "object\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_odd_spellings),
	    cmocka_unit_test(test_caps_and_types),
	    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
	    cmocka_unit_test(test_no_hostname),
	    cmocka_unit_test(test_oom_sweep_load),
	    cmocka_unit_test(test_oom_sweep_cjson),
	    cmocka_unit_test(test_diag_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
