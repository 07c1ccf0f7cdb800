/* retry.h - back-off schedule and the per-entry retry state file */
#ifndef RETRY_H
#define RETRY_H

#include <stddef.h>

struct retry_state {
	unsigned attempts;  /* failed attempts so far */
	long long next_ms;  /* epoch ms of the next attempt */
	char reason[512];   /* the last temporary failure */
};

/* retry_delay - wait after the n-th failed attempt (n >= 1): first,
 * doubled each time, capped at max; all in ms */
long long retry_delay(long long first, long long max, unsigned n);

/* retry_next - when to try again after failed attempt n at now_ms of an
 * entry queued at queued_ms: epoch ms, or -1 when the entry has outlived
 * lifetime (then it fails). The last attempt is made at the expiry. */
long long retry_next(long long first, long long max, long long lifetime,
                     long long queued_ms, unsigned n, long long now_ms);

/* retry_format / retry_parse - the state file text:
 * "attempts N\nnext MS\nreason TEXT\n"; parse 0 or -1 */
int retry_format(const struct retry_state *st, char *out, size_t size);
int retry_parse(const char *p, size_t len, struct retry_state *st);

/* retry_load - read dir/name; 0, 1 when there is none, -1 on error */
int retry_load(int dirfd, const char *name, struct retry_state *st);

/* retry_save - write dir/name atomically (tmp, fsync, rename) */
int retry_save(int dirfd, const char *name, const struct retry_state *st);

#endif
