/*
 * lookupproto.c - the recipient-lookup protocol: one request line from a
 * session, one reply line from spoolerd, over a unix stream socket.
 *
 *   request   ID SP TABLE SP ADDRESS LF
 *   reply     ID SP "OK" LF | ID SP "NOTFOUND" LF | ID SP "TEMP" SP TEXT LF
 *
 * ID is 1 to 10 decimal digits (up to 2^32-1), chosen by the session and
 * echoed, so a late reply to a lookup that timed out is never taken for
 * the answer to the next one. TABLE is the rcpt_check value ("sql:SELECT
 * ...") and ADDRESS the recipient, both %-encoded: every byte outside
 * 0x21..0x7e, and '%' itself, is %XX (upper-case hex), so a line is
 * printable ASCII without spaces inside a field, whatever the address
 * holds (SMTPUTF8). A request line is at most LOOKUP_LINE_MAX bytes with
 * its LF; a decoded table at most LOOKUP_TABLE_MAX, an address
 * LOOKUP_ADDR_MAX. Anything else is malformed: the parser rejects it, the
 * server answers nothing and drops the client.
 *
 * The table names here are checked on both sides: in the config
 * (rcpt_check, by cfg.c) and by spoolerd against its own config, so that
 * a session can only ask the tables the file names (Postfix's
 * proxy_read_maps).
 */
#include "lookupproto.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char hexd[] = "0123456789ABCDEF";

enum lookup_type lookup_spec_type(const char *spec, const char **why)
{
	const char *name = lookup_spec_name(spec);
	size_t i, q = 0;
	char quote = 0;

	if (!spec || !strchr(spec, ':')) {
		*why = "expected \"type:name\" (file:, redis: or sql:)";
		return LK_NONE;
	}
	if (strlen(spec) > LOOKUP_TABLE_MAX) {
		*why = "longer than 1024 bytes";
		return LK_NONE;
	}
	if (!*name) {
		*why = "no name after the type";
		return LK_NONE;
	}
	for (i = 0; spec[i]; i++)
		if ((unsigned char)spec[i] < 0x20 || spec[i] == 0x7f) {
			*why = "control characters in it";
			return LK_NONE;
		}
	if (!strncmp(spec, "file:", 5)) {
		if (name[0] != '/') {
			*why = "file: needs an absolute path";
			return LK_NONE;
		}
		return LK_FILE;
	}
	if (!strncmp(spec, "redis:", 6))
		return LK_REDIS;
	if (!strncmp(spec, "sql:", 4)) {
		/* one ? outside quotes: the address, bound, never pasted */
		for (i = 0; name[i]; i++) {
			if (quote) {
				if (name[i] == '\\' && name[i + 1])
					i++;
				else if (name[i] == quote)
					quote = 0;
			} else if (name[i] == '\'' || name[i] == '"' ||
				   name[i] == '`') {
				quote = name[i];
			} else if (name[i] == '?') {
				q++;
			}
		}
		if (q != 1) {
			*why = "sql: needs exactly one ? placeholder (the "
			       "address)";
			return LK_NONE;
		}
		return LK_SQL;
	}
	*why = "unknown type (file:, redis: or sql:)";
	return LK_NONE;
}

const char *lookup_spec_name(const char *spec)
{
	const char *c = spec ? strchr(spec, ':') : NULL;

	return c ? c + 1 : "";
}

/* encode - s[0..n) %-encoded into out at *pos; -1 when it does not fit */
static int encode(char *out, size_t cap, size_t *pos, const char *s,
                  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c < 0x7f && c != '%') {
			if (*pos + 1 >= cap)
				return -1;
			out[(*pos)++] = (char)c;
		} else {
			if (*pos + 3 >= cap)
				return -1;
			out[(*pos)++] = '%';
			out[(*pos)++] = hexd[c >> 4];
			out[(*pos)++] = hexd[c & 15];
		}
	}
	return 0;
}

/* hexval - one hex digit, or -1 */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* decode - a %-encoded field into out (NUL-terminated, at most max
 * bytes); 0, or -1 when malformed, empty, with a NUL or too long */
static int decode(const char *s, size_t n, char *out, size_t max)
{
	size_t i, o = 0;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c <= 0x20 || c >= 0x7f)
			return -1;
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (o >= max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* parse_id - the leading ID and its space; the rest in *rest */
static int parse_id(const char *line, size_t len, unsigned long *id,
                    const char **rest, size_t *rlen)
{
	const char *sp = memchr(line, ' ', len);
	size_t n;

	if (!sp)
		return -1;
	n = (size_t)(sp - line);
	if (n == 0 || n > 10 || line[0] == '+' || line[0] == '-')
		return -1;
	if (util_parse_ulong(line, n, LOOKUP_ID_MAX, id) < 0)
		return -1;
	*rest = sp + 1;
	*rlen = len - n - 1;
	return 0;
}

int lookup_request_format(char *out, size_t cap, unsigned long id,
                          const char *table, const char *addr, size_t alen)
{
	size_t pos;
	int w;

	if (strlen(table) > LOOKUP_TABLE_MAX || alen > LOOKUP_ADDR_MAX ||
	    id > LOOKUP_ID_MAX || alen == 0 || !table[0] ||
	    memchr(addr, '\0', alen))
		return -1;
	if (cap > LOOKUP_LINE_MAX)
		cap = LOOKUP_LINE_MAX + 1;
	w = snprintf(out, cap, "%lu ", id);
	if (w < 0 || (size_t)w >= cap)
		return -1;
	pos = (size_t)w;
	if (encode(out, cap, &pos, table, strlen(table)) < 0 || pos + 2 >= cap)
		return -1;
	out[pos++] = ' ';
	if (encode(out, cap, &pos, addr, alen) < 0 || pos + 1 >= cap)
		return -1;
	out[pos++] = '\n';
	out[pos] = '\0';
	return (int)pos;
}

int lookup_request_parse(const char *line, size_t len, struct lookup_req *r)
{
	const char *rest, *sp;
	size_t rlen;

	if (len >= LOOKUP_LINE_MAX)
		return -1;
	if (parse_id(line, len, &r->id, &rest, &rlen) < 0)
		return -1;
	sp = memchr(rest, ' ', rlen);
	if (!sp)
		return -1;
	if (decode(rest, (size_t)(sp - rest), r->table, LOOKUP_TABLE_MAX) < 0)
		return -1;
	if (decode(sp + 1, rlen - (size_t)(sp - rest) - 1, r->addr,
		   LOOKUP_ADDR_MAX) < 0)
		return -1;
	return 0;
}

int lookup_reply_format(char *out, size_t cap, unsigned long id,
                        enum lookup_status st, const char *reason)
{
	char text[LOOKUP_REASON_MAX + 1];
	size_t i, n = 0;
	int w;

	if (st == LK_FOUND)
		w = snprintf(out, cap, "%lu OK\n", id);
	else if (st == LK_NOTFOUND)
		w = snprintf(out, cap, "%lu NOTFOUND\n", id);
	else {
		for (i = 0; reason && reason[i] && n < LOOKUP_REASON_MAX;
		     i++) {
			unsigned char c = (unsigned char)reason[i];

			text[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		if (n == 0)
			text[n++] = '-';
		text[n] = '\0';
		w = snprintf(out, cap, "%lu TEMP %s\n", id, text);
	}
	if (w < 0 || (size_t)w >= cap)
		return -1;
	return w;
}

int lookup_reply_parse(const char *line, size_t len, struct lookup_reply *r)
{
	const char *rest;
	size_t rlen, i;

	r->reason[0] = '\0';
	if (parse_id(line, len, &r->id, &rest, &rlen) < 0)
		return -1;
	if (rlen == 2 && !memcmp(rest, "OK", 2)) {
		r->status = LK_FOUND;
		return 0;
	}
	if (rlen == 8 && !memcmp(rest, "NOTFOUND", 8)) {
		r->status = LK_NOTFOUND;
		return 0;
	}
	if (rlen > 5 && !memcmp(rest, "TEMP ", 5) &&
	    rlen - 5 <= LOOKUP_REASON_MAX) {
		for (i = 5; i < rlen; i++)
			if ((unsigned char)rest[i] < 0x20 ||
			    (unsigned char)rest[i] >= 0x7f)
				return -1;
		memcpy(r->reason, rest + 5, rlen - 5);
		r->reason[rlen - 5] = '\0';
		r->status = LK_TEMP;
		return 0;
	}
	return -1;
}

void lookup_fold(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}
