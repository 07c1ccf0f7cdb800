/* test_scan.c - scan.c: opening (and making) the spool layout, entry
 * names, listing, claiming new/ID into cur/ (lost races, a lock held by
 * another deliverer or one just let go, things that are not regular files
 * refused with a reason), and the sweeps of old tmp/ files and orphaned
 * state/ files */
#include "testutil.h"

#include <errno.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <utime.h>

#include "scan.h"

static char *dir;
static struct sd_spool sp;

static int setup(void **state)
{
	const char *what;

	(void)state;
	dir = tu_tmpdir();
	return scan_open(&sp, dir, 0, &what);
}

static int teardown(void **state)
{
	(void)state;
	scan_close(&sp);
	tu_rm_rf(dir);
	free(dir);
	return 0;
}

/* touch - an empty file name in dirfd, mtime set to t (0: now) */
static void touch(int dirfd, const char *name, time_t t)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	if (t) {
		struct timespec ts[2] = {{t, 0}, {t, 0}};

		assert_int_equal(futimens(fd, ts), 0);
	}
	close(fd);
}

/* exists - is name in dirfd? */
static int exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_open(void **state)
{
	struct sd_spool s2;
	const char *what;
	char p[300];
	int fd;

	(void)state;
	/* a missing spool directory is made, with every sub-directory */
	snprintf(p, sizeof(p), "%s/fresh", dir);
	assert_int_equal(scan_open(&s2, p, 1, &what), 0);
	assert_true(s2.done >= 0);
	assert_true(exists(s2.dir, "done"));
	assert_true(exists(s2.dir, "state"));
	scan_close(&s2);
	assert_int_equal(s2.dir, -1);
	assert_int_equal(s2.tmp, -1);
	/* without keep_done there is no done/ */
	assert_int_equal(scan_open(&s2, p, 0, &what), 0);
	assert_int_equal(s2.done, -1);
	scan_close(&s2);

	/* a file where cur/ should be: fails naming "cur", all closed */
	snprintf(p, sizeof(p), "%s/blocked", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	fd = open(p, O_RDONLY | O_DIRECTORY);
	touch(fd, "cur", 0);
	close(fd);
	errno = 0;
	assert_int_equal(scan_open(&s2, p, 0, &what), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_string_equal(what, "cur");
	assert_int_equal(s2.dir, -1);
	assert_int_equal(s2.new, -1);

	/* the spool path is a file, or under one */
	snprintf(p, sizeof(p), "%s/blocked/cur", dir);
	assert_int_equal(scan_open(&s2, p, 0, &what), -1);
	assert_string_equal(what, p);
	snprintf(p, sizeof(p), "%s/blocked/cur/x", dir);
	assert_int_equal(scan_open(&s2, p, 0, &what), -1);
	assert_string_equal(what, p);
}

static void test_names(void **state)
{
	char longname[256];

	(void)state;
	assert_true(scan_name_ok("1764078600.M1P2Q3"));
	assert_true(scan_name_ok("a_b-c.d"));
	assert_true(scan_name_ok("x.reason2"));
	assert_false(scan_name_ok(""));
	assert_false(scan_name_ok("."));
	assert_false(scan_name_ok(".hidden"));
	assert_false(scan_name_ok("a b"));
	assert_false(scan_name_ok("a/b"));
	assert_false(scan_name_ok("caf\xc3\xa9"));
	assert_false(scan_name_ok("1.M1P2Q3.reason"));
	assert_true(scan_name_ok("reason"));
	memset(longname, 'a', 201);
	longname[201] = '\0';
	assert_false(scan_name_ok(longname));
	longname[200] = '\0';
	assert_true(scan_name_ok(longname));
}

/* count - scan_list callback */
static void count(void *arg, const char *name)
{
	(void)name;
	(*(int *)arg)++;
}

static void test_list(void **state)
{
	int n = 0;

	(void)state;
	touch(sp.new, "a", 0);
	touch(sp.new, "b", 0);
	touch(sp.new, ".c", 0);
	touch(sp.new, "b.reason", 0);
	assert_int_equal(scan_list(sp.new, count, &n), 2);
	assert_int_equal(n, 2);
	/* a second listing of the same fd starts from the top */
	assert_int_equal(scan_list(sp.new, count, &n), 2);
	assert_int_equal(scan_list(-1, count, &n), -1);
	/* dup works on any fd, fdopendir only on a directory */
	assert_int_equal(scan_list(0, count, &n), -1);
	assert_int_equal(n, 4);
}

static void test_claim(void **state)
{
	char why[200];
	int fd, other;

	(void)state;
	touch(sp.new, "m1", 0);
	fd = scan_claim(&sp, sp.new, "m1", why, sizeof(why));
	assert_true(fd >= 0);
	assert_false(exists(sp.new, "m1"));
	assert_true(exists(sp.cur, "m1"));

	/* recovery of cur/: held by a live deliverer, so skipped */
	errno = 0;
	assert_int_equal(scan_claim(&sp, sp.cur, "m1", why, sizeof(why)), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);
	fd = scan_claim(&sp, sp.cur, "m1", why, sizeof(why));
	assert_true(fd >= 0);
	close(fd);

	/* another spoolerd got there first */
	errno = 0;
	assert_int_equal(scan_claim(&sp, sp.new, "m1", why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(scan_claim(&sp, sp.cur, "gone", why, sizeof(why)),
			 -1);
	assert_int_equal(errno, ENOENT);

	/* not a regular file: claimed, never opened, SCAN_BAD with the
	 * reason; the caller moves it aside (putting it back into new/
	 * made spoolerd spin on it) */
	assert_int_equal(mkdirat(sp.new, "d1", 0700), 0);
	assert_int_equal(scan_claim(&sp, sp.new, "d1", why, sizeof(why)),
			 SCAN_BAD);
	assert_string_equal(why, "not a regular file: a directory");
	assert_false(exists(sp.new, "d1"));
	assert_true(exists(sp.cur, "d1"));
	assert_int_equal(symlinkat("/etc/passwd", sp.new, "l1"), 0);
	assert_int_equal(scan_claim(&sp, sp.new, "l1", why, sizeof(why)),
			 SCAN_BAD);
	assert_string_equal(why, "not a regular file: a symbolic link");
	assert_true(exists(sp.cur, "l1"));
	/* a FIFO is never opened (it would block) */
	assert_int_equal(mkfifoat(sp.new, "f1", 0600), 0);
	assert_int_equal(scan_claim(&sp, sp.new, "f1", why, sizeof(why)),
			 SCAN_BAD);
	assert_string_equal(why, "not a regular file: a FIFO");
	/* in cur/ already: the same */
	assert_int_equal(mkdirat(sp.cur, "d2", 0700), 0);
	assert_int_equal(scan_claim(&sp, sp.cur, "d2", why, sizeof(why)),
			 SCAN_BAD);
	assert_true(exists(sp.cur, "d2"));

	/* a lock held through another open file description of the entry */
	touch(sp.new, "m2", 0);
	other = openat(sp.new, "m2", O_RDONLY);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX), 0);
	assert_int_equal(scan_claim(&sp, sp.new, "m2", why, sizeof(why)), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(other);

	/* a deliverer that settled the entry (moved it out of cur/) still
	 * holds its lock for a moment when an admin moves it back: the
	 * claim waits for that instead of stranding it in cur/ */
	touch(sp.new, "m3", 0);
	other = openat(sp.new, "m3", O_RDONLY);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX), 0);
	{
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			usleep(100000);
			_exit(0); /* the lock goes with the last fd */
		}
		close(other); /* the child's copy holds it now */
		fd = scan_claim(&sp, sp.new, "m3", why, sizeof(why));
		assert_true(fd >= 0);
		close(fd);
		waitpid(pid, NULL, 0);
	}
}

static void test_clean_tmp(void **state)
{
	time_t now = time(NULL);

	(void)state;
	touch(sp.tmp, "old", now - 40 * 3600);
	touch(sp.tmp, "young", now - 3600);
	assert_int_equal(mkdirat(sp.tmp, "olddir", 0700), 0);
	assert_int_equal(scan_clean_tmp(&sp, now, 36 * 3600), 1);
	assert_false(exists(sp.tmp, "old"));
	assert_true(exists(sp.tmp, "young"));
	assert_true(exists(sp.tmp, "olddir"));
	assert_int_equal(scan_clean_tmp(&sp, now, 36 * 3600), 0);
}

static void test_clean_state(void **state)
{
	(void)state;
	/* state of entries that exist somewhere is kept */
	touch(sp.defer, "e1", 0);
	touch(sp.state, "e1", 0);
	touch(sp.cur, "e2", 0);
	touch(sp.state, "e2.mbox", 0);
	touch(sp.failed, "e3", 0);
	touch(sp.state, "e3", 0);
	/* orphans go, a retry_save cut short too */
	touch(sp.state, "gone", 0);
	touch(sp.state, "gone.mbox", 0);
	touch(sp.state, ".e1.tmp", 0);
	touch(sp.state, ".x", 0);
	assert_int_equal(scan_clean_state(&sp), 3);
	assert_true(exists(sp.state, "e1"));
	assert_true(exists(sp.state, "e2.mbox"));
	assert_true(exists(sp.state, "e3"));
	assert_true(exists(sp.state, ".x"));
	assert_false(exists(sp.state, "gone"));
	assert_false(exists(sp.state, "gone.mbox"));
	assert_false(exists(sp.state, ".e1.tmp"));
	/* no state directory at all: nothing to do */
	{
		int keep = sp.state;

		sp.state = -1;
		assert_int_equal(scan_clean_state(&sp), 0);
		sp.state = keep;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clean_state, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
