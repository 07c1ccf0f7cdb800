/* jetstream.h - the parts of the NATS processor that need no server: the
 * subject template (checked at load, expanded per message) and NATS
 * subject matching (tests/spoolerd/test_jetstream.c drives them) */
#ifndef JETSTREAM_H
#define JETSTREAM_H

#include "processor.h"

#include <stddef.h>

#define JETSTREAM_SUBJECT_MAX 1024

/* jetstream_subject_check - is tmpl a publishable subject template?
 * Placeholders {domain} {queue_id}, and {user} {rcpt} only per
 * recipient; literal text printable ASCII without space, '*', '>';
 * no empty token. 0, or -1 with why in err */
int jetstream_subject_check(const char *tmpl, int per_rcpt, char *err,
			    size_t n);

/* jetstream_subject - tmpl expanded for recipient i of m into out: each
 * value lower-cased (but the queue id) and every byte but a-z 0-9 _ + =
 * - as %XX, so no recipient adds a token or a wildcard; an empty value
 * is "%00". 0, or -1 when it does not fit */
int jetstream_subject(const char *tmpl, const struct msg *m, size_t i,
		      char *out, size_t n);

/* jetstream_subject_match - does subject match pattern ('*' one token,
 * '>' the rest, one token at least)? */
int jetstream_subject_match(const char *pattern, const char *subject);

#endif
