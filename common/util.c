/*
 * util.c - checked number parsing, durations, log-safe strings and dates.
 *
 * These replace atoi/strtol-without-checks and sprintf-into-fixed-buffers
 * (banned by `make lint`): every parse checks range and trailing junk, every
 * copy is bounded by the destination.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* util_parse_ulong - digits only, no sign, no spaces, no overflow */
int util_parse_ulong(const char *s, size_t len, unsigned long max,
                     unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* util_parse_duration - sequence of <number><unit>, units h m s ms */
int util_parse_duration(const char *s, long long *ms)
{
	long long total = 0;
	const char *p = s;

	if (*p == '\0')
		return -1;
	while (*p) {
		unsigned long n;
		const char *start = p;
		long long mult;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start ||
		    util_parse_ulong(start, (size_t)(p - start), 100000000UL,
				     &n) < 0)
			return -1;
		if (*p == '\0' && start == s) {
			mult = 1000; /* bare number: seconds */
		} else if (p[0] == 'm' && p[1] == 's') {
			mult = 1;
			p += 2;
		} else if (*p == 'h') {
			mult = 3600000;
			p++;
		} else if (*p == 'm') {
			mult = 60000;
			p++;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else {
			return -1;
		}
		total += (long long)n * mult;
		if (total > 100000000LL * 3600000LL)
			return -1;
	}
	*ms = total;
	return 0;
}

/* util_format_duration - inverse of util_parse_duration */
void util_format_duration(long long ms, char *buf, size_t size)
{
	long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
	long long rest = ms % 1000;
	size_t n = 0;

	buf[0] = '\0';
	if (h)
		n += (size_t)snprintf(buf + n, size - n, "%lldh", h);
	if (m && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%lldm", m);
	if ((s || (!h && !m && !rest)) && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%llds", s);
	if (rest && n < size)
		snprintf(buf + n, size - n, "%lldms", rest);
}

/* util_printable - escape for logs; never more than dstsize-1 bytes */
void util_printable(char *dst, size_t dstsize, const char *src, size_t len,
                    size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsize == 0)
		return;
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstsize)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsize)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < len && o + 3 < dstsize) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* util_rfc5322_date - always UTC; formatted by hand because strftime
 * calls tzset(), which reads /etc/localtime in every session */
void util_rfc5322_date(long long t, char *buf, size_t size)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		/* a year past INT_MAX leaves tm unset: print the epoch */
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	snprintf(buf, size, "%s, %02d %s %04lld %02d:%02d:%02d +0000",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 (long long)tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

int util_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = write(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}
