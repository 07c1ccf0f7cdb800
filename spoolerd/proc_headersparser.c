/*
 * proc_headersparser.c - HeadersParser: read the message header once and
 * keep what later processors and logs want (Subject, From, To,
 * Reply-To, Sender, Message-ID, Content-Type and charset, attachment or not).
 *
 * Bounded: at most HDR_MAX bytes of header are read; a longer header is
 * cut, not an error (the message is still delivered). Folded lines are
 * unfolded; RFC 2047 encoded words are decoded to UTF-8 (iconv for other
 * charsets; undecodable words are kept as written). What it found is its
 * per-message state, provided to later processors as PROV_HEADERS
 * (msg_headers).
 */
#include "hdrparse.h"
#include "processor.h"
#include "util.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HDR_MAX 65536
#define FIELD_MAX 4096

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* decode_text - B or Q payload into out (at most outsize); length or -1 */
static long decode_text(int enc, const char *s, size_t n, char *out,
                        size_t outsize)
{
	size_t i, o = 0;

	if (enc == 'B' || enc == 'b') {
		unsigned acc = 0;
		int bits = 0;

		for (i = 0; i < n; i++) {
			int v;

			if (s[i] == '=')
				break;
			v = b64val((unsigned char)s[i]);
			if (v < 0)
				return -1;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				if (o >= outsize)
					return -1;
				out[o++] = (char)((acc >> bits) & 0xff);
			}
		}
		return (long)o;
	}
	if (enc != 'Q' && enc != 'q')
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			int h, l;

			if (i + 2 >= n)
				return -1;
			h = util_hexval((unsigned char)s[i + 1]);
			l = util_hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (o >= outsize)
			return -1;
		out[o++] = c;
	}
	return (long)o;
}

/* to_utf8 - append in[0..n) in charset cs to out as UTF-8; 0 or -1 */
static int to_utf8(const char *cs, const char *in, size_t n, char *out,
                   size_t *o, size_t outsize)
{
	iconv_t cd;
	char *ip = (char *)(uintptr_t)in, *op;
	size_t il = n, ol;

	if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "us-ascii") ||
	    !strcasecmp(cs, "utf8")) {
		if (*o + n >= outsize)
			return -1;
		memcpy(out + *o, in, n);
		*o += n;
		return 0;
	}
	cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return -1;
	op = out + *o;
	ol = outsize - *o - 1;
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
		iconv_close(cd);
		return -1;
	}
	iconv_close(cd);
	*o = (size_t)(op - out);
	return 0;
}

char *hdr_decode_2047(const char *s, size_t len)
{
	char *out = malloc(FIELD_MAX + 1);
	size_t o = 0, i = 0, ws_pos = SIZE_MAX;
	int prev_encoded = 0;

	if (!out)
		return NULL;
	while (i < len && o < FIELD_MAX) {
		const char *q1, *q2, *end = NULL;
		char cs[64], raw[FIELD_MAX];
		size_t csl, save;
		long rl;

		if (s[i] == ' ' || s[i] == '\t') {
			if (prev_encoded && ws_pos == SIZE_MAX)
				ws_pos = o;
			out[o++] = s[i++];
			continue;
		}
		if (!(s[i] == '=' && i + 1 < len && s[i + 1] == '?'))
			goto literal;
		q1 = memchr(s + i + 2, '?', len - i - 2);
		if (!q1 || q1 + 2 >= s + len || q1[2] != '?')
			goto literal;
		for (q2 = q1 + 3; q2 + 1 < s + len; q2++)
			if (q2[0] == '?' && q2[1] == '=') {
				end = q2;
				break;
			}
		if (!end)
			goto literal;
		csl = (size_t)(q1 - (s + i + 2));
		if (csl == 0 || csl >= sizeof(cs))
			goto literal;
		memcpy(cs, s + i + 2, csl);
		cs[csl] = '\0';
		if (strchr(cs, '*'))
			*strchr(cs, '*') = '\0'; /* RFC 2231 language */
		rl = decode_text(q1[1], q1 + 3, (size_t)(end - (q1 + 3)), raw,
				 sizeof(raw));
		if (rl < 0)
			goto literal;
		save = o;
		/* white space between encoded words is dropped (RFC 2047
		 * section 6.2) */
		if (prev_encoded && ws_pos != SIZE_MAX)
			o = ws_pos;
		if (to_utf8(cs, raw, (size_t)rl, out, &o, FIELD_MAX) < 0) {
			o = save;
			goto literal;
		}
		i = (size_t)(end - s) + 2;
		prev_encoded = 1;
		ws_pos = SIZE_MAX;
		continue;
literal:
		out[o++] = s[i++];
		prev_encoded = 0;
		ws_pos = SIZE_MAX;
	}
	out[o] = '\0';
	return out;
}

/* dup_trim - malloc'd copy without leading/trailing blanks */
static char *dup_trim(const char *s, size_t n)
{
	char *d;

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > FIELD_MAX)
		n = FIELD_MAX;
	d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* content_type - "type/subtype; charset=x" into h */
static void content_type(struct msg_headers *h, const char *v)
{
	const char *semi = strchr(v, ';'), *cs;
	size_t n = semi ? (size_t)(semi - v) : strlen(v), i;

	free(h->content_type);
	h->content_type = dup_trim(v, n);
	if (h->content_type)
		for (i = 0; h->content_type[i]; i++)
			if (h->content_type[i] >= 'A' &&
			    h->content_type[i] <= 'Z')
				h->content_type[i] += 'a' - 'A';
	if (h->content_type &&
	    !strncmp(h->content_type, "multipart/mixed", 15))
		h->has_attachment = 1;
	cs = semi ? strcasestr(semi, "charset=") : NULL;
	if (cs) {
		cs += 8;
		if (*cs == '"')
			cs++;
		n = strcspn(cs, "\"; \t");
		free(h->charset);
		h->charset = dup_trim(cs, n);
		for (i = 0; h->charset && h->charset[i]; i++)
			if (h->charset[i] >= 'A' && h->charset[i] <= 'Z')
				h->charset[i] += 'a' - 'A';
	}
}

/* field - one unfolded header field */
static void field(struct msg_headers *h, const char *name, size_t nl,
                  const char *v, size_t vl)
{
	char **slot = NULL;
	int decode = 0;

#define IS(s) (nl == sizeof(s) - 1 && !strncasecmp(name, s, nl))
	if (IS("Subject")) {
		slot = &h->subject;
		decode = 1;
	} else if (IS("From")) {
		slot = &h->from;
		decode = 1;
	} else if (IS("To")) {
		slot = &h->to;
		decode = 1;
	} else if (IS("Message-ID")) {
		slot = &h->message_id;
	} else if (IS("Reply-To")) {
		slot = &h->reply_to;
		decode = 1;
	} else if (IS("Sender")) {
		slot = &h->sender;
		decode = 1;
	} else if (IS("Content-Type")) {
		char *t = dup_trim(v, vl);

		if (t)
			content_type(h, t);
		free(t);
	} else if (IS("Content-Disposition")) {
		size_t i = 0;

		/* v is not NUL-terminated: stay within vl */
		while (i < vl && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (vl - i >= 10 && !strncasecmp(v + i, "attachment", 10))
			h->has_attachment = 1;
	}
#undef IS
	if (!slot || *slot)
		return; /* first occurrence wins */
	if (decode) {
		char *t = dup_trim(v, vl);

		*slot = t ? hdr_decode_2047(t, strlen(t)) : NULL;
		free(t);
	} else {
		*slot = dup_trim(v, vl);
	}
}

int hdr_parse(struct msg_headers *h, const char *p, size_t len)
{
	char *un = malloc(FIELD_MAX * 2);
	size_t i = 0;

	if (!un)
		return -1;
	h->parsed = 1;
	while (i < len) {
		const char *colon;
		size_t ul = 0, nl;

		if (p[i] == '\r' || p[i] == '\n')
			break; /* the blank line ends the header */
		/* gather the field and its continuation lines */
		for (;;) {
			const char *eol = memchr(p + i, '\n', len - i);
			size_t ll = eol ? (size_t)(eol - (p + i)) : len - i;
			size_t cl = ll;

			if (cl && p[i + cl - 1] == '\r')
				cl--;
			if (ul + cl > FIELD_MAX * 2 - 1)
				cl = FIELD_MAX * 2 - 1 - ul;
			memcpy(un + ul, p + i, cl);
			ul += cl;
			i += ll + (eol ? 1 : 0);
			if (i >= len || (p[i] != ' ' && p[i] != '\t'))
				break;
		}
		colon = memchr(un, ':', ul);
		if (!colon)
			continue;
		nl = (size_t)(colon - un);
		field(h, un, nl, colon + 1, ul - nl - 1);
	}
	free(un);
	return 0;
}

void hdr_free(struct msg_headers *h)
{
	free(h->subject);
	free(h->from);
	free(h->to);
	free(h->message_id);
	free(h->reply_to);
	free(h->sender);
	free(h->content_type);
	free(h->charset);
	memset(h, 0, sizeof(*h));
}

static void *mstate_new(struct msg *m)
{
	(void)m;
	return calloc(1, sizeof(struct msg_headers));
}

static void mstate_free(void *p)
{
	hdr_free(p);
	free(p);
}

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	struct msg_headers *h = msg_state(m, &proc_headersparser);
	size_t cap = HDR_MAX, got = 0;
	char *buf;
	(void)st;

	if (!h) {
		snprintf(why, n, "HeadersParser: out of memory");
		return PROC_TEMP;
	}
	if (h->parsed)
		return PROC_OK;
	if ((off_t)m->env.data_off + (off_t)cap > m->file_size)
		cap = m->file_size > (off_t)m->env.data_off
			      ? (size_t)(m->file_size - (off_t)m->env.data_off)
			      : 0;
	buf = malloc(cap + 1);
	if (!buf) {
		snprintf(why, n, "HeadersParser: out of memory");
		return PROC_TEMP;
	}
	while (got < cap) {
		ssize_t r = pread(m->fd, buf + got, cap - got,
				  (off_t)(m->env.data_off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	hdr_parse(h, buf, got);
	free(buf);
	msg_provide(m, PROV_HEADERS, h);
	return PROC_OK;
}

const struct proc_ops proc_headersparser = {
	.name = "HeadersParser",
	.available = 1,
	.deliver = deliver,
	.provides = PROV_HEADERS,
	.mstate_new = mstate_new,
	.mstate_free = mstate_free,
};
