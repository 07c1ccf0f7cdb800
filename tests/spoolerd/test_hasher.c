/* test_hasher.c - Hasher: go-guerrilla's MD5, same on every attempt */
#include "testutil.h"
#include "hasher.h"

static void known_value(void **state)
{
	char h[33];
	(void)state;

	assert_int_equal(hasher_md5_hex("a@example.org", "hello",
					"1764078600.M123P4Q5", "b@example.com",
					h),
			 0);
	assert_string_equal(h, "2c2f8c275eaca6d2e223684cc2bd6841");
	assert_int_equal(hasher_md5_hex("", "", "", "", h), 0);
	assert_string_equal(h, "d41d8cd98f00b204e9800998ecf8427e");
}

static void processor_deterministic(void **state)
{
	char *d = tu_tmpdir(), ep[512], first[2][33];
	const char *rcpts[] = {"x@example.com", "y@example.com"};
	struct cfg *c = tu_cfg("{}");
	struct msg m;
	char why[256];
	int round;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	for (round = 0; round < 2; round++) {
		/* the same entry read again later (a retry) */
		tu_entry(ep, "1764078600.M9P9Q9", "s@example.org", rcpts, 2,
			 "Subject: =?utf-8?b?w6l0w6k=?=\r\n\r\nx\r\n", &m, c);
		assert_int_equal(proc_headersparser.deliver(NULL, &m, why,
							    sizeof(why)),
				 PROC_OK);
		assert_string_equal(msg_headers(&m)->subject,
				    "\xc3\xa9t\xc3\xa9");
		assert_int_equal(proc_hasher.deliver(NULL, &m, why,
						     sizeof(why)),
				 PROC_OK);
		assert_int_equal(strlen(msg_hash(&m, 0)), 32);
		assert_string_not_equal(msg_hash(&m, 0), msg_hash(&m, 1));
		if (round == 0) {
			memcpy(first[0], msg_hash(&m, 0), 33);
			memcpy(first[1], msg_hash(&m, 1), 33);
		} else {
			assert_string_equal(first[0], msg_hash(&m, 0));
			assert_string_equal(first[1], msg_hash(&m, 1));
		}
		tu_msg_free(&m);
		sleep(round == 0); /* a later time must not matter */
	}
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_value),
		cmocka_unit_test(processor_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
