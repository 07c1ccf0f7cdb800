/* test_queue.c - job FIFO bounds and the retry heap order */
#include "testutil.h"
#include "queue.h"

static void fifo_bounded(void **state)
{
	struct queue q;
	struct job j;
	(void)state;

	assert_int_equal(queue_init(&q, 3), 0);
	assert_int_equal(queue_push(&q, "a", J_NEW), 0);
	assert_int_equal(queue_push(&q, "b", J_CUR), 0);
	assert_int_equal(queue_push(&q, "c", J_NEW), 0);
	assert_int_equal(queue_push(&q, "d", J_NEW), -1);
	assert_int_equal(queue_pop(&q, &j), 0);
	assert_string_equal(j.name, "a");
	assert_false(queue_idle(&q));
	assert_int_equal(queue_pop(&q, &j), 0);
	assert_string_equal(j.name, "b");
	assert_int_equal(j.from, J_CUR);
	queue_done(&q);
	queue_done(&q);
	assert_int_equal(queue_pending(&q), 1);
	queue_stop(&q);
	assert_int_equal(queue_pop(&q, &j), -1);
	queue_free(&q);
}

static void heap_order(void **state)
{
	static const long long due[] = {50, 10, 40, 10, 30, 20, 60, 5};
	struct queue q;
	struct job j;
	long long next, last = -1;
	char name[16];
	size_t i;
	(void)state;

	assert_int_equal(queue_init(&q, 100), 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "e%lld", due[i]);
		assert_int_equal(queue_defer(&q, name, due[i]), 0);
	}
	assert_int_equal(queue_take_due(&q, 4, &next), 0);
	assert_int_equal(next, 5);
	assert_int_equal(queue_take_due(&q, 30, &next), 5);
	assert_int_equal(next, 40);
	for (i = 0; i < 5; i++) {
		long long v;

		assert_int_equal(queue_pop(&q, &j), 0);
		assert_int_equal(j.from, J_DEFER);
		v = strtoll(j.name + 1, NULL, 10);
		assert_true(v >= last);
		last = v;
		queue_done(&q);
	}
	assert_int_equal(queue_deferred(&q), 3);
	assert_int_equal(queue_take_due(&q, 1000, &next), 3);
	assert_int_equal(next, -1);
	queue_free(&q);
}

static void wait_ms(void **state)
{
	(void)state;
	/* nothing deferred: the cap */
	assert_int_equal(queue_wait_ms(-1, 1000, 1000), 1000);
	/* due sooner than the cap, later, now, and already past */
	assert_int_equal(queue_wait_ms(1250, 1000, 1000), 250);
	assert_int_equal(queue_wait_ms(5000, 1000, 1000), 1000);
	assert_int_equal(queue_wait_ms(1000, 1000, 1000), 0);
	assert_int_equal(queue_wait_ms(999, 1000, 1000), 0);
	assert_int_equal(queue_wait_ms(0, 1796224239463LL, 1000), 0);
	/* never negative, whatever the cap */
	assert_int_equal(queue_wait_ms(-1, 1000, -5), 0);
	assert_int_equal(queue_wait_ms(1500, 1000, -5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_bounded),
		cmocka_unit_test(heap_order),
		cmocka_unit_test(wait_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
