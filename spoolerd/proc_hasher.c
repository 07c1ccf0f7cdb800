/*
 * proc_hasher.c - Hasher: one hex MD5 per recipient, go-guerrilla's id
 * for a stored copy: MD5(sender, subject, time stamp, recipient).
 *
 * go-guerrilla takes the time stamp at processing time, so a retry has a
 * new hash and stores a duplicate. Here the stamp is the queue id (time,
 * microseconds, pid, counter of the session), so every attempt of one
 * entry gives the same hashes and processors keyed by them stay
 * idempotent. The hashes are its per-message state, provided to later
 * processors as PROV_HASH (msg_hash); a chain naming Redis, MySQL or SQL
 * without Hasher gets it inserted before them (autoprovides).
 */
#include "hasher.h"
#include "processor.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hasher_md5_hex(const char *sender, const char *subject,
                   const char *stamp, const char *rcpt, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	size_t ls = strlen(sender), lj = strlen(subject), lt = strlen(stamp),
	       lr = strlen(rcpt);
	unsigned char dig[16];
	char *buf = malloc(ls + lj + lt + lr + 1);
	int i;

	if (!buf)
		return -1;
	memcpy(buf, sender, ls);
	memcpy(buf + ls, subject, lj);
	memcpy(buf + ls + lj, stamp, lt);
	memcpy(buf + ls + lj + lt, rcpt, lr);
	if (gnutls_hash_fast(GNUTLS_DIG_MD5, buf, ls + lj + lt + lr, dig) <
	    0) {
		free(buf);
		return -1;
	}
	free(buf);
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[dig[i] >> 4];
		out[2 * i + 1] = hex[dig[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

/* mstate_new - one hash per recipient */
static void *mstate_new(struct msg *m)
{
	return calloc(m->env.nrcpts ? m->env.nrcpts : 1, 33);
}

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	const char *subj = msg_headers(m)->subject;
	char(*h)[33] = msg_state(m, &proc_hasher);
	size_t i;
	(void)st;

	if (!h) {
		snprintf(why, n, "Hasher: out of memory");
		return PROC_TEMP;
	}
	for (i = 0; i < m->env.nrcpts; i++)
		if (hasher_md5_hex(m->env.sender, subj ? subj : "",
				   m->env.queue_id, m->env.rcpts[i],
				   h[i]) < 0) {
			snprintf(why, n, "Hasher: MD5 failed");
			return PROC_TEMP;
		}
	msg_provide(m, PROV_HASH, h);
	return PROC_OK;
}

const struct proc_ops proc_hasher = {
	.name = "Hasher",
	.available = 1,
	.deliver = deliver,
	.provides = PROV_HASH,
	.autoprovides = PROV_HASH,
	.mstate_new = mstate_new,
	.mstate_free = free,
};
