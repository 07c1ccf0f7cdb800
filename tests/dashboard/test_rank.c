/* test_rank.c - the top-N tables: order, the cap, and the unique-HELO
 * ratio guard that keeps a flood of made-up names out */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rank.h"

static void top_order(void **st)
{
	struct rank r;
	struct rank_ent top[3];
	int i;

	(void)st;
	assert_int_equal(rank_init(&r, 100, 1.0), 0);
	for (i = 0; i < 5; i++)
		rank_add(&r, "a");
	for (i = 0; i < 9; i++)
		rank_add(&r, "b");
	rank_add(&r, "c");
	for (i = 0; i < 2; i++)
		rank_add(&r, "d");
	assert_int_equal(rank_top(&r, top, 3), 3);
	assert_string_equal(top[0].key, "b");
	assert_int_equal(top[0].n, 9);
	assert_string_equal(top[1].key, "a");
	assert_string_equal(top[2].key, "d");
	rank_reset(&r);
	assert_int_equal(rank_top(&r, top, 3), 0);
	rank_free(&r);
}

/* every connection a new HELO: past 10 names, at ratio 0.5 at most one
 * new name per two events is kept; a name already known still counts */
static void ratio_guard(void **st)
{
	struct rank r;
	struct rank_ent top[1];
	char k[32];
	int i;

	(void)st;
	assert_int_equal(rank_init(&r, 100000, 0.5), 0);
	for (i = 0; i < 30; i++)
		rank_add(&r, "mx.example.com");
	for (i = 0; i < 10000; i++) {
		snprintf(k, sizeof(k), "random%d", i);
		rank_add(&r, k);
	}
	assert_true(r.n <= (r.events + 1) / 2 + 1);
	assert_true(r.refused > 4000);
	rank_add(&r, "mx.example.com");
	assert_int_equal(rank_top(&r, top, 1), 1);
	assert_string_equal(top[0].key, "mx.example.com");
	assert_int_equal(top[0].n, 31);
	rank_free(&r);
}

static void cap_and_long_keys(void **st)
{
	struct rank r;
	char k[300];
	int i;

	(void)st;
	assert_int_equal(rank_init(&r, 16, 1.0), 0);
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		rank_add(&r, k);
	}
	assert_int_equal(r.n, 16);
	assert_int_equal(r.refused, 84);
	rank_reset(&r);
	memset(k, 'x', sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	rank_add(&r, k);
	rank_add(&r, k);
	assert_int_equal(r.n, 1);
	assert_int_equal(strlen(r.e[0].key), RANK_KEY);
	assert_int_equal(r.e[0].n, 2);
	rank_free(&r);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(top_order),
		cmocka_unit_test(ratio_guard),
		cmocka_unit_test(cap_and_long_keys),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
