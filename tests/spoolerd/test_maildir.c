/* test_maildir.c - Maildir: delivered copy, idempotency, failures */
#include "testutil.h"

#include <dirent.h>

static int count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	for (de = readdir(d); de; de = readdir(d))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void delivers_once(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], nd[600], f[900], f2[900];
	const char *rcpts[] = {"Bob@Example.COM", "bob@example.com",
			       "../../etc@example.com"};
	const char *body = "Subject: x\r\n\r\n.body\r\nFrom x\r\n";
	struct cfg *c;
	struct msg m;
	void *st;
	char why[512], err[256], *data, want[1024];
	(void)state;

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"maildir_path\":"
		 "\"%s/{domain}/{user}/Maildir\"}}",
		 d);
	c = tu_cfg(json);
	assert_int_equal(proc_maildir.init(c, &st, err, sizeof(err)), 0);
	snprintf(ep, sizeof(ep), "%s/entry", d);
	tu_entry(ep, "1764078600.M5P6Q7", "s@x.org", rcpts, 3, body, &m, c);
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	/* two recipients mapping to one maildir: two copies */
	snprintf(nd, sizeof(nd), "%s/example.com/bob/Maildir/new", d);
	assert_int_equal(count(nd), 2);
	snprintf(f, sizeof(f), "%s/1764078600.M5P6Q7.R1.mx.test", nd);
	data = tu_read(f, NULL);
	assert_non_null(data);
	snprintf(want, sizeof(want),
		 "Return-Path: <s@x.org>\r\nDelivered-To: bob@example.com\r\n"
		 "Received: from client.test (unknown [192.0.2.1])\r\n"
		 "\tby mx.test with ESMTP id 1764078600.M5P6Q7; "
		 "Tue, 25 Nov 2025 13:50:00 +0000\r\n%s",
		 body);
	assert_string_equal(data, want);
	free(data);
	/* the escaping recipient stayed inside the base */
	snprintf(nd, sizeof(nd), "%s/example.com/%%2e.%%2f..%%2fetc/Maildir/new",
		 d);
	assert_int_equal(count(nd), 1);
	/* again: nothing new */
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	snprintf(nd, sizeof(nd), "%s/example.com/bob/Maildir/new", d);
	assert_int_equal(count(nd), 2);
	/* a reader moved one to cur/ with flags: a redelivery sees it */
	snprintf(f2, sizeof(f2), "%s/example.com/bob/Maildir/cur/"
				 "1764078600.M5P6Q7.R1.mx.test:2,S",
		 d);
	assert_int_equal(rename(f, f2), 0);
	m.redelivery = 1;
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	assert_int_equal(count(nd), 1);
	tu_msg_free(&m);
	proc_maildir.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void failures(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], base[512], big[400];
	const char *rcpts[] = {"u@example.com"};
	const char *longr[] = {big};
	struct cfg *c;
	struct msg m;
	void *st;
	char why[512], err[256], tf[700];
	int fd;
	(void)state;

	snprintf(base, sizeof(base), "%s/base", d);
	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"maildir_path\":"
		 "\"%s/{domain}/{user}\"}}",
		 base);
	c = tu_cfg(json);
	assert_int_equal(proc_maildir.init(c, &st, err, sizeof(err)), 0);
	snprintf(ep, sizeof(ep), "%s/entry", d);
	/* the base is a file: temporary, with the reason */
	fd = open(base, O_WRONLY | O_CREAT, 0600);
	close(fd);
	tu_entry(ep, "1764078600.M5P6Q8", "", rcpts, 1, "x\r\n", &m, c);
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	assert_non_null(strstr(why, "Not a directory"));
	/* fixed: delivered */
	assert_int_equal(unlink(base), 0);
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	tu_msg_free(&m);
	/* a local part too long for a file name: permanent */
	memset(big, 'a', sizeof(big));
	memcpy(big + 300, "@example.com", 13);
	tu_entry(ep, "1764078600.M5P6Q9", "", longr, 1, "x\r\n", &m, c);
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_PERM);
	tu_msg_free(&m);
	/* a crash left its tmp file behind: delivered anyway, tmp/ empty */
	snprintf(tf, sizeof(tf), "%s/example.com/u/tmp/"
				 "1764078600.M5P6R1.R0.mx.test",
		 base);
	fd = open(tf, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "torn", 4), 4);
	close(fd);
	tu_entry(ep, "1764078600.M5P6R1", "", rcpts, 1, "x\r\n", &m, c);
	m.redelivery = 1; /* after a crash the entry comes back from cur/ */
	assert_int_equal(proc_maildir.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	tu_msg_free(&m);
	snprintf(tf, sizeof(tf), "%s/example.com/u/tmp", base);
	assert_int_equal(count(tf), 0);
	snprintf(tf, sizeof(tf), "%s/example.com/u/new", base);
	assert_int_equal(count(tf), 2);
	proc_maildir.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(delivers_once),
		cmocka_unit_test(failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
