/* test_publish.c - publish_*: every step made to fail (linked with --wrap
 * of write, fsync, close, renameat2, linkat, unlinkat), and after each
 * failure what is visible in tmp/ and dst/; the order of the steps (the
 * directory fsync before the tmp name goes) from a trace of the calls */
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
#include <unistd.h>

#include "publish.h"

/* injected failures: the first call of that kind fails with this errno
 * (0 = never); fsync is told apart by what it syncs */
static int fail_write, fail_fsync_file, fail_fsync_dir, fail_close;
static int fail_rename, short_write;
/* calls made while tracing, in order: W write, F fsync(file), D
 * fsync(dir), C close, R renameat2, L linkat, U unlinkat */
static char trace[256];
static int tracing;

static void note(const char *what)
{
	size_t n = strlen(trace);

	if (tracing && n + 3 < sizeof(trace))
		snprintf(trace + n, sizeof(trace) - n, "%s%s", n ? " " : "",
			 what);
}

/* take - the errno to fail with now (and disarm), or 0 */
static int take(int *armed)
{
	int e = *armed;

	*armed = 0;
	return e;
}

ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	int e;

	if (fd <= 2)
		return __real_write(fd, p, n);
	note("W");
	if (short_write && n > 1) {
		/* half now, then the disk is full */
		short_write = 0;
		fail_write = ENOSPC;
		return __real_write(fd, p, n / 2);
	}
	e = take(&fail_write);
	if (e) {
		errno = e;
		return -1;
	}
	return __real_write(fd, p, n);
}

int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
	struct stat st;
	int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	int e = take(dir ? &fail_fsync_dir : &fail_fsync_file);

	note(dir ? "D" : "F");
	if (e) {
		errno = e;
		return -1;
	}
	return __real_fsync(fd);
}

int __real_close(int fd);
int __wrap_close(int fd)
{
	int e;

	if (!tracing)
		return __real_close(fd);
	note("C");
	e = take(&fail_close);
	if (e) {
		/* as NFS does: the fd is gone, the error reported */
		__real_close(fd);
		errno = e;
		return -1;
	}
	return __real_close(fd);
}

int __real_renameat2(int a, const char *b, int c, const char *d,
                     unsigned f);
int __wrap_renameat2(int a, const char *b, int c, const char *d, unsigned f)
{
	int e = take(&fail_rename);

	note("R");
	if (e) {
		errno = e;
		return -1;
	}
	return __real_renameat2(a, b, c, d, f);
}

int __real_linkat(int a, const char *b, int c, const char *d, int f);
int __wrap_linkat(int a, const char *b, int c, const char *d, int f)
{
	note("L");
	return __real_linkat(a, b, c, d, f);
}

int __real_unlinkat(int d, const char *name, int f);
int __wrap_unlinkat(int d, const char *name, int f)
{
	note("U");
	return __real_unlinkat(d, name, f);
}

static char dir[256];
static int tmpfd, dstfd;

/* ls - the names in dir/SUB, dot files included, sorted, space-joined */
static const char *ls(const char *sub)
{
	static char out[512];
	struct dirent **v;
	char p[300];
	int i, n;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	n = scandir(p, &v, NULL, alphasort);
	assert_true(n >= 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t l = strlen(out);

		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
			snprintf(out + l, sizeof(out) - l, "%s%s",
				 l ? " " : "", v[i]->d_name);
		free(v[i]);
	}
	free(v);
	return out;
}

/* slurp - the content of dir/SUB/NAME */
static const char *slurp(const char *sub, const char *name)
{
	static char out[256];
	char p[600];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, out, sizeof(out) - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	return out;
}

/* put - dir/SUB/NAME with TEXT, made without the code under test */
static void put(const char *sub, const char *name, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[300];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_publish.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/tmp", dir);
	mkdir(p, 0755);
	tmpfd = open(p, O_RDONLY | O_DIRECTORY);
	snprintf(p, sizeof(p), "%s/dst", dir);
	mkdir(p, 0755);
	dstfd = open(p, O_RDONLY | O_DIRECTORY);
	fail_write = fail_fsync_file = fail_fsync_dir = fail_close = 0;
	fail_rename = short_write = 0;
	trace[0] = '\0';
	tracing = 1;
	return tmpfd >= 0 && dstfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	tracing = 0;
	close(tmpfd);
	close(dstfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* pub - publish_file of TEXT as tmp/t -> dst/m */
static int pub(const char *text, int flags)
{
	return publish_file(tmpfd, "t", dstfd, "m", 0640, text, strlen(text),
			    flags);
}

static void test_ok(void **state)
{
	struct stat st;
	mode_t um = umask(0);

	(void)state;
	umask(um);
	assert_int_equal(pub("hello", 0), 0);
	assert_string_equal(trace, "W F C R D");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "hello");
	assert_int_equal(fstatat(dstfd, "m", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~um);
}

/* each failure before the name exists: -1, errno, nothing anywhere */
static void test_fail_before_rename(void **state)
{
	static const struct {
		int *arm, err;
		const char *trace;
	} c[] = {
		{&fail_write, EIO, "W C U"},
		{&short_write, 1, "W W C U"}, /* then ENOSPC */
		{&fail_fsync_file, EIO, "W F C U"},
		{&fail_close, EIO, "W F C U"},
		{&fail_rename, EXDEV, "W F C R U"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int e = c[i].arm == &short_write ? ENOSPC : c[i].err;

		trace[0] = '\0';
		*c[i].arm = c[i].err;
		errno = 0;
		if (pub("some bytes", 0) != -1 || errno != e)
			fail_msg("case %zu: errno %d", i, errno);
		if (strcmp(trace, c[i].trace))
			fail_msg("case %zu: trace \"%s\"", i, trace);
		if (strcmp(ls("tmp"), "") || strcmp(ls("dst"), ""))
			fail_msg("case %zu: tmp \"%s\" dst \"%s\"", i,
				 ls("tmp"), ls("dst"));
	}
	/* and the same names work afterwards */
	assert_int_equal(pub("x", 0), 0);
	assert_string_equal(ls("dst"), "m");
}

/* the destination is never overwritten, on either path */
static void test_eexist(void **state)
{
	(void)state;
	put("dst", "m", "old");
	errno = 0;
	assert_int_equal(pub("new", 0), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "old");

	fail_rename = EINVAL; /* linkat refuses too */
	trace[0] = '\0';
	errno = 0;
	assert_int_equal(pub("new", 0), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(trace, "W F C R L U");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(slurp("dst", "m"), "old");
}

/* no RENAME_NOREPLACE (EINVAL from the file system, ENOSYS from an old
 * kernel): link, fsync the directory, and only then unlink the tmp name */
static void test_link_path(void **state)
{
	int errs[] = {EINVAL, ENOSYS};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		unlinkat(dstfd, "m", 0);
		trace[0] = '\0';
		fail_rename = errs[i];
		assert_int_equal(pub("linked", 0), 0);
		assert_string_equal(trace, "W F C R L D U");
		assert_string_equal(ls("tmp"), "");
		assert_string_equal(ls("dst"), "m");
		assert_string_equal(slurp("dst", "m"), "linked");
	}
}

/* a failed directory fsync takes the new name back, on both paths */
static void test_fsync_dir_fails(void **state)
{
	(void)state;
	fail_fsync_dir = EIO;
	errno = 0;
	assert_int_equal(pub("x", 0), -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(trace, "W F C R D U");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "");

	trace[0] = '\0';
	fail_rename = EINVAL;
	fail_fsync_dir = EIO;
	errno = 0;
	assert_int_equal(pub("x", 0), -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(trace, "W F C R L D U U");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "");
}

/* a leftover tmp name that is also the published file (a crash on the
 * link path) must not be truncated or reused */
static void test_stale_tmp(void **state)
{
	(void)state;
	put("dst", "old", "published");
	assert_int_equal(linkat(dstfd, "old", tmpfd, "t", 0), 0);
	errno = 0;
	assert_int_equal(publish_create(tmpfd, "t", 0600, 0), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(pub("fresh", PUBLISH_STALE), 0);
	assert_string_equal(slurp("dst", "old"), "published");
	assert_string_equal(slurp("dst", "m"), "fresh");
	assert_string_equal(ls("tmp"), "");
}

/* PUBLISH_REPLACE: the state file, tmp name in the same directory */
static void test_replace(void **state)
{
	int r;

	(void)state;
	put("dst", "m", "v1");
	put("dst", ".m.tmp", "torn"); /* a crash's leftover */
	assert_int_equal(publish_file(dstfd, ".m.tmp", dstfd, "m", 0600, "v2",
				      2, PUBLISH_STALE | PUBLISH_REPLACE),
			 0);
	/* renameat is not traced: between C and D */
	assert_string_equal(trace, "U W F C D");
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "v2");

	/* failures before the rename keep the old version */
	fail_fsync_file = EIO;
	r = publish_file(dstfd, ".m.tmp", dstfd, "m", 0600, "v3", 2,
			 PUBLISH_STALE | PUBLISH_REPLACE);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "v2");
	fail_write = ENOSPC;
	r = publish_file(dstfd, ".m.tmp", dstfd, "m", 0600, "v3", 2,
			 PUBLISH_STALE | PUBLISH_REPLACE);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ENOSPC);
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "v2");
	fail_close = EIO;
	r = publish_file(dstfd, ".m.tmp", dstfd, "m", 0600, "v3", 2,
			 PUBLISH_STALE | PUBLISH_REPLACE);
	assert_int_equal(r, -1);
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "v2");

	/* after the rename: the new version, whole, but not promised */
	fail_fsync_dir = EIO;
	r = publish_file(dstfd, ".m.tmp", dstfd, "m", 0600, "v4", 2,
			 PUBLISH_STALE | PUBLISH_REPLACE);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(ls("dst"), "m");
	assert_string_equal(slurp("dst", "m"), "v4");
}

/* the caller's own writes, then abort: nothing left, errno kept */
static void test_create_abort(void **state)
{
	int fd;

	(void)state;
	fd = publish_create(tmpfd, "t", 0640, 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_string_equal(ls("tmp"), "t");
	errno = ENOSPC;
	publish_abort(fd, tmpfd, "t");
	assert_int_equal(errno, ENOSPC);
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "");
	/* a symlink planted as the tmp name is not followed */
	assert_int_equal(symlinkat("../dst/x", tmpfd, "s"), 0);
	assert_int_equal(publish_create(tmpfd, "s", 0640, 0), -1);
	assert_string_equal(ls("dst"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_before_rename, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eexist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsync_dir_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_abort, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
