/*
 * rank.c - counting keys for the "top 10" tables.
 *
 * A plain array searched linearly: the cap keeps it small (the default
 * is 4096 keys), and a lookup per event is far cheaper than the SMTP
 * session that caused it. Memory is fixed at rank_init whatever clients
 * send: a key is at most RANK_KEY bytes, the table at most cap keys,
 * and the ratio guard stops a flood of made-up names from pushing the
 * real ones out.
 */
#include "rank.h"

#include <stdlib.h>
#include <string.h>

int rank_init(struct rank *r, size_t cap, double ratio)
{
	memset(r, 0, sizeof(*r));
	r->e = calloc(cap ? cap : 1, sizeof(*r->e));
	if (!r->e)
		return -1;
	r->cap = cap;
	r->ratio = ratio;
	return 0;
}

void rank_free(struct rank *r)
{
	free(r->e);
	r->e = NULL;
	r->n = 0;
}

void rank_add(struct rank *r, const char *key)
{
	size_t i, len = strlen(key);

	if (len > RANK_KEY)
		len = RANK_KEY;
	r->events++;
	for (i = 0; i < r->n; i++)
		if (!strncmp(r->e[i].key, key, len) &&
		    r->e[i].key[len] == '\0') {
			r->e[i].n++;
			return;
		}
	if (r->n >= r->cap ||
	    (r->n >= 10 &&
	     (double)(r->n + 1) / (double)r->events > r->ratio)) {
		r->refused++;
		return;
	}
	memcpy(r->e[r->n].key, key, len);
	r->e[r->n].key[len] = '\0';
	r->e[r->n].n = 1;
	r->n++;
}

size_t rank_top(const struct rank *r, struct rank_ent *out, size_t k)
{
	size_t got = 0, i, j;

	for (i = 0; i < r->n; i++) {
		/* insertion into the sorted out[0..got) */
		for (j = got; j > 0 && out[j - 1].n < r->e[i].n; j--)
			if (j < k)
				out[j] = out[j - 1];
		if (j < k) {
			out[j] = r->e[i];
			if (got < k)
				got++;
		}
	}
	return got;
}

void rank_reset(struct rank *r)
{
	r->n = 0;
	r->events = 0;
	r->refused = 0;
}
