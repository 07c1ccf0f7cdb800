/* test_publish.c - publish_*: every step made to fail (linked with --wrap
 * of write, fsync, close, renameat2, linkat, unlinkat, openat), and after
 * each failure what is visible in tmp/ and dst/; the order of the steps
 * (the directory fsync before the tmp name goes) from a trace of the
 * calls; the same for unnamed files (publish_open, O_TMPFILE), and the
 * fallbacks where O_TMPFILE or linkat AT_EMPTY_PATH is refused */
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
static int fail_rename, short_write, fail_link;
/* no_tmpfile: openat O_TMPFILE fails with EOPNOTSUPP; no_flink: linkat
 * AT_EMPTY_PATH fails with ENOENT (as without CAP_DAC_READ_SEARCH) */
static int no_tmpfile, no_flink;
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
	int e = take(&fail_link);

	note("L");
	if (!e && no_flink && (f & AT_EMPTY_PATH))
		e = ENOENT;
	if (e) {
		errno = e;
		return -1;
	}
	return __real_linkat(a, b, c, d, f);
}

int __real_openat(int d, const char *p, int f, ...);
int __wrap_openat(int d, const char *p, int f, ...)
{
	mode_t m = 0;
	va_list ap;

	va_start(ap, f);
	if (f & (O_CREAT | __O_TMPFILE))
		m = (mode_t)va_arg(ap, unsigned);
	va_end(ap);
	if (no_tmpfile && (f & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return __real_openat(d, p, f, m);
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
	fail_rename = short_write = fail_link = 0;
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

/* upub - publish_open of TEXT in tmp/, commit as dst/m; *named says
 * whether the file had a tmp name */
static int upub(const char *text, int *named)
{
	const char *tmpname = "t";
	int fd = publish_open(tmpfd, &tmpname, 0640, 0);

	*named = tmpname != NULL;
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		publish_abort(fd, tmpfd, tmpname);
		return -1;
	}
	return publish_commit(fd, tmpfd, tmpname, dstfd, "m", 0);
}

/* unnamed: no name in tmp/ at any point, data and name durable before
 * the fd goes: fsync, link, close, fsync(dst) */
static void test_unnamed_ok(void **state)
{
	const char *tmpname = "t";
	struct stat st;
	int fd, named;

	(void)state;
	fd = publish_open(tmpfd, &tmpname, 0640, 0);
	assert_true(fd >= 0);
	assert_null(tmpname);
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(ls("dst"), "");
	trace[0] = '\0';
	assert_int_equal(publish_commit(fd, tmpfd, tmpname, dstfd, "m", 0), 0);
	assert_string_equal(trace, "F L C D");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(slurp("dst", "m"), "hello");
	assert_int_equal(fstatat(dstfd, "m", &st, 0), 0);
	assert_int_equal(st.st_nlink, 1);
	/* never over an existing name */
	trace[0] = '\0';
	errno = 0;
	assert_int_equal(upub("new", &named), -1);
	assert_int_equal(errno, EEXIST);
	assert_false(named);
	assert_string_equal(trace, "W F L C");
	assert_string_equal(slurp("dst", "m"), "hello");
	assert_string_equal(ls("tmp"), "");
}

/* unnamed: each failure leaves nothing, before the link and after */
static void test_unnamed_failures(void **state)
{
	static const struct {
		int *arm, err;
		const char *trace;
	} c[] = {
		{&fail_write, ENOSPC, "W C"},
		{&fail_fsync_file, EIO, "W F C"},
		{&fail_link, EMLINK, "W F L C"},
		{&fail_close, EIO, "W F L C U"},
		{&fail_fsync_dir, EIO, "W F L C D U"},
	};
	size_t i;
	int named;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		trace[0] = '\0';
		*c[i].arm = c[i].err;
		errno = 0;
		if (upub("some bytes", &named) != -1 || errno != c[i].err)
			fail_msg("case %zu: errno %d", i, errno);
		if (named)
			fail_msg("case %zu: named", i);
		if (strcmp(trace, c[i].trace))
			fail_msg("case %zu: trace \"%s\"", i, trace);
		if (strcmp(ls("tmp"), "") || strcmp(ls("dst"), ""))
			fail_msg("case %zu: tmp \"%s\" dst \"%s\"", i,
				 ls("tmp"), ls("dst"));
	}
	assert_int_equal(upub("x", &named), 0);
	assert_string_equal(slurp("dst", "m"), "x");
	/* and abort: the fd goes, nothing to unlink */
	{
		const char *tmpname = "t";
		int fd = publish_open(tmpfd, &tmpname, 0640, 0);

		assert_true(fd >= 0);
		trace[0] = '\0';
		publish_abort(fd, tmpfd, tmpname);
		assert_string_equal(trace, "C");
		assert_string_equal(ls("tmp"), "");
	}
}

/* where linkat AT_EMPTY_PATH is refused: through /proc/self/fd, and
 * only that from then on (these run last: the process remembers) */
static void test_unnamed_proc_link(void **state)
{
	int named;

	(void)state;
	no_flink = 1;
	assert_int_equal(upub("via proc", &named), 0);
	assert_false(named);
	assert_string_equal(trace, "W F L L C D");
	assert_string_equal(slurp("dst", "m"), "via proc");
	unlinkat(dstfd, "m", 0);
	trace[0] = '\0';
	assert_int_equal(upub("again", &named), 0);
	assert_string_equal(trace, "W F L C D");
	no_flink = 0;
}

/* where the file system has no O_TMPFILE: the named sequence */
static void test_unnamed_fallback(void **state)
{
	int named;

	(void)state;
	no_tmpfile = 1;
	assert_int_equal(upub("named", &named), 0);
	assert_true(named);
	assert_string_equal(trace, "W F C R D");
	assert_string_equal(ls("tmp"), "");
	assert_string_equal(slurp("dst", "m"), "named");
	no_tmpfile = 0;
	/* remembered: no second O_TMPFILE try */
	unlinkat(dstfd, "m", 0);
	assert_int_equal(upub("named", &named), 0);
	assert_true(named);
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
		cmocka_unit_test_setup_teardown(test_unnamed_ok, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unnamed_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unnamed_proc_link, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unnamed_fallback, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
