/*
 * retry.c - exponential back-off with its state kept on disk.
 *
 * A deferred entry waits in defer/ID; its state is state/ID, three text
 * lines (attempts, next attempt in epoch ms, last reason). The file is
 * replaced atomically (write .ID.tmp, fsync, rename), so after a crash it
 * is either the old or the new state, and a restart resumes the schedule
 * instead of hammering a broken destination. Expiry counts from the time
 * the session queued the entry (X-Spool-Time), as Postfix's
 * maximal_queue_lifetime counts from arrival.
 */
#include "retry.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

long long retry_delay(long long first, long long max, unsigned n)
{
	long long d = first;
	unsigned i;

	if (first <= 0)
		return 0;
	for (i = 1; i < n && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

long long retry_next(long long first, long long max, long long lifetime,
                     long long queued_ms, unsigned n, long long now_ms)
{
	long long expire = queued_ms + lifetime;
	long long next;

	if (now_ms >= expire)
		return -1;
	next = now_ms + retry_delay(first, max, n);
	return next > expire ? expire : next;
}

int retry_format(const struct retry_state *st, char *out, size_t size)
{
	char why[sizeof(st->reason)];
	size_t i;
	int n;

	/* one line: control bytes in a reason would break the format */
	for (i = 0; i < sizeof(why) - 1 && st->reason[i]; i++)
		why[i] = (unsigned char)st->reason[i] < 0x20 ? ' '
							     : st->reason[i];
	why[i] = '\0';
	n = snprintf(out, size, "attempts %u\nnext %lld\nreason %s\n",
		     st->attempts, st->next_ms, why);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int retry_parse(const char *p, size_t len, struct retry_state *st)
{
	const char *end = p + len;
	int have = 0;

	memset(st, 0, sizeof(*st));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		unsigned long v;
		size_t ll;

		if (!eol)
			return -1; /* torn write: treat as no state */
		ll = (size_t)(eol - p);
		if (ll > 9 && !memcmp(p, "attempts ", 9)) {
			if (util_parse_ulong(p + 9, ll - 9, 1000000, &v) < 0)
				return -1;
			st->attempts = (unsigned)v;
			have |= 1;
		} else if (ll > 5 && !memcmp(p, "next ", 5)) {
			if (util_parse_ulong(p + 5, ll - 5, (1UL << 62), &v) <
			    0)
				return -1;
			st->next_ms = (long long)v;
			have |= 2;
		} else if (ll >= 7 && !memcmp(p, "reason ", 7)) {
			size_t n = ll - 7;

			if (n >= sizeof(st->reason))
				n = sizeof(st->reason) - 1;
			memcpy(st->reason, p + 7, n);
			st->reason[n] = '\0';
		}
		p = eol + 1;
	}
	return have == 3 ? 0 : -1;
}

int retry_load(int dirfd, const char *name, struct retry_state *st)
{
	char buf[1024];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -1;
	if (retry_parse(buf, (size_t)n, st) < 0) {
		memset(st, 0, sizeof(*st));
		return 1;
	}
	return 0;
}

int retry_save(int dirfd, const char *name, const struct retry_state *st)
{
	char text[1024], tmp[300];
	int fd, n = retry_format(st, text, sizeof(text));

	if (n < 0 || snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >=
			     (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
					O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;

		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}
