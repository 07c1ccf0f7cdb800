/*
 * entry.c - write and read the envelope block of a spool entry.
 *
 * An entry is a readable RFC 5322 message:
 *
 *   X-Spool-Version: 2
 *   X-Spool-Queue-Id: 1764078600.M123456P4242Q1
 *   X-Spool-Time: 1764078600
 *   X-Spool-Host: mx.example.com
 *   X-Spool-Sender: <a@example.org>        ("<>" for the null sender)
 *   X-Spool-Recipient: <b@example.com>     (one line per recipient)
 *   X-Spool-Client: 192.0.2.1 port 51234
 *   X-Spool-Helo: client.example.org
 *   X-Spool-Protocol: ESMTP
 *   X-Spool-TLS: none
 *   X-Spool-Body: 8BITMIME
 *   X-Spool-SMTPUTF8: yes                  (only after MAIL ... SMTPUTF8)
 *   X-Spool-Size: 00000000000000004711     (message bytes, patched last)
 *   X-Spool-Data-Offset: 0000000587        (where the message starts)
 *   Received: from ... by ... with ESMTP id ...; date
 *   <the client's message, byte-exact>
 *
 * Lines end in CRLF like the message. Invariant: the envelope ends at our
 * Received line, and every field is checked by entry_field_ok before it is
 * written, so no byte from the client can add or change an envelope line;
 * the reader stops at the first "Received:" and refuses anything else.
 * Our Received header runs from there to X-Spool-Data-Offset, the byte
 * offset of the client's first byte from the start of the file (fixed
 * width, filled in once the header is made), so a reader never has to
 * guess where our header ends: a message that starts with white space,
 * or a Received header of another shape, cannot shift the boundary. A
 * message that starts with white space would read, to any mail reader,
 * as more of our Received header; the session then ends our header with
 * an empty line first (as Postfix does), which X-Spool-Data-Offset
 * counts as ours, so the client's bytes stay byte-exact after it.
 *
 * X-Spool-SMTPUTF8 (RFC 6531) is written only for a transaction that
 * used SMTPUTF8: its addresses may be UTF-8 and X-Spool-Protocol is
 * UTF8SMTP or UTF8SMTPS. Every other entry stays byte for byte what it
 * was, and an entry without the field reads as not SMTPUTF8, so the
 * version stays 2.
 *
 * Version 1 entries (written before X-Spool-Data-Offset existed) are
 * still read: spoolerd meets them after an upgrade in new/, cur/ and
 * defer/, and an admin may move one back from failed/ at any time. For
 * them the boundary comes from the shape version 1 always wrote: a
 * "from" line, a "by" line, and a "for" line with one recipient.
 */
#include "entry.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int entry_field_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

void entry_make_id(char *buf, size_t size, long long sec, long usec,
                   long pid, unsigned counter,
                   const unsigned char rnd[ENTRY_ID_RANDOM])
{
	static const char hex[] = "0123456789abcdef";
	char r[2 * ENTRY_ID_RANDOM + 1];
	size_t i;

	for (i = 0; i < ENTRY_ID_RANDOM; i++) {
		r[2 * i] = hex[rnd[i] >> 4];
		r[2 * i + 1] = hex[rnd[i] & 15];
	}
	r[2 * ENTRY_ID_RANDOM] = '\0';
	snprintf(buf, size, "%lld.M%06ldP%ldQ%uR%s", sec, usec, pid, counter,
		 r);
}

void entry_size_digits(char out[ENTRY_SIZE_WIDTH + 1], long long size)
{
	snprintf(out, ENTRY_SIZE_WIDTH + 1, "%0*lld", ENTRY_SIZE_WIDTH, size);
}

int entry_offset_digits(char out[ENTRY_OFFSET_WIDTH + 1], size_t off)
{
	int n = snprintf(out, ENTRY_OFFSET_WIDTH + 1, "%0*zu",
			 ENTRY_OFFSET_WIDTH, off);

	return n == ENTRY_OFFSET_WIDTH ? 0 : -1;
}

/* field - "X-Spool-NAME: value\r\n", value checked */
static int field(struct buf *b, const char *name, const char *v)
{
	if (!entry_field_ok(v, strlen(v)) || strlen(v) > 1000)
		return -1;
	if (buf_addf(b, "X-Spool-%s: ", name) < 0 ||
	    buf_add(b, v, strlen(v)) < 0 || buf_add(b, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* path_field - an address in angle brackets */
static int path_field(struct buf *b, const char *name, const char *addr)
{
	if (!entry_field_ok(addr, strlen(addr)) || strlen(addr) > 1000)
		return -1;
	if (buf_addf(b, "X-Spool-%s: <", name) < 0 ||
	    buf_add(b, addr, strlen(addr)) < 0 || buf_add(b, ">\r\n", 3) < 0)
		return -1;
	return 0;
}

int entry_format(struct buf *b, struct envelope *env)
{
	char date[64], digits[ENTRY_SIZE_WIDTH + 1];
	char odigits[ENTRY_OFFSET_WIDTH + 1];
	size_t i, offset_at;
	int esmtps = strcmp(env->tls, "none") != 0;

	if (buf_addf(b, "X-Spool-Version: %d\r\n", ENTRY_VERSION) < 0 ||
	    field(b, "Queue-Id", env->queue_id) < 0 ||
	    buf_addf(b, "X-Spool-Time: %lld\r\n", env->time) < 0 ||
	    field(b, "Host", env->host) < 0 ||
	    path_field(b, "Sender", env->sender) < 0)
		return -1;
	for (i = 0; i < env->nrcpts; i++)
		if (path_field(b, "Recipient", env->rcpts[i]) < 0)
			return -1;
	if (!entry_field_ok(env->client_ip, strlen(env->client_ip)) ||
	    buf_addf(b, "X-Spool-Client: %.64s port %u\r\n", env->client_ip,
		     env->client_port) < 0 ||
	    (env->proxy && field(b, "Proxy", env->proxy) < 0) ||
	    field(b, "Helo", env->helo) < 0 ||
	    field(b, "Protocol", env->protocol) < 0 ||
	    field(b, "TLS", env->tls) < 0 || field(b, "Body", env->body) < 0)
		return -1;
	if (env->smtputf8 && field(b, "SMTPUTF8", "yes") < 0)
		return -1;
	if (buf_add(b, "X-Spool-Size: ", 14) < 0)
		return -1;
	env->size_off = b->len;
	entry_size_digits(digits, env->size < 0 ? 0 : env->size);
	if (buf_add(b, digits, ENTRY_SIZE_WIDTH) < 0 ||
	    buf_add(b, "\r\n", 2) < 0 ||
	    buf_add(b, "X-Spool-Data-Offset: ", 21) < 0)
		return -1;
	offset_at = b->len;
	env->doff_off = offset_at;
	if (entry_offset_digits(odigits, 0) < 0 ||
	    buf_add(b, odigits, ENTRY_OFFSET_WIDTH) < 0 ||
	    buf_add(b, "\r\n", 2) < 0)
		return -1;
	env->received_off = b->len;
	util_rfc5322_date(env->time, date, sizeof(date));
	/* RFC 5321 4.4 trace: from, by, with, id, for (one recipient only,
	 * as Postfix does, so Bcc recipients are not disclosed) */
	if (env->client_name &&
	    (!entry_field_ok(env->client_name, strlen(env->client_name)) ||
	     strlen(env->client_name) > 255))
		return -1;
	if (buf_add(b, "Received: from ", 15) < 0 ||
	    buf_add(b, env->helo, strlen(env->helo)) < 0 ||
	    buf_addf(b, " (%s [%.64s])\r\n\t",
		     env->client_name ? env->client_name : "unknown",
		     env->client_ip) < 0 ||
	    (env->proxy &&
	     buf_addf(b, "(proxied by %s)\r\n\t", env->proxy) < 0) ||
	    buf_add(b, "by ", 3) < 0 ||
	    buf_add(b, env->host, strlen(env->host)) < 0 ||
	    buf_addf(b, " with %s", env->protocol) < 0)
		return -1;
	if (esmtps && (buf_add(b, " (", 2) < 0 ||
		       buf_add(b, env->tls, strlen(env->tls)) < 0 ||
		       buf_add(b, ")", 1) < 0))
		return -1;
	if (buf_addf(b, " id %s", env->queue_id) < 0)
		return -1;
	if (env->nrcpts == 1 &&
	    (buf_add(b, "\r\n\tfor <", 8) < 0 ||
	     buf_add(b, env->rcpts[0], strlen(env->rcpts[0])) < 0 ||
	     buf_add(b, ">", 1) < 0))
		return -1;
	if (buf_addf(b, "; %s\r\n", date) < 0)
		return -1;
	env->data_off = b->len;
	if (entry_offset_digits(odigits, env->data_off) < 0)
		return -1;
	memcpy(b->p + offset_at, odigits, ENTRY_OFFSET_WIDTH);
	return 0;
}

/* dupn - malloc'd copy of s[0..n) */
static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* strip_path - "<addr>" -> "addr"; NULL if not bracketed */
static char *strip_path(const char *v, size_t n)
{
	if (n < 2 || v[0] != '<' || v[n - 1] != '>')
		return NULL;
	return dupn(v + 1, n - 2);
}

static int parse_ll(const char *v, size_t n, long long *out)
{
	unsigned long u;

	if (util_parse_ulong(v, n, (unsigned long)1 << 62, &u) < 0)
		return -1;
	*out = (long long)u;
	return 0;
}

/* received_end - does our Received header, from rec, end at doff? Its
 * first line is whole (the caller found its LF); the others must be
 * folded (RFC 5322 2.2.3) and the last must end in CRLF at doff. 0, or
 * -1 with err */
static int received_end(const char *p, size_t len, size_t rec,
                        long long doff, const char **err)
{
	const char *eol = memchr(p + rec, '\n', len - rec);
	size_t off = (size_t)(eol - p) + 1;

	if ((unsigned long long)doff > len) {
		*err = "Received header not complete";
		return -1;
	}
	while (off < (size_t)doff) {
		eol = memchr(p + off, '\n', (size_t)doff - off);
		if ((p[off] != '\t' && p[off] != ' ') || !eol ||
		    eol[-1] != '\r')
			break;
		off = (size_t)(eol - p) + 1;
	}
	/* the empty line the session puts after our header when the
	 * client's message starts with white space (which would otherwise
	 * continue our Received header) */
	if (off + 2 == (size_t)doff && p[off] == '\r' && p[off + 1] == '\n')
		off += 2;
	if (off != (size_t)doff) {
		*err = "X-Spool-Data-Offset is not the end of the Received "
		       "header";
		return -1;
	}
	return 0;
}

/* received_v1 - where a version 1 entry's message starts: our Received
 * header had a fixed shape, a "from" line, a "by" line, and a "for" line
 * when there is one recipient (entry_format before version 2). So the
 * message starts after exactly that many lines, even when the client's
 * first line begins with white space. *off: the Received line, then the
 * message. 0, or -1 with err */
static int received_v1(const char *p, size_t len, size_t *off, int one_rcpt,
                       const char **err)
{
	int i, lines = one_rcpt ? 3 : 2;

	for (i = 0; i < lines; i++) {
		const char *eol = memchr(p + *off, '\n', len - *off);

		if (!eol || (i > 0 && p[*off] != '\t')) {
			*err = "Received header not complete";
			return -1;
		}
		*off = (size_t)(eol - p) + 1;
	}
	return 0;
}

int entry_parse(const char *p, size_t len, struct envelope *env,
                const char **err)
{
	size_t off = 0;
	long long doff = -1;
	int version = 0;

	memset(env, 0, sizeof(*env));
	env->size = -1;
	*err = NULL;
	while (off < len) {
		const char *line = p + off, *colon, *v;
		const char *eol = memchr(line, '\n', len - off);
		size_t ll, nl, vl;
		char **nr;

		if (!eol || eol == line || eol[-1] != '\r') {
			*err = "envelope line not ended by CRLF";
			goto bad;
		}
		ll = (size_t)(eol - line) - 1; /* without CRLF */
		if (ll >= 9 && !memcmp(line, "Received:", 9))
			break;
		if (ll < 9 || memcmp(line, "X-Spool-", 8) != 0) {
			*err = "unexpected line in envelope";
			goto bad;
		}
		colon = memchr(line, ':', ll);
		if (!colon || colon + 1 >= line + ll || colon[1] != ' ') {
			*err = "envelope line without \": \"";
			goto bad;
		}
		nl = (size_t)(colon - line) - 8;
		v = colon + 2;
		vl = ll - (size_t)(v - line);
		if (!entry_field_ok(v, vl)) {
			*err = "control byte in envelope";
			goto bad;
		}
#define IS(name) (nl == sizeof(name) - 1 && !memcmp(line + 8, name, nl))
		if (IS("Version")) {
			long long x;

			if (parse_ll(v, vl, &x) < 0 || x < 1 ||
			    x > ENTRY_VERSION) {
				*err = "unknown entry version";
				goto bad;
			}
			version = (int)x;
		} else if (IS("Queue-Id") && !env->queue_id) {
			env->queue_id = dupn(v, vl);
		} else if (IS("Time")) {
			/* at most the end of year 9999: readers turn it into
			 * a date and into milliseconds */
			if (parse_ll(v, vl, &env->time) < 0 ||
			    env->time > 253402300799LL) {
				*err = "bad X-Spool-Time";
				goto bad;
			}
		} else if (IS("Host") && !env->host) {
			env->host = dupn(v, vl);
		} else if (IS("Sender") && !env->sender) {
			env->sender = strip_path(v, vl);
			if (!env->sender) {
				*err = "bad X-Spool-Sender";
				goto bad;
			}
		} else if (IS("Recipient")) {
			char *r = strip_path(v, vl);

			if (!r) {
				*err = "bad X-Spool-Recipient";
				goto bad;
			}
			nr = realloc(env->rcpts,
				     (env->nrcpts + 1) * sizeof(*nr));
			if (!nr) {
				free(r);
				*err = "out of memory";
				goto bad;
			}
			env->rcpts = nr;
			env->rcpts[env->nrcpts++] = r;
		} else if (IS("Client") && !env->client_ip) {
			const char *sp = memchr(v, ' ', vl);
			unsigned long port = 0;

			if (!sp || (size_t)(v + vl - sp) < 6 ||
			    memcmp(sp, " port ", 6) != 0 ||
			    util_parse_ulong(sp + 6, (size_t)(v + vl - sp - 6),
					     65535, &port) < 0) {
				*err = "bad X-Spool-Client";
				goto bad;
			}
			env->client_ip = dupn(v, (size_t)(sp - v));
			env->client_port = (unsigned)port;
		} else if (IS("Proxy") && !env->proxy) {
			env->proxy = dupn(v, vl);
		} else if (IS("Helo") && !env->helo) {
			env->helo = dupn(v, vl);
		} else if (IS("Protocol") && !env->protocol) {
			env->protocol = dupn(v, vl);
		} else if (IS("TLS") && !env->tls) {
			env->tls = dupn(v, vl);
		} else if (IS("Body") && !env->body) {
			env->body = dupn(v, vl);
		} else if (IS("SMTPUTF8") && !env->smtputf8) {
			if (vl != 3 || memcmp(v, "yes", 3) != 0) {
				*err = "bad X-Spool-SMTPUTF8";
				goto bad;
			}
			env->smtputf8 = 1;
		} else if (IS("Size")) {
			if (parse_ll(v, vl, &env->size) < 0) {
				*err = "bad X-Spool-Size";
				goto bad;
			}
			env->size_off = (size_t)(v - p);
		} else if (IS("Data-Offset") && doff < 0) {
			if (parse_ll(v, vl, &doff) < 0) {
				*err = "bad X-Spool-Data-Offset";
				goto bad;
			}
		} else {
			*err = "unknown or repeated envelope field";
			goto bad;
		}
#undef IS
		off = (size_t)(eol - p) + 1;
	}
	if (off >= len) {
		*err = "no Received line after the envelope";
		goto bad;
	}
	env->received_off = off;
	if (version == 1 && doff >= 0) {
		*err = "X-Spool-Data-Offset in a version 1 entry";
		goto bad;
	}
	if (version == 1) {
		if (received_v1(p, len, &off, env->nrcpts == 1, err) < 0)
			goto bad;
	} else if (doff >= 0) {
		if (received_end(p, len, off, doff, err) < 0)
			goto bad;
		off = (size_t)doff;
	}
	env->data_off = off;
	if (!version || (version != 1 && doff < 0) || !env->queue_id ||
	    !env->sender || !env->nrcpts ||
	    !env->client_ip || !env->helo || !env->protocol || !env->tls ||
	    !env->body || !env->host || env->size < 0) {
		*err = "envelope field missing";
		goto bad;
	}
	return 0;
bad:
	if (!*err)
		*err = "out of memory";
	entry_free(env);
	return -1;
}

int entry_read_fd(int fd, struct envelope *env, const char **err)
{
	size_t cap = 8192, len = 0;
	char *p = NULL;
	int r;

	for (;;) {
		char *np = realloc(p, cap);
		ssize_t n;

		if (!np) {
			free(p);
			*err = "out of memory";
			return -1;
		}
		p = np;
		n = pread(fd, p + len, cap - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(p);
			*err = "read error";
			return -1;
		}
		len += (size_t)n;
		/* enough when the envelope and our Received header are in
		 * view */
		if (n == 0 || len == cap) {
			r = entry_parse(p, len, env, err);
			if (n == 0 || cap >= ENTRY_MAX_ENVELOPE)
				break;
			/* the Received header may go on past the buffer */
			if (r == 0 && env->data_off < len)
				break;
			if (r == 0)
				entry_free(env);
			cap *= 2;
		}
	}
	free(p);
	return r;
}

void entry_free(struct envelope *env)
{
	size_t i;

	free(env->queue_id);
	free(env->host);
	free(env->sender);
	for (i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	free(env->client_ip);
	free(env->proxy);
	free(env->helo);
	free(env->protocol);
	free(env->tls);
	free(env->body);
	memset(env, 0, sizeof(*env));
}
