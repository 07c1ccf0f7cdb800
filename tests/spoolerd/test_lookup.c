/* test_lookup.c - the rcpt_check file table: parsing (comments, blank
 * lines, spaces, bad lines counted), case folding, @domain, a hash and
 * not a scan (a large table), and the file reloaded on change */
#include "testutil.h"
#include "lookup.h"

#include <time.h>

static void test_parse(void **st)
{
	static const char text[] =
		"# recipients\n"
		"alice@example.com\n"
		"  Bob@Example.COM   # bob\n"
		"\n"
		"\t@Example.ORG\r\n"
		"j\xc3\xb6rg@xn--bcher-kva.example\n"
		"no-at-sign\n"
		"trailing@\n"
		"two words@example.com\n"
		"alice@example.com\n"
		"last@example.net";
	struct lktab t;
	size_t bad, first;

	(void)st;
	assert_int_equal(lktab_load(&t, text, sizeof(text) - 1, &bad, &first),
			 0);
	assert_int_equal(t.n, 5);
	assert_int_equal(bad, 3);
	assert_int_equal(first, 7);
	assert_true(lktab_match(&t, "alice@example.com"));
	assert_true(lktab_match(&t, "bob@example.com"));
	assert_false(lktab_match(&t, "Bob@Example.COM")); /* folded keys */
	assert_true(lktab_match(&t, "anyone@example.org"));
	assert_true(lktab_match(&t, "j\xc3\xb6rg@xn--bcher-kva.example"));
	assert_true(lktab_match(&t, "last@example.net"));
	assert_false(lktab_match(&t, "carol@example.com"));
	assert_false(lktab_match(&t, "bob@example.comx"));
	assert_false(lktab_match(&t, "@example.com"));
	assert_false(lktab_match(&t, "recipients"));
	assert_false(lktab_match(&t, "no-at-sign"));
	lktab_free(&t);
	assert_int_equal(lktab_load(&t, "", 0, &bad, &first), 0);
	assert_int_equal(t.n, 0);
	assert_false(lktab_match(&t, "a@b"));
	lktab_free(&t);
}

static void test_large(void **st)
{
	size_t n = 200000, i, len = 0, bad, first;
	char *buf = malloc(n * 32);
	struct lktab t;
	struct timespec a, b;
	char key[64];
	double secs;

	(void)st;
	assert_non_null(buf);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, 32, "user%zu@example.com\n",
					i);
	assert_int_equal(lktab_load(&t, buf, len, &bad, &first), 0);
	assert_int_equal(t.n, n);
	assert_true(t.cap >= 2 * n);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "user%zu@example.com", i);
		assert_true(lktab_has(&t, key));
		snprintf(key, sizeof(key), "nouser%zu@example.com", i);
		assert_false(lktab_has(&t, key));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	/* 400000 lookups in a list of 200000 would take minutes */
	assert_true(secs < 5.0);
	lktab_free(&t);
	free(buf);
}

static void write_file(const char *path, const char *text)
{
	char tmp[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_file_reload(void **st)
{
	char dir[] = "/tmp/test_lookup.XXXXXX", path[256], why[256];
	struct lkfile f;

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rcpts", dir);
	memset(&f, 0, sizeof(f));
	f.path = path;
	/* missing: a failure, never an empty list */
	assert_int_equal(lkfile_lookup(&f, "a@b.c", why, sizeof(why)),
			 LK_TEMP);
	assert_non_null(strstr(why, "No such file"));
	write_file(path, "a@b.c\n");
	assert_int_equal(lkfile_lookup(&f, "a@b.c", why, sizeof(why)),
			 LK_FOUND);
	assert_int_equal(lkfile_lookup(&f, "x@b.c", why, sizeof(why)),
			 LK_NOTFOUND);
	write_file(path, "x@b.c\n");
	assert_int_equal(lkfile_lookup(&f, "a@b.c", why, sizeof(why)),
			 LK_NOTFOUND);
	assert_int_equal(lkfile_lookup(&f, "x@b.c", why, sizeof(why)),
			 LK_FOUND);
	unlink(path);
	assert_int_equal(lkfile_lookup(&f, "x@b.c", why, sizeof(why)),
			 LK_TEMP);
	lktab_free(&f.t);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_file_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
