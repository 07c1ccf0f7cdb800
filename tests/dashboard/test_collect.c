/* test_collect.c - datagrams into figures: each type counted, bad ones
 * refused, the Prometheus text carrying the names */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "statsmsg.h"

static void feed(struct collect *c, enum statsmsg_type t,
                 const char *const *f, size_t nf)
{
	char buf[STATSMSG_MAX];
	struct statsmsg m;
	size_t n = statsmsg_encode(buf, sizeof(buf), t, f, nf);

	assert_true(n > 0);
	assert_int_equal(statsmsg_decode(buf, n, &m), 0);
	collect_apply(c, &m, 1700000000000LL);
}

static void counts_and_metrics(void **st)
{
	struct cfg_dashboard d = {0};
	struct collect c;
	const char *conn[] = {"mx", "127.0.0.2", "accepted", ""};
	const char *helo[] = {"mx", "127.0.0.2", "mail.Example.ORG"};
	const char *msg[] = {"mx", "127.0.0.2", "1234", "2", "1"};
	const char *rej[] = {"mx", "127.0.0.2", "552"};
	const char *end[] = {"mx", "127.0.0.2", "1", "quit", "0.5"};
	const char *dlv[] = {"Maildir", "ok", "0.02"};
	char *text = NULL, *j;
	size_t len = 0;
	FILE *f;

	(void)st;
	d.max_window = 86400000;
	d.ranking_aggregation_interval = 3600000;
	d.unique_helo_ratio = 0.8;
	assert_int_equal(collect_init(&c, &d), 0);
	feed(&c, SM_CONN, conn, 4);
	assert_int_equal(c.open, 1);
	feed(&c, SM_HELO, helo, 3);
	feed(&c, SM_MSG, msg, 5);
	feed(&c, SM_REJ, rej, 3);
	feed(&c, SM_END, end, 5);
	feed(&c, SM_DLV, dlv, 3);
	assert_int_equal(c.open, 0);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(c.bytes, 1234);
	assert_int_equal(c.tls, 1);
	assert_int_equal(c.rejected[152], 1);
	assert_int_equal(c.hist_count, 1);
	j = collect_json(&c, 1700000000000LL);
	assert_non_null(strstr(j, "[\"example.org\",1]"));
	assert_non_null(strstr(j, "[\"127.0.0.2\",1]"));
	free(j);
	f = open_memstream(&text, &len);
	collect_metrics(&c, f);
	fclose(f);
	assert_non_null(strstr(text, "smtpd_connections_total{server=\"mx\","
				     "result=\"accepted\"} 1\n"));
	assert_non_null(strstr(text, "smtpd_messages_rejected_total{code="
				     "\"552\"} 1\n"));
	assert_non_null(strstr(text, "smtpd_bytes_received_total 1234\n"));
	assert_non_null(strstr(text, "spoolerd_deliveries_total{processor="
				     "\"Maildir\",result=\"ok\"} 1\n"));
	assert_non_null(strstr(text, "spoolerd_delivery_seconds_bucket{le="
				     "\"0.05\"} 1\n"));
	free(text);
	collect_free(&c);
}

/* spoolerd_queue - spoolerd's counts replace what the collector could
 * see (it cannot read cur/, defer/, failed/) while fresh, 30 s */
static void spoolerd_queue(void **st)
{
	struct cfg_dashboard d = {0};
	struct collect c;
	const char *q[] = {"3", "1", "7", "2", "0", "42"};
	const char *bad[] = {"3", "1", "x", "2", "0", "42"};

	(void)st;
	d.max_window = 86400000;
	d.ranking_aggregation_interval = 3600000;
	d.unique_helo_ratio = 0.8;
	assert_int_equal(collect_init(&c, &d), 0);
	c.queue[2] = -1; /* defer/: the collector may not read it */
	collect_queue(&c, 1700000000000LL);
	assert_int_equal(c.queue[2], -1); /* no report yet */
	feed(&c, SM_QUEUE, q, 6);
	collect_queue(&c, 1700000000000LL + 5000);
	assert_int_equal(c.queue[0], 3);
	assert_int_equal(c.queue[2], 7);
	assert_int_equal(c.queue[3], 2);
	assert_true(c.oldest == 42.0);
	c.queue[2] = -1;
	collect_queue(&c, 1700000000000LL + 31000); /* stale */
	assert_int_equal(c.queue[2], -1);
	feed(&c, SM_QUEUE, bad, 6);
	assert_int_equal((int)c.bad, 1);
	collect_free(&c);
}

static void datagrams_refused(void **st)
{
	static const char *bad[] = {
		"smtpd1 conn\ta\tb\tc",            /* a field short */
		"smtpd1 msg\ta\tb\t1\t2\t3\t4",    /* one too many */
		"smtpd2 helo\ta\tb\tc",            /* another version */
		"smtpd1 nosuch\ta",                /* unknown type */
		"",
	};
	const char *f[] = {"x\ty", "1.2.3.4", "evil\r\nname"};
	struct statsmsg m;
	char buf[STATSMSG_MAX], big[STATSMSG_FIELD + 50];
	size_t i, n;

	(void)st;
	for (i = 0; i < 5; i++)
		assert_int_equal(statsmsg_decode(bad[i], strlen(bad[i]), &m),
				 -1);
	/* a tab or CRLF inside a field cannot make another field */
	n = statsmsg_encode(buf, sizeof(buf), SM_HELO, f, 3);
	assert_int_equal(statsmsg_decode(buf, n, &m), 0);
	assert_string_equal(m.f[0], "x?y");
	assert_string_equal(m.f[2], "evil??name");
	/* wrong field count for the type: nothing encoded */
	assert_int_equal(statsmsg_encode(buf, sizeof(buf), SM_HELO, f, 2), 0);
	/* an overlong field is cut, not refused */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f[2] = big;
	n = statsmsg_encode(buf, sizeof(buf), SM_HELO, f, 3);
	assert_int_equal(statsmsg_decode(buf, n, &m), 0);
	assert_int_equal(strlen(m.f[2]), STATSMSG_FIELD);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(counts_and_metrics),
		cmocka_unit_test(datagrams_refused),
		cmocka_unit_test(spoolerd_queue),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
