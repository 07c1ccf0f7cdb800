/*
 * addr.c - parse the path of MAIL FROM and RCPT TO (RFC 5321 4.1.2).
 *
 * Path = "<" [ A-d-l ":" ] Mailbox ">"; the source route is accepted and
 * dropped (RFC 5321 C). Local part: dot-string or quoted-string; domain:
 * labels or an address literal. Octets >= 0x80 are let through in atoms,
 * quoted strings and domain labels (RFC 6531 3.3: UTF-8 in both parts);
 * session.c then takes such an address only in an SMTPUTF8 transaction
 * and only as valid UTF-8 (utf8.c), else 553 5.6.7. No control byte can
 * pass, so an address is safe for the spool envelope and the log.
 * Limits: local part 64, domain 255, path 256 (octets, as RFC 6531 3.3
 * keeps them).
 */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

/* is_ldh - a byte of a domain label: LDH, '_', and the octets of a
 * U-label (RFC 6531) */
static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
}

/* domain_len - length of a valid Domain or address-literal at p, 0 if
 * none */
static size_t domain_len(const char *p, const char *end)
{
	const char *s = p;

	if (p < end && *p == '[') {
		const char *e = memchr(p, ']', (size_t)(end - p));
		char lit[64];
		unsigned char tmp[16];
		size_t n;

		if (!e)
			return 0;
		n = (size_t)(e - p - 1);
		/* a NUL would end the text inet_pton sees, not the literal */
		if (n == 0 || n >= sizeof(lit) || memchr(p + 1, '\0', n))
			return 0;
		memcpy(lit, p + 1, n);
		lit[n] = '\0';
		if (n > 5 && !strncasecmp(lit, "IPv6:", 5)) {
			if (inet_pton(AF_INET6, lit + 5, tmp) != 1)
				return 0;
		} else if (inet_pton(AF_INET, lit, tmp) != 1) {
			return 0;
		}
		return n + 2;
	}
	for (;;) {
		const char *label = p;

		while (p < end && is_ldh((unsigned char)*p))
			p++;
		if (p == label || *label == '-' || p[-1] == '-')
			return 0;
		if (p < end && *p == '.' && p + 1 < end &&
		    is_ldh((unsigned char)p[1])) {
			p++;
			continue;
		}
		break;
	}
	return (size_t)(p - s);
}

/* local_len - length of a dot-string or quoted-string at p, 0 if none */
static size_t local_len(const char *p, const char *end)
{
	const char *s = p;

	if (p < end && *p == '"') {
		for (p++; p < end; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '"')
				return (size_t)(p + 1 - s);
			if (c == '\\') {
				if (p + 1 >= end || (unsigned char)p[1] < 32 ||
				    (unsigned char)p[1] > 126)
					return 0;
				p++;
				continue;
			}
			/* qtextSMTP, and UTF8-non-ascii (RFC 6531 3.3) */
			if (c < 32 || c == 127)
				return 0;
		}
		return 0;
	}
	for (;;) {
		const char *atom = p;

		while (p < end && is_atext((unsigned char)*p))
			p++;
		if (p == atom)
			return 0;
		if (p < end && *p == '.') {
			p++;
			continue;
		}
		break;
	}
	return (size_t)(p - s);
}

/* skip_route - "@a,@b:" before the mailbox; returns p past it */
static const char *skip_route(const char *p, const char *end)
{
	if (p >= end || *p != '@')
		return p;
	for (;;) {
		size_t d;

		if (p >= end || *p != '@')
			return NULL;
		p++;
		d = domain_len(p, end);
		if (!d)
			return NULL;
		p += d;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ':')
			return p + 1;
		return NULL;
	}
}

enum addr_kind addr_parse(const char *arg, size_t len, struct mailpath *mp)
{
	const char *p = arg, *end = arg + len, *mb, *close;
	size_t ll, dl = 0;
	int bracket;

	memset(mp, 0, sizeof(*mp));
	mp->kind = ADDR_BAD;
	while (p < end && *p == ' ')
		p++;
	bracket = p < end && *p == '<';
	if (bracket) {
		p++;
		if (p < end && *p == '>') {
			close = p;
			mp->kind = ADDR_NULL;
			mp->addr[0] = '\0';
			mp->len = mp->at = 0;
			goto params;
		}
		p = skip_route(p, end);
		if (!p)
			return ADDR_BAD;
	}
	mb = p;
	ll = local_len(p, end);
	if (!ll || ll > ADDR_MAX_LOCAL)
		return ADDR_BAD;
	p += ll;
	if (p < end && *p == '@') {
		dl = domain_len(p + 1, end);
		if (!dl || dl > ADDR_MAX_DOMAIN)
			return ADDR_BAD;
		p += 1 + dl;
	}
	if (bracket) {
		if (p >= end || *p != '>')
			return ADDR_BAD;
		close = p;
	} else {
		/* without <> only a whole mailbox is taken */
		if (!dl || (p < end && *p != ' '))
			return ADDR_BAD;
		close = p - 1; /* params start after close + 1 */
	}
	if ((size_t)(p - mb) + 2 > ADDR_MAX_PATH)
		return ADDR_BAD;
	mp->len = (size_t)(p - mb);
	memcpy(mp->addr, mb, mp->len);
	mp->addr[mp->len] = '\0';
	mp->at = dl ? ll : mp->len;
	mp->kind = dl ? ADDR_MAILBOX : ADDR_LOCAL;
params:
	p = close + 1;
	if (p < end && *p != ' ')
		return mp->kind = ADDR_BAD;
	while (p < end && *p == ' ')
		p++;
	mp->params = p;
	mp->params_len = (size_t)(end - p);
	return mp->kind;
}

int addr_param_next(const char **pp, const char *end, const char **key,
                    size_t *klen, const char **val, size_t *vlen)
{
	const char *p = *pp, *s, *eq;

	while (p < end && *p == ' ')
		p++;
	if (p >= end)
		return -1;
	s = p;
	while (p < end && *p != ' ')
		p++;
	eq = memchr(s, '=', (size_t)(p - s));
	*key = s;
	*klen = eq ? (size_t)(eq - s) : (size_t)(p - s);
	*val = eq ? eq + 1 : NULL;
	*vlen = eq ? (size_t)(p - eq - 1) : 0;
	*pp = p;
	return 0;
}
