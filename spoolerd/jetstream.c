/*
 * jetstream.c - the NATS processor's subject template: checked when the
 * config loads (jetstream_subject_check), expanded per message or
 * recipient (jetstream_subject) so that nothing a client wrote can add a
 * token, a wildcard or a space to the subject; and NATS subject matching
 * (which of a stream's subjects takes ours).
 */
#include "jetstream.h"

#include <stdio.h>
#include <string.h>

/* token_char - may a literal byte of a template stand in a subject? */
static int token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '*' && c != '>' && c != '{' &&
	       c != '}' && c != '.';
}

int jetstream_subject_check(const char *tmpl, int per_rcpt, char *err,
			    size_t n)
{
	static const char *const names[] = {"domain", "queue_id", "user",
					    "rcpt"};
	const char *p = tmpl;
	int in_token = 0;
	size_t k;

	if (!tmpl || !tmpl[0]) {
		snprintf(err, n, "empty");
		return -1;
	}
	if (strlen(tmpl) > JETSTREAM_SUBJECT_MAX / 4) {
		snprintf(err, n, "longer than %d bytes",
			 JETSTREAM_SUBJECT_MAX / 4);
		return -1;
	}
	while (*p) {
		if (*p == '.') {
			if (!in_token) {
				snprintf(err, n, "an empty token at "
					 "offset %zu", (size_t)(p - tmpl));
				return -1;
			}
			in_token = 0;
			p++;
			continue;
		}
		if (*p == '{') {
			const char *e = strchr(p, '}');
			size_t len = e ? (size_t)(e - p - 1) : 0;
			int found = 0;

			for (k = 0; e && k < sizeof(names) / sizeof(names[0]);
			     k++)
				if (strlen(names[k]) == len &&
				    !memcmp(p + 1, names[k], len))
					found = (int)k + 1;
			if (!found) {
				snprintf(err, n, "unknown placeholder at "
					 "offset %zu (known: {domain} "
					 "{user} {rcpt} {queue_id})",
					 (size_t)(p - tmpl));
				return -1;
			}
			if (found > 2 && !per_rcpt) {
				snprintf(err, n, "{%s} needs "
					 "nats_per_recipient: true",
					 names[found - 1]);
				return -1;
			}
			in_token = 1;
			p = e + 1;
			continue;
		}
		if (!token_char((unsigned char)*p)) {
			snprintf(err, n, "byte 0x%02x at offset %zu (no "
				 "space, control byte, '*' or '>')",
				 (unsigned char)*p, (size_t)(p - tmpl));
			return -1;
		}
		in_token = 1;
		p++;
	}
	if (!in_token) {
		snprintf(err, n, "ends with '.'");
		return -1;
	}
	return 0;
}

/* put_value - s[0..len) escaped onto out at *o; -1 when full */
static int put_value(const char *s, size_t len, int lower, char *out,
		     size_t n, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	if (len == 0) {
		s = "\0";
		len = 1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (!lower && c >= 'A' && c <= 'Z') || c == '_' ||
		    c == '+' || c == '=' || c == '-') {
			if (*o + 1 >= n)
				return -1;
			out[(*o)++] = (char)c;
		} else {
			if (*o + 3 >= n)
				return -1;
			out[(*o)++] = '%';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 15];
		}
	}
	return 0;
}

int jetstream_subject(const char *tmpl, const struct msg *m, size_t i,
		      char *out, size_t n)
{
	const char *r = i < m->env.nrcpts ? m->env.rcpts[i] : "";
	const char *at = strrchr(r, '@');
	const char *host = m->cfg ? m->cfg->backend.primary_mail_host : NULL;
	const char *qid = m->env.queue_id ? m->env.queue_id : m->name;
	const char *p = tmpl;
	size_t o = 0;
	int rc = 0;

	if (!qid)
		qid = "";
	if (!host)
		host = "";
	while (*p && rc == 0) {
		if (*p != '{') {
			if (o + 1 >= n)
				return -1;
			out[o++] = *p++;
			continue;
		}
		if (!strncmp(p, "{domain}", 8)) {
			if (at)
				rc = put_value(at + 1, strlen(at + 1), 1, out,
					       n, &o);
			else
				rc = put_value(host, strlen(host), 1, out, n,
					       &o);
		} else if (!strncmp(p, "{user}", 6)) {
			rc = put_value(r, at ? (size_t)(at - r) : strlen(r), 1,
				       out, n, &o);
		} else if (!strncmp(p, "{rcpt}", 6)) {
			rc = put_value(r, strlen(r), 1, out, n, &o);
		} else if (!strncmp(p, "{queue_id}", 10)) {
			rc = put_value(qid, strlen(qid), 0, out, n, &o);
		} else {
			return -1; /* jetstream_subject_check refused it */
		}
		p = strchr(p, '}') + 1;
	}
	if (rc < 0 || o >= n)
		return -1;
	out[o] = '\0';
	return 0;
}

int jetstream_subject_match(const char *pattern, const char *subject)
{
	const char *p = pattern, *s = subject;

	for (;;) {
		size_t pl = strcspn(p, "."), sl = strcspn(s, ".");

		if (pl == 1 && *p == '>')
			return *s != '\0';
		if (!*s)
			return 0;
		if (!(pl == 1 && *p == '*') && (pl != sl || memcmp(p, s, pl)))
			return 0;
		p += pl;
		s += sl;
		if (!*p || !*s)
			return !*p && !*s;
		p++;
		s++;
	}
}
