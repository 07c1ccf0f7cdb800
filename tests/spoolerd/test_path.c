/* test_path.c - recipient -> mailbox path: nothing escapes the base */
#include "testutil.h"
#include "path.h"
#include <errno.h>

static void component(const char *in, size_t len, const char *want)
{
	char out[PATH_COMPONENT_MAX + 1];

	assert_int_equal(path_component(in, len, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void sanitizes(void **state)
{
	(void)state;
	component("Alice", 5, "alice");
	component("a.b+tag=x-y_z", 13, "a.b+tag=x-y_z");
	component("..", 2, "%2e.");
	component(".", 1, "%2e");
	component(".hidden", 7, "%2ehidden");
	component("../../etc", 9, "%2e.%2f..%2fetc");
	component("a/b", 3, "a%2fb");
	component("a%2fb", 5, "a%252fb"); /* one-to-one: % is encoded */
	component("a\0b", 3, "a%00b");
	component("\"q u\"", 5, "%22q%20u%22");
	component("\xc3\xa9", 2, "%c3%a9");
	component("[192.0.2.1]", 11, "%5b192.0.2.1%5d");
}

static void refuses(void **state)
{
	char big[300], out[PATH_COMPONENT_MAX + 1];
	(void)state;

	assert_int_equal(path_component("", 0, out, sizeof(out)), -1);
	memset(big, 'a', sizeof(big));
	assert_int_equal(path_component(big, 255, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 255);
	assert_int_equal(path_component(big, 256, out, sizeof(out)), -1);
	memset(big, '/', sizeof(big));
	/* 85 escapes are 255 bytes, 86 are too many */
	assert_int_equal(path_component(big, 85, out, sizeof(out)), 0);
	assert_int_equal(path_component(big, 86, out, sizeof(out)), -1);
	/* a small buffer is respected */
	assert_int_equal(path_component("abcdef", 6, out, 4), -1);
}

static void expands(void **state)
{
	char out[4096];
	const char *why;
	(void)state;

	assert_int_equal(path_expand("/var/mail/{domain}/{user}/Maildir",
				     "Bob.Smith@Example.COM", "mx", out,
				     sizeof(out), &why),
			 0);
	assert_string_equal(out, "/var/mail/example.com/bob.smith/Maildir");
	assert_int_equal(path_expand("/m/{domain}/{user}", "../../x@..", "mx",
				     out, sizeof(out), &why),
			 0);
	assert_string_equal(out, "/m/%2e./%2e.%2f..%2fx");
	assert_null(strstr(out, "/../"));
	/* a quoted local part with '@' in it: the last '@' splits */
	assert_int_equal(path_expand("/m/{domain}/{user}", "\"a@b\"@c.d", "mx",
				     out, sizeof(out), &why),
			 0);
	assert_string_equal(out, "/m/c.d/%22a%40b%22");
	/* no domain: primary_mail_host */
	assert_int_equal(path_expand("/m/{domain}/{user}", "Postmaster",
				     "MX.Example", out, sizeof(out), &why),
			 0);
	assert_string_equal(out, "/m/mx.example/postmaster");
	/* a template may use a value inside a component */
	assert_int_equal(path_expand("/m/{user}.mbox", "u@d", "mx", out,
				     sizeof(out), &why),
			 0);
	assert_string_equal(out, "/m/u.mbox");
}

static void expand_refuses(void **state)
{
	char out[4096], big[400];
	const char *why;
	(void)state;

	memset(big, 'x', sizeof(big));
	memcpy(big + 300, "@d", 3);
	assert_int_equal(path_expand("/m/{user}", big, "mx", out, sizeof(out),
				     &why),
			 -1);
	assert_non_null(strstr(why, "local part"));
	assert_int_equal(path_expand("/m/{user}", "@d", "mx", out,
				     sizeof(out), &why),
			 -1);
	assert_int_equal(path_expand("/m/{domain}", "u@", "mx", out,
				     sizeof(out), &why),
			 -1);
	assert_int_equal(path_expand("/m/{user}/{user}/{user}", "abcdef@d",
				     "mx", out, 12, &why),
			 -1);
	assert_int_equal(path_check_template("/m/{user}/{domain}", &why), 0);
	assert_int_equal(path_check_template("/m/{uid}", &why), -1);
	assert_int_equal(path_check_template("", &why), -1);
}

static void mkdirs(void **state)
{
	char *d = tu_tmpdir(), p[512];
	struct stat st;
	(void)state;

	snprintf(p, sizeof(p), "%s/a/b//c/", d);
	assert_int_equal(path_mkdirs(p), 0);
	snprintf(p, sizeof(p), "%s/a/b/c", d);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(path_mkdirs(p), 0);
	tu_rm_rf(d);
	free(d);
}

/* below the template's fixed part no symlink is followed: a local user
 * who owns a mailbox directory cannot send others' mail elsewhere */
static void walk_no_symlinks(void **state)
{
	char *d = tu_tmpdir(), p[512], link[512], tmpl[512];
	struct stat st;
	size_t fixed;
	int fd;
	(void)state;

	snprintf(tmpl, sizeof(tmpl), "%s/real/{domain}/{user}/Maildir", d);
	fixed = path_fixed_len(tmpl);
	assert_int_equal(fixed, strlen(d) + strlen("/real/"));
	assert_int_equal(path_fixed_len("{user}/x"), 0);
	assert_int_equal(path_fixed_len("/m/{user}"), 3);
	/* made on the way, component by component */
	snprintf(p, sizeof(p), "%s/real/example.com/bob/Maildir", d);
	fd = path_walk(p, fixed, 1);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	close(fd);
	/* bob's domain directory turns into a symlink to elsewhere */
	snprintf(link, sizeof(link), "%s/elsewhere", d);
	assert_int_equal(mkdir(link, 0700), 0);
	snprintf(p, sizeof(p), "%s/real/example.org", d);
	assert_int_equal(symlink(link, p), 0);
	snprintf(p, sizeof(p), "%s/real/example.org/eve/Maildir", d);
	assert_int_equal(path_walk(p, fixed, 1), -1);
	assert_int_equal(errno, ENOTDIR); /* O_DIRECTORY|O_NOFOLLOW */
	snprintf(p, sizeof(p), "%s/elsewhere/eve", d);
	assert_int_equal(stat(p, &st), -1); /* nothing made there */
	/* a symlink in the fixed part is the operator's and fine */
	snprintf(p, sizeof(p), "%s/mail", d);
	snprintf(link, sizeof(link), "%s/real", d);
	assert_int_equal(symlink(link, p), 0);
	snprintf(tmpl, sizeof(tmpl), "%s/mail/{domain}/{user}/Maildir", d);
	snprintf(p, sizeof(p), "%s/mail/example.com/bob/Maildir", d);
	fd = path_walk(p, path_fixed_len(tmpl), 0);
	assert_true(fd >= 0);
	close(fd);
	/* without mkdirs nothing is made */
	snprintf(p, sizeof(p), "%s/mail/example.com/carol/Maildir", d);
	assert_int_equal(path_walk(p, path_fixed_len(tmpl), 0), -1);
	assert_int_equal(errno, ENOENT);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sanitizes),
		cmocka_unit_test(refuses),
		cmocka_unit_test(expands),
		cmocka_unit_test(expand_refuses),
		cmocka_unit_test(mkdirs),
		cmocka_unit_test(walk_no_symlinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
