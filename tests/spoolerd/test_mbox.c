/* test_mbox.c - mboxrd quoting, and the Mbox processor's append,
 * idempotent redelivery and repair of a torn append */
#include "testutil.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quoting),
		cmocka_unit_test(sink_compare),
		cmocka_unit_test(processor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
