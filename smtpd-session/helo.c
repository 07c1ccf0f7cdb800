/*
 * helo.c - what a client says first.
 *
 * HELO/EHLO argument (RFC 5321 4.1.1.1: a Domain or an address-literal).
 * Without helo_strict only junk is refused: empty, or a byte that is a
 * space, a control or not ASCII (RFC 5321 4.1.4 says not to refuse a
 * client for a wrong name; go-guerrilla takes anything). With helo_strict
 * (the default) it must also be a name or a literal, so "HELO <script>"
 * or "EHLO a;b" gets 501 5.5.2, while everything real MTAs and clients
 * send passes:
 *   - a name of labels [A-Za-z0-9_-], none empty, none starting or ending
 *     with '-', at most 63 octets each and 253 in all: single labels too
 *     ("localhost", Windows' "WIN-4G1SBD0"), underscores too (NetBIOS
 *     names, which Postfix's reject_invalid_helo_hostname accepts as
 *     well), and one trailing dot ("mx.example.com.", an absolute name);
 *   - "[192.0.2.1]" and "[IPv6:2001:db8::1]" (RFC 5321 4.1.3); a bare
 *     IPv4 or IPv6 address, which broken clients send, as Postfix does;
 *   - not a General-address-literal ("[tag:...]"): nobody sends one.
 * A-labels ("xn--...") are LDH; a U-label is not ASCII and is refused:
 * RFC 6531 3.7.1 has SMTPUTF8 clients send the A-label in EHLO.
 *
 * HTTP methods as the first command: a browser or a proxy made to talk
 * to the SMTP port (cross-protocol requests; Postfix's
 * smtpd_forbidden_commands, chasquid) sends "GET / HTTP/1.1", "POST",
 * "CONNECT host:port"... The session closes at once (session.c); the
 * rest of the request is never read as SMTP commands.
 */
#include "helo.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* name_char - a byte of a label */
static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* is_name - labels as in the header comment, one trailing dot allowed */
static int is_name(const char *a, size_t n)
{
	size_t i = 0;

	if (n && a[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	while (i < n) {
		size_t s = i;

		while (i < n && name_char((unsigned char)a[i]))
			i++;
		if (i == s || i - s > 63 || a[s] == '-' || a[i - 1] == '-')
			return 0;
		if (i < n) {
			if (a[i] != '.')
				return 0;
			i++;
			if (i == n)
				return 0; /* "a..": an empty label */
		}
	}
	return 1;
}

/* is_addr - text t[0..n) is an IPv4 (af AF_INET) or IPv6 address */
static int is_addr(const char *t, size_t n, int af)
{
	char buf[64];
	unsigned char tmp[16];

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return inet_pton(af, buf, tmp) == 1;
}

/* is_literal - "[IPv4]" or "[IPv6:...]" */
static int is_literal(const char *a, size_t n)
{
	if (n < 3 || a[0] != '[' || a[n - 1] != ']')
		return 0;
	a++;
	n -= 2;
	if (n > 5 && !strncasecmp(a, "IPv6:", 5))
		return is_addr(a + 5, n - 5, AF_INET6);
	return is_addr(a, n, AF_INET);
}

enum helo_verdict helo_check(const char *a, size_t n, int strict)
{
	size_t i;

	if (n == 0 || n >= 256)
		return HELO_JUNK;
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] <= 0x20 || (unsigned char)a[i] >= 0x7f)
			return HELO_JUNK;
	if (!strict || is_name(a, n) || is_literal(a, n) ||
	    is_addr(a, n, AF_INET6))
		return HELO_OK;
	return HELO_NOT_NAME;
}

int helo_http_verb(const char *v, size_t n)
{
	static const char *const verbs[] = {
		"GET",     "HEAD",  "POST",  "PUT",     "DELETE",
		"CONNECT", "TRACE", "PATCH", "OPTIONS", "PRI",
	};
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i]) == n && !strncasecmp(verbs[i], v, n))
			return 1;
	return 0;
}
