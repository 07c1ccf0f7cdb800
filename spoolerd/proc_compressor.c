/*
 * proc_compressor.c - Compressor: the stores after it keep the message
 * zlib-compressed (RFC 1950, as go-guerrilla's compress/zlib writer),
 * delivery headers included, at compress_level (default 9; go-guerrilla
 * uses 1, zlib.BestSpeed). The MySQL row then says body = "gzip", go-guerrilla's
 * word for it, though the stream is zlib, not gzip.
 *
 * Nothing is compressed here: the flag tells msg_payload to compress
 * what a store asks for, so a chain that stores nothing pays nothing.
 */
#include "processor.h"

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	(void)st;
	(void)why;
	(void)n;
	m->compress = (m->cfg ? (int)m->cfg->backend.compress_level : 9) + 1;
	return PROC_OK;
}

const struct proc_ops proc_compressor = {"Compressor", 1, 0, NULL, deliver,
					 NULL, NULL, NULL};
