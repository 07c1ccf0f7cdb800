/* test_retry.c - back-off schedule, expiry and the state file */
#include "testutil.h"
#include "retry.h"

static void doubles_and_caps(void **state)
{
	(void)state;
	assert_int_equal(retry_delay(300000, 3600000, 1), 300000);
	assert_int_equal(retry_delay(300000, 3600000, 2), 600000);
	assert_int_equal(retry_delay(300000, 3600000, 3), 1200000);
	assert_int_equal(retry_delay(300000, 3600000, 4), 2400000);
	assert_int_equal(retry_delay(300000, 3600000, 5), 3600000);
	assert_int_equal(retry_delay(300000, 3600000, 1000000), 3600000);
	assert_int_equal(retry_delay(1000, 1000, 7), 1000);
	assert_int_equal(retry_delay(5000, 2000, 1), 2000);
}

static void expiry(void **state)
{
	long long q = 1000000000000LL, life = 432000000LL; /* 120 h */
	(void)state;

	assert_int_equal(retry_next(300000, 3600000, life, q, 1, q + 1000),
			 q + 1000 + 300000);
	/* the last attempt is made at the expiry, not after it */
	assert_int_equal(retry_next(300000, 3600000, life, q, 50,
				    q + life - 1000),
			 q + life);
	assert_int_equal(retry_next(300000, 3600000, life, q, 50, q + life),
			 -1);
	assert_int_equal(retry_next(300000, 3600000, life, q, 1,
				    q + life + 1),
			 -1);
}

static void format_parse_roundtrip(void **state)
{
	struct retry_state a, b;
	char text[1024];
	int n;
	(void)state;

	memset(&a, 0, sizeof(a));
	a.attempts = 7;
	a.next_ms = 1764078600123LL;
	snprintf(a.reason, sizeof(a.reason), "Maildir: x: No space\nleft");
	n = retry_format(&a, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(retry_parse(text, (size_t)n, &b), 0);
	assert_int_equal(b.attempts, 7);
	assert_int_equal(b.next_ms, a.next_ms);
	/* a newline in the reason cannot add a line to the file */
	assert_string_equal(b.reason, "Maildir: x: No space left");
	/* torn or junk files are "no state" */
	assert_int_equal(retry_parse(text, (size_t)n - 3, &b), -1);
	assert_int_equal(retry_parse("attempts x\nnext 1\n", 18, &b), -1);
	assert_int_equal(retry_parse("next 1\n", 7, &b), -1);
}

static void save_load(void **state)
{
	char *d = tu_tmpdir();
	struct retry_state a, b;
	int dfd = open(d, O_RDONLY | O_DIRECTORY), fd;
	(void)state;

	memset(&a, 0, sizeof(a));
	assert_int_equal(retry_load(dfd, "1.M1P1Q1", &b), 1);
	a.attempts = 3;
	a.next_ms = 42;
	assert_int_equal(retry_save(dfd, "1.M1P1Q1", &a), 0);
	a.attempts = 4;
	/* a save cut short by a crash left its tmp file: no matter */
	fd = openat(dfd, ".1.M1P1Q1.tmp", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(retry_save(dfd, "1.M1P1Q1", &a), 0);
	assert_int_equal(faccessat(dfd, ".1.M1P1Q1.tmp", F_OK, 0), -1);
	assert_int_equal(retry_load(dfd, "1.M1P1Q1", &b), 0);
	assert_int_equal(b.attempts, 4);
	assert_int_equal(b.next_ms, 42);
	close(dfd);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(doubles_and_caps),
		cmocka_unit_test(expiry),
		cmocka_unit_test(format_parse_roundtrip),
		cmocka_unit_test(save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
