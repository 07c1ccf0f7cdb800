/* rank.h - top-N counters with bounded memory (source IPs, domains,
 * HELO names) */
#ifndef RANK_H
#define RANK_H

#include <stddef.h>

#define RANK_KEY 128

struct rank_ent {
	char key[RANK_KEY + 1];
	unsigned long n;
};

struct rank {
	struct rank_ent *e;
	size_t n, cap;        /* cap: the most distinct keys kept */
	double ratio;         /* unique keys / events allowed, 0..1 */
	unsigned long events; /* since the last reset */
	unsigned long refused; /* new keys not recorded (the guard) */
};

/* rank_init - an empty table of at most cap keys; 0 or -1 */
int rank_init(struct rank *r, size_t cap, double ratio);
void rank_free(struct rank *r);

/* rank_add - count one event for key. A key not yet in the table is
 * added only while the table is under its cap and, once it holds 10
 * keys, while distinct keys / events stays at most ratio (go-guerrilla's
 * unique_helo_ratio: a client making up a new HELO per connection stops
 * filling the table); else it is counted in refused. */
void rank_add(struct rank *r, const char *key);

/* rank_top - the k largest, biggest first, into out; returns how many */
size_t rank_top(const struct rank *r, struct rank_ent *out, size_t k);

/* rank_reset - forget everything (a new ranking_aggregation_interval) */
void rank_reset(struct rank *r);

#endif
