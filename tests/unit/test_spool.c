/* test_spool.c - the durable write: atomicity under injected failures of
 * write, fsync and the naming step (rename or link; linked with --wrap),
 * on the unnamed (O_TMPFILE) path and on the named one (openat wrapped
 * to refuse O_TMPFILE, as a file system without it); unique ids across
 * concurrent processes, the free-space check */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"

/* failure injection: the Nth call fails with errno (0 = never) */
static int fail_fsync_at, fail_write_at, fail_rename;
static int fsync_calls, write_calls;
static int fail_errno = EIO;

int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
	if (fail_fsync_at && ++fsync_calls == fail_fsync_at) {
		errno = fail_errno;
		return -1;
	}
	return __real_fsync(fd);
}

ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	if (fail_write_at && fd > 2 && ++write_calls >= fail_write_at) {
		errno = fail_errno;
		return -1;
	}
	return __real_write(fd, p, n);
}

/* the naming step: linkat on the unnamed path */
int __real_linkat(int a, const char *b, int c, const char *d, int f);
int __wrap_linkat(int a, const char *b, int c, const char *d, int f)
{
	if (fail_rename) {
		errno = fail_errno;
		return -1;
	}
	return __real_linkat(a, b, c, d, f);
}

/* no_tmpfile: refuse O_TMPFILE (EOPNOTSUPP); made_in: the directory of
 * the last O_TMPFILE open */
static int no_tmpfile;
static char made_in[512];

int __real_openat(int d, const char *p, int f, ...);
int __wrap_openat(int d, const char *p, int f, ...)
{
	mode_t m = 0;
	va_list ap;

	va_start(ap, f);
	if (f & (O_CREAT | __O_TMPFILE))
		m = (mode_t)va_arg(ap, unsigned);
	va_end(ap);
	if ((f & O_TMPFILE) == O_TMPFILE) {
		char l[64];
		ssize_t n;

		if (no_tmpfile) {
			errno = EOPNOTSUPP;
			return -1;
		}
		snprintf(l, sizeof(l), "/proc/self/fd/%d", d);
		n = readlink(l, made_in, sizeof(made_in) - 1);
		made_in[n > 0 ? n : 0] = '\0';
	}
	return __real_openat(d, p, f, m);
}

int __real_renameat2(int a, const char *b, int c, const char *d,
                     unsigned f);
int __wrap_renameat2(int a, const char *b, int c, const char *d, unsigned f)
{
	if (fail_rename) {
		errno = fail_errno;
		return -1;
	}
	return __real_renameat2(a, b, c, d, f);
}

static char dir[256];

static int count(const char *sub)
{
	char p[300];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	char p[300];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_spool.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/tmp", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/new", dir);
	mkdir(p, 0755);
	fail_fsync_at = fail_write_at = fail_rename = 0;
	fsync_calls = write_calls = 0;
	fail_errno = EIO;
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *rcpts[] = {"x@example.com", "y@example.com"};

static void envelope(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->host = "mx.test";
	env->sender = "a@b.c";
	env->rcpts = rcpts;
	env->nrcpts = 2;
	env->client_ip = "192.0.2.1";
	env->client_port = 4242;
	env->helo = "client.test";
	env->protocol = "ESMTP";
	env->tls = "none";
	env->body = "7BIT";
	env->size = -1;
}

/* one_entry - begin, write body, commit; the result of commit */
static int one_entry(struct spool *sp, const char *body)
{
	struct envelope env;

	envelope(&env);
	if (spool_begin(sp, &env) < 0)
		return -2;
	spool_write(sp, body, strlen(body));
	return spool_commit(sp, (long long)strlen(body));
}

static void test_commit_ok(void **state)
{
	struct spool sp;
	struct envelope env;
	char p[400];
	const char *err;
	int fd;

	(void)state;
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	assert_int_equal(one_entry(&sp, "Subject: x\r\n\r\nbody\r\n"), 0);
	assert_int_equal(count("new"), 1);
	assert_int_equal(count("tmp"), 0);
	snprintf(p, sizeof(p), "%s/new/%s", dir, sp.id);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(entry_read_fd(fd, &env, &err), 0);
	assert_int_equal(env.size, 20);
	assert_int_equal(env.nrcpts, 2);
	assert_string_equal(env.queue_id, sp.id);
	{
		char body[64];
		ssize_t n = pread(fd, body, sizeof(body), (off_t)env.data_off);

		assert_int_equal(n, 20);
		assert_memory_equal(body, "Subject: x\r\n\r\nbody\r\n", 20);
	}
	entry_free(&env);
	close(fd);
	spool_close(&sp);
}

/* every failure point leaves new/ and tmp/ empty */
static void test_failures_leave_nothing(void **state)
{
	struct spool sp;
	int i;
	char big[40000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 6; i++) {
		fail_fsync_at = fail_write_at = fail_rename = 0;
		fsync_calls = write_calls = 0;
		fail_errno = i == 5 ? ENOSPC : EIO;
		switch (i) {
		case 0: fail_fsync_at = 1; break; /* the file */
		case 1: fail_fsync_at = 2; break; /* the directory */
		case 2: fail_rename = 1; break;
		case 3: fail_write_at = 2; break; /* the body */
		case 4: fail_write_at = 1; break; /* the envelope */
		case 5: fail_write_at = 2; break;
		}
		spool_init(&sp);
		assert_int_equal(spool_open_dirs(&sp, dir), 0);
		if (one_entry(&sp, big) >= 0)
			fail_msg("failure point %d: commit succeeded", i);
		if (i != 4 && sp.err != fail_errno)
			fail_msg("failure point %d: err %d", i, sp.err);
		spool_close(&sp);
		if (count("new") || count("tmp"))
			fail_msg("failure point %d: new %d tmp %d", i,
				 count("new"), count("tmp"));
	}
	/* and the spool works again afterwards */
	fail_fsync_at = fail_write_at = fail_rename = 0;
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	assert_int_equal(one_entry(&sp, "x\r\n"), 0);
	spool_close(&sp);
	assert_int_equal(count("new"), 1);
}

static void test_abort(void **state)
{
	struct spool sp;
	struct envelope env;

	(void)state;
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	envelope(&env);
	assert_int_equal(spool_begin(&sp, &env), 0);
	/* unnamed while written, unless the file system cannot */
	assert_true(sp.fd >= 0);
	assert_int_equal(count("tmp"), no_tmpfile ? 1 : 0);
	assert_true(no_tmpfile ? sp.tmpname != NULL : sp.tmpname == NULL);
	spool_abort(&sp);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(count("new"), 0);
	spool_close(&sp);
}

/* a forged recipient cannot be written */
static void test_forged_field_refused(void **state)
{
	struct spool sp;
	struct envelope env;
	char *bad[] = {"x@example.com\r\nX-Spool-Recipient: <evil@x>"};

	(void)state;
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	envelope(&env);
	env.rcpts = bad;
	env.nrcpts = 1;
	assert_int_equal(spool_begin(&sp, &env), -1);
	assert_int_equal(count("tmp"), 0);
	spool_close(&sp);
}

/* 20 processes x 50 entries at once: 1000 distinct files */
static void test_unique_ids_concurrent(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct spool sp;
			int k, bad = 0;

			spool_init(&sp);
			if (spool_open_dirs(&sp, dir) < 0)
				_exit(2);
			for (k = 0; k < 50; k++)
				if (one_entry(&sp, "m\r\n") != 0)
					bad++;
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < 20; i++) {
		int st;

		wait(&st);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(count("new"), 1000);
	assert_int_equal(count("tmp"), 0);
}

static void test_space_and_missing_dirs(void **state)
{
	struct spool sp;
	char p[300];

	(void)state;
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	assert_int_equal(spool_space_ok(&sp, 0, 0), 1);
	assert_int_equal(spool_space_ok(&sp, 0, 1LL << 60), 0);
	spool_close(&sp);
	snprintf(p, sizeof(p), "%s/nonexistent", dir);
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, p), -1);
	assert_int_equal(sp.tmpfd, -1);
	spool_close(&sp);
}

/* the unnamed file is made in tmp/ (its inode allocated near it) */
static void test_made_in_tmp(void **state)
{
	struct spool sp;
	char want[300];

	(void)state;
	if (no_tmpfile)
		skip();
	spool_init(&sp);
	assert_int_equal(spool_open_dirs(&sp, dir), 0);
	assert_int_equal(one_entry(&sp, "x\r\n"), 0);
	spool_close(&sp);
	snprintf(want, sizeof(want), "%s/tmp", dir);
	assert_string_equal(made_in, want);
}

/* the named path, where the file system has no O_TMPFILE: the same
 * tests again (the process remembers the refusal: these go last) */
static void test_named_path(void **state)
{
	no_tmpfile = 1;
	test_failures_leave_nothing(state);
}

static void test_named_abort(void **state)
{
	test_abort(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_ok, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failures_leave_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_field_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_ids_concurrent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_space_and_missing_dirs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_made_in_tmp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_named_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_named_abort, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
