/*
 * util.c - checked number parsing, host:port, durations, log-safe
 * strings, dates and the monotonic clock.
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

/* host_ok - no space, control byte or stray bracket in a host */
static int host_ok(const char *h, size_t n, int bracketed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c <= 0x20 || c == 0x7f ||
		    (!bracketed && (c == '[' || c == ']')))
			return 0;
	}
	return 1;
}

/* util_parse_hostport - split at the bracket or the only colon; the
 * port goes through util_parse_ulong (digits only, no sign, no space) */
int util_parse_hostport(const char *s, size_t len, unsigned defport,
                        char *host, size_t hsize, unsigned *port,
                        const char **why)
{
	const char *h = s, *end = s + len, *colon = NULL;
	size_t hl;
	unsigned long p = defport;

	if (len && s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (!rb) {
			*why = "'[' without ']'";
			return -1;
		}
		h = s + 1;
		hl = (size_t)(rb - h);
		if (hl == 0) {
			*why = "empty address in brackets";
			return -1;
		}
		if (rb + 1 < end && rb[1] != ':') {
			*why = "junk after ']'";
			return -1;
		}
		if (rb + 1 < end)
			colon = rb + 1;
	} else {
		colon = memchr(s, ':', len);
		if (colon &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			*why = "more than one ':' (put an IPv6 address in "
			       "brackets)";
			return -1;
		}
		hl = colon ? (size_t)(colon - s) : len;
	}
	if (!host_ok(h, hl, h != s)) {
		*why = "space, control byte or bracket in the host";
		return -1;
	}
	if (hl >= hsize) {
		*why = "host too long";
		return -1;
	}
	if (colon) {
		if (util_parse_ulong(colon + 1, (size_t)(end - colon - 1),
				     65535, &p) < 0 ||
		    p == 0) {
			*why = "port is not a number from 1 to 65535";
			return -1;
		}
	} else if (defport == 0) {
		*why = "no port";
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

/* util_mono_ms - for timeouts and intervals; never goes back */
long long util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
