/*
 * proc_compressor.c - Compressor: the stores after it keep the message
 * zlib-compressed (RFC 1950, as go-guerrilla's compress/zlib writer),
 * delivery headers included, at compress_level (default 9; go-guerrilla
 * uses 1, zlib.BestSpeed). The MySQL row then says body = "gzip", go-guerrilla's
 * word for it, though the stream is zlib, not gzip.
 *
 * Nothing is compressed here: the per-message state (struct msg_zbody,
 * provided as PROV_COMPRESSED) tells msg_payload to compress, so a chain
 * that stores nothing pays nothing; the first payload asked for
 * compresses the data, once for every recipient and store.
 */
#include "processor.h"

#include <stdio.h>
#include <stdlib.h>

static void *mstate_new(struct msg *m)
{
	(void)m;
	return calloc(1, sizeof(struct msg_zbody));
}

static void mstate_free(void *p)
{
	struct msg_zbody *zb = p;

	free(zb->z);
	free(zb);
}

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	struct msg_zbody *zb = msg_state(m, &proc_compressor);
	(void)st;

	if (!zb) {
		snprintf(why, n, "Compressor: out of memory");
		return PROC_TEMP;
	}
	zb->level = m->cfg ? (int)m->cfg->backend.compress_level : 9;
	msg_provide(m, PROV_COMPRESSED, zb);
	return PROC_OK;
}

const struct proc_ops proc_compressor = {
	.name = "Compressor",
	.available = 1,
	.deliver = deliver,
	.provides = PROV_COMPRESSED,
	.mstate_new = mstate_new,
	.mstate_free = mstate_free,
};
