/* test_mbox.c - mboxrd quoting, and the Mbox processor's append,
 * idempotent redelivery and repair of a torn append */
#include "testutil.h"

#include <errno.h>
#include <sys/xattr.h>
#include "mbox.h"

static struct sink sk;
static char cmpbuf[sizeof(sk.buf)];

/* quote - run the quoter over in (in pieces of step bytes) */
static char *quote(const char *in, size_t step)
{
	char path[] = "/tmp/spoolerd-mbq-XXXXXX";
	int fd = mkstemp(path);
	size_t n = strlen(in), i;
	struct mbq q;
	char *out;

	assert_true(fd >= 0);
	unlink(path);
	sink_init(&sk, fd, 0, 0);
	mbq_init(&q);
	for (i = 0; i < n; i += step)
		mbq_feed(&q, &sk, in + i, n - i < step ? n - i : step);
	mbq_finish(&q, &sk);
	assert_int_equal(sink_flush(&sk), 0);
	out = calloc(1, (size_t)lseek(fd, 0, SEEK_END) + 1);
	assert_int_equal(pread(fd, out, (size_t)lseek(fd, 0, SEEK_END), 0),
			 lseek(fd, 0, SEEK_END));
	close(fd);
	return out;
}

static void check_quote(const char *in, const char *want)
{
	size_t step;

	/* the same at every split of the input */
	for (step = 1; step <= strlen(in) + 1; step++) {
		char *got = quote(in, step);

		assert_string_equal(got, want);
		free(got);
	}
}

static void quoting(void **state)
{
	(void)state;
	check_quote("a\r\nb\r\n", "a\nb\n\n");
	check_quote("From me\r\n", ">From me\n\n");
	check_quote("x\r\nFrom me\r\n>From x\r\n>>From y\r\n",
		    "x\n>From me\n>>From x\n>>>From y\n\n");
	/* not quoted: no space, inside a line, other words */
	check_quote("Fromage\r\nFrom\r\n a From b\r\n>Fro\r\nFROM x\r\n",
		    "Fromage\nFrom\n a From b\n>Fro\nFROM x\n\n");
	/* bare CR kept, CRLF folded, no final newline gets one */
	check_quote("a\rb\r\nc", "a\rb\nc\n\n");
	check_quote("From", "From\n\n");
	check_quote(">>", ">>\n\n");
	check_quote("", "\n");
}

static void sink_compare(void **state)
{
	char path[] = "/tmp/spoolerd-mbq-XXXXXX";
	int fd = mkstemp(path);
	(void)state;

	unlink(path);
	assert_int_equal(write(fd, "hello world", 11), 11);
	sk.cmp = cmpbuf;
	sink_init(&sk, fd, 1, 6);
	sink_put(&sk, "world", 5);
	sink_flush(&sk);
	assert_false(sk.mismatch || sk.past_end);
	sink_init(&sk, fd, 1, 6);
	sink_put(&sk, "worlds", 6);
	sink_flush(&sk);
	assert_true(sk.past_end);
	assert_false(sk.mismatch);
	sink_init(&sk, fd, 1, 6);
	sink_put(&sk, "wOrld", 5);
	sink_flush(&sk);
	assert_true(sk.mismatch);
	close(fd);
}

static void processor(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], mp[512], sd[512], *data;
	const char *rcpts[] = {"U@Example.com", "v@example.com"};
	const char *body = "Subject: hi\r\n\r\nFrom here\r\n.dot\r\n";
	struct cfg *c;
	struct msg m;
	void *st;
	char why[512], err[256];
	size_t len = 0, len1 = 0;
	(void)state;

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"mbox_path\":\"%s/{domain}/{user}\"}}",
		 d);
	c = tu_cfg(json);
	assert_int_equal(proc_mbox.init(c, &st, err, sizeof(err)), 0);
	snprintf(ep, sizeof(ep), "%s/entry", d);
	snprintf(sd, sizeof(sd), "%s/state", d);
	assert_int_equal(mkdir(sd, 0700), 0);
	tu_entry(ep, "1764078600.M1P2Q3", "s@x.org", rcpts, 2, body, &m, c);
	m.statefd = open(sd, O_RDONLY | O_DIRECTORY);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	snprintf(mp, sizeof(mp), "%s/example.com/u", d);
	data = tu_read(mp, &len1);
	assert_non_null(data);
	assert_non_null(strstr(data, "From s@x.org Tue Nov 25 13:50:00 2025\n"
				     "Return-Path: <s@x.org>\n"
				     "Delivered-To: U@Example.com\n"
				     "Received: from client.test"));
	assert_non_null(strstr(data, " +0000\nSubject: hi\n\n>From here\n.dot\n\n"));
	assert_null(strstr(data, "\r"));
	assert_null(strstr(data, "X-Spool"));
	free(data);
	/* a redelivery (crash after the append) adds nothing */
	m.redelivery = 1;
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(mp, &len);
	assert_int_equal(len, len1);
	free(data);
	/* killed mid-append: the torn copy is cut and written again */
	assert_int_equal(truncate(mp, (off_t)len1 - 7), 0);
	msg_free_parts(&m);
	m.rcpt = calloc(2, sizeof(*m.rcpt));
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(mp, &len);
	assert_int_equal(len, len1);
	free(data);
	/* another message appended after ours: still found, not repeated */
	{
		int fd = open(mp, O_WRONLY | O_APPEND);

		assert_int_equal(write(fd, "From other\nX: y\n\n", 17), 17);
		close(fd);
	}
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(mp, &len);
	assert_int_equal(len, len1 + 17);
	free(data);
	/* a directory where the mbox should be: temporary */
	snprintf(mp, sizeof(mp), "%s/example.com/v", d);
	assert_int_equal(unlink(mp), 0);
	assert_int_equal(mkdir(mp, 0700), 0);
	m.redelivery = 0;
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	assert_non_null(strstr(why, "Mbox"));
	close(m.statefd);
	tu_msg_free(&m);
	proc_mbox.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

/* errors - what makes an mbox delivery fail, and how: a bad template
 * at init, a recipient that makes no file name (permanent), a directory
 * that cannot be made, a FIFO, no journal, an unreadable entry
 * (temporary, and the mbox cut back to where it was) */
static void errors(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], p[600], why[512], err[256];
	const char *rcpts[] = {"u@example.com"};
	const char *bad[] = {"@example.com"};
	struct cfg *c;
	struct msg m;
	void *st;
	size_t len;
	char *data;
	int fd, sfd;
	(void)state;

	c = tu_cfg("{\"backend_config\":{\"mbox_path\":\"/x/{bogus}\"}}");
	assert_int_equal(proc_mbox.init(c, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "backend_config.mbox_path: only {user}"));
	cfg_free(c);

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"mbox_path\":\"%s/{domain}/{user}\"}}",
		 d);
	c = tu_cfg(json);
	assert_int_equal(proc_mbox.init(c, &st, err, sizeof(err)), 0);
	snprintf(ep, sizeof(ep), "%s/entry", d);

	/* no local part: no file name, permanent */
	tu_entry(ep, "1.M1P1Q1", "", bad, 1, "x\r\n", &m, c);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_PERM);
	assert_non_null(strstr(why, "Mbox: <@example.com>: local part"));
	tu_msg_free(&m);

	/* a file where the domain directory should be: the mailbox cannot
	 * be opened; one above it: the directory cannot be made */
	snprintf(p, sizeof(p), "%s/example.com", d);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	tu_entry(ep, "1.M1P1Q1", "a b@x.org", rcpts, 1, "x\r\n", &m, c);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	/* (the walk to the mailbox's directory stops at the file) */
	assert_non_null(strstr(why, "/example.com: Not a directory"));
	{
		struct cfg *c2;
		void *st2;

		snprintf(json, sizeof(json),
			 "{\"backend_config\":{\"mbox_path\":"
			 "\"%s/example.com/{domain}/{user}\"}}",
			 d);
		c2 = tu_cfg(json);
		assert_int_equal(proc_mbox.init(c2, &st2, err, sizeof(err)),
				 0);
		assert_int_equal(proc_mbox.deliver(st2, &m, why, sizeof(why)),
				 PROC_TEMP);
		assert_non_null(strstr(why, "example.com/example.com: Not a "
					    "directory"));
		proc_mbox.fini(st2);
		cfg_free(c2);
	}
	unlink(p);
	assert_int_equal(mkdir(p, 0700), 0);

	/* a FIFO opens, but is no mailbox */
	snprintf(p, sizeof(p), "%s/example.com/u", d);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	assert_non_null(strstr(why, "not a regular file"));
	unlink(p);

	/* a one-byte mailbox ending in a newline needs one more; the
	 * sender's space becomes "_" in the From_ line */
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(p, &len);
	assert_memory_equal(data, "\n\nFrom a_b@x.org ", 17);
	free(data);
	/* the same with any other byte needs two */
	fd = open(p, O_WRONLY | O_TRUNC, 0600);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(p, &len);
	assert_memory_equal(data, "x\n\nFrom ", 8);
	free(data);

	/* the state directory is gone: no journal, nothing written */
	snprintf(p, sizeof(p), "%s/state", d);
	assert_int_equal(mkdir(p, 0700), 0);
	sfd = open(p, O_RDONLY | O_DIRECTORY);
	assert_int_equal(rmdir(p), 0);
	m.statefd = sfd;
	snprintf(p, sizeof(p), "%s/example.com/u", d);
	assert_int_equal(truncate(p, 0), 0);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	assert_non_null(strstr(why, "Mbox: journal: "));
	data = tu_read(p, &len);
	assert_int_equal(len, 0);
	free(data);
	close(sfd);
	m.statefd = -1;

	/* the entry cannot be read: the copy is cut back, temporary */
	fd = open(p, O_WRONLY | O_TRUNC, 0600);
	assert_int_equal(write(fd, "old\n\n", 5), 5);
	close(fd);
	fd = m.fd;
	m.fd = open(ep, O_WRONLY);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_TEMP);
	assert_non_null(strstr(why, ": write: Bad file descriptor"));
	close(m.fd);
	m.fd = fd;
	data = tu_read(p, &len);
	assert_int_equal(len, 5);
	free(data);

	tu_msg_free(&m);
	proc_mbox.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

/* torn_journal - a journal whose last line was cut by a crash: that
 * line never led to a write, the copy is appended as new */
static void torn_journal(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], p[600], why[512], err[256];
	const char *rcpts[] = {"u@example.com"};
	struct cfg *c;
	struct msg m;
	void *st;
	size_t len;
	char *data;
	int fd;
	(void)state;

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"mbox_path\":\"%s/{user}\"}}", d);
	c = tu_cfg(json);
	assert_int_equal(proc_mbox.init(c, &st, err, sizeof(err)), 0);
	snprintf(ep, sizeof(ep), "%s/entry", d);
	snprintf(p, sizeof(p), "%s/state", d);
	assert_int_equal(mkdir(p, 0700), 0);
	tu_entry(ep, "1.M1P1Q1", "s@x.org", rcpts, 1, "x\r\n", &m, c);
	m.statefd = open(p, O_RDONLY | O_DIRECTORY);
	fd = openat(m.statefd, "1.M1P1Q1.mbox", O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "mbox R0 0", 9), 9);
	close(fd);
	snprintf(p, sizeof(p), "%s/u", d);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "From a\n\n", 8), 8);
	close(fd);
	m.redelivery = 1;
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(p, &len);
	assert_memory_equal(data, "From a\n\nFrom s@x.org ", 21);
	free(data);
	close(m.statefd);
	tu_msg_free(&m);
	proc_mbox.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

/* a delivery killed mid-append left a torn copy and its tail mark: the
 * next delivery to that mbox, another entry's, cuts it before appending,
 * so no copy lands behind half a message (kill -9 with 4 workers
 * recovering at once made that a duplicate) */
static void torn_tail_of_another(void **state)
{
	char *d = tu_tmpdir(), json[512], ep[512], p[600], why[512], err[256];
	const char *rcpts[] = {"u@example.com"};
	struct cfg *c;
	struct msg m;
	void *st;
	size_t len = 0;
	char *data;
	int fd;
	(void)state;

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"mbox_path\":\"%s/{user}\"}}", d);
	c = tu_cfg(json);
	assert_int_equal(proc_mbox.init(c, &st, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/u", d);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "From a\n\nFrom torn\nSubj", 22), 22);
	if (fsetxattr(fd, "user.spoolerd.tail", "8", 1, 0) < 0) {
		close(fd); /* no user xattrs here: nothing to test */
		skip();
	}
	close(fd);
	snprintf(ep, sizeof(ep), "%s/entry", d);
	tu_entry(ep, "1.M1P1Q1", "s@x.org", rcpts, 1, "x\r\n", &m, c);
	assert_int_equal(proc_mbox.deliver(st, &m, why, sizeof(why)),
			 PROC_OK);
	data = tu_read(p, &len);
	assert_memory_equal(data, "From a\n\nFrom s@x.org ", 21);
	assert_null(memmem(data, len, "torn", 4));
	free(data);
	fd = open(p, O_RDONLY);
	assert_int_equal(fgetxattr(fd, "user.spoolerd.tail", json, 10), -1);
	assert_int_equal(errno, ENODATA); /* and the mark is gone */
	close(fd);
	tu_msg_free(&m);
	proc_mbox.fini(st);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(torn_tail_of_another),
		cmocka_unit_test(quoting),
		cmocka_unit_test(sink_compare),
		cmocka_unit_test(processor),
		cmocka_unit_test(errors),
		cmocka_unit_test(torn_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
