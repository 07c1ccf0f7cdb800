/* util.h - small checked helpers shared by both programs */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

/* util_parse_ulong - decimal string to unsigned long, whole string, range
 * checked; returns 0 on success, -1 on junk or overflow. */
int util_parse_ulong(const char *s, size_t len, unsigned long max,
                     unsigned long *out);

/* util_parse_hostport - s[0..len) as "host", "host:port", "[v6]",
 * "[v6]:port" or ":port" into host (NUL-terminated, "" when s names no
 * host: the caller decides what that means) and *port, 1..65535. A
 * missing port is defport; defport 0 makes the port required. An IPv6
 * address with a port goes in brackets. 0, or -1 with a reason in *why
 * (a constant string). */
int util_parse_hostport(const char *s, size_t len, unsigned defport,
                        char *host, size_t hsize, unsigned *port,
                        const char **why);

/* util_mono_ms - CLOCK_MONOTONIC in milliseconds */
long long util_mono_ms(void);

/* util_hexval - the value of the hex digit c (either case), or -1 */
int util_hexval(int c);

/* util_parse_duration - go time.ParseDuration subset ("30s", "5m", "1h30m",
 * "500ms", a bare number is seconds) into milliseconds; 0 or -1. */
int util_parse_duration(const char *s, long long *ms);

/* util_format_duration - milliseconds back into the "1h2m3s" form. */
void util_format_duration(long long ms, char *buf, size_t size);

/* util_printable - copy src into dst for a log line: control bytes, '\\'
 * and non-ASCII become \xNN, cut at max source bytes ("..." appended). */
void util_printable(char *dst, size_t dstsize, const char *src, size_t len,
                    size_t max);

/* util_rfc5322_date - "Wed, 25 Nov 2026 13:50:00 +0000" for t. */
void util_rfc5322_date(long long t, char *buf, size_t size);

/* util_write_all - write all n bytes to fd, retrying short writes and
 * EINTR; 0, or -1 with errno (EIO for a write of 0 bytes). */
int util_write_all(int fd, const void *p, size_t n);

#endif
