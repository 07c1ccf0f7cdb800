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

/* lf - s with each CRLF as LF, malloc'd */
static char *lf(const char *s)
{
	char *o = malloc(strlen(s) + 1), *w = o;

	for (; o && *s; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*w++ = *s;
	if (o)
		*w = '\0';
	return o;
}

static void delivers_once(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], nd[600], f[900], f2[900];
	const char *rcpts[] = {"Bob@Example.COM", "bob@example.com",
			       "../../etc@example.com"};
	const char *body = "Subject: x\r\n\r\n.body\r\nFrom x\r\n"
			   "bare\rCR\r\r\n";
	struct cfg *c;
	struct msg m;
	void *st;
	char why[512], err[256], *data, want[1024], *wlf;
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
	/* maildir copies end lines in LF; a bare CR stays */
	wlf = lf(want);
	assert_string_equal(data, wlf);
	assert_non_null(strstr(data, "bare\rCR\r\n"));
	free(wlf);
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

/* crlf_and_boundaries - maildir_crlf: true keeps the wire's bytes; a
 * CRLF split across the 64 KiB copy pieces still folds to LF */
static void crlf_and_boundaries(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], f[900], *data, *body, *w;
	const char *rcpts[] = {"u@example.com"};
	size_t hl, i, n = 200000;
	struct cfg *c;
	struct msg m;
	void *st;
	char why[512], err[256];
	int crlf;
	(void)state;

	body = malloc(n + 2);
	assert_non_null(body);
	/* crlf 0..1 by shift 0..1: one of the two shifts puts a CRLF
	 * across each piece boundary of the copy */
	for (crlf = 0; crlf <= 3; crlf++) {
		size_t sh = (size_t)crlf / 2;

		for (i = 0; i < n + sh; i++)
			body[i] = ((i - sh) % 2) ? '\n' : '\r';
		memcpy(body, "Subject: b\r\n\r\nx", 14 + sh);
		body[n + sh] = '\0';
		snprintf(json, sizeof(json),
			 "{\"backend_config\":{\"maildir_crlf\":%s,"
			 "\"maildir_path\":\"%s/%d/{user}\"}}",
			 crlf % 2 ? "true" : "false", d, crlf);
		c = tu_cfg(json);
		assert_int_equal(proc_maildir.init(c, &st, err, sizeof(err)),
				 0);
		snprintf(ep, sizeof(ep), "%s/entry%d", d, crlf);
		tu_entry(ep, "1764078600.M5P6Q8", "s@x.org", rcpts, 1, body,
			 &m, c);
		assert_int_equal(proc_maildir.deliver(st, &m, why,
						      sizeof(why)),
				 PROC_OK);
		snprintf(f, sizeof(f), "%s/%d/u/new/1764078600.M5P6Q8.R0."
			 "mx.test", d, crlf);
		data = tu_read(f, NULL);
		assert_non_null(data);
		w = strstr(data, "Subject: b");
		assert_non_null(w);
		hl = (size_t)(w - data);
		if (crlf % 2) {
			assert_string_equal(w, body);
			assert_non_null(strstr(data, "Return-Path: <s@x.org>\r\n"));
		} else {
			char *want = lf(body);

			assert_string_equal(w, want);
			assert_null(strchr(data, '\r'));
			free(want);
		}
		assert_true(hl > 0);
		free(data);
		tu_msg_free(&m);
		proc_maildir.fini(st);
		cfg_free(c);
	}
	free(body);
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
		cmocka_unit_test(crlf_and_boundaries),
		cmocka_unit_test(failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
