/* webhook.h - the parts of the Webhook processor that need no network:
 * what is sent and how an answer is judged (tests/spoolerd/test_webhook.c
 * drives them) */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include "processor.h"

#include <curl/curl.h>
#include <stddef.h>

#define WEBHOOK_BODY_KEEP 200 /* response bytes kept for the reason */

/* webhook_classify - an HTTP answer as OK (2xx), PERM (4xx but 408 and
 * 429) or TEMP (the rest); unless OK, why gets "Webhook <where>: <status
 * line>[ (Retry-After: x)]: <first bytes of the body, printable>" */
enum proc_res webhook_classify(long code, const char *status,
			       const char *retry_after, const char *body,
			       size_t blen, const char *where, char *why,
			       size_t n);

/* webhook_headers - the request headers for m: Content-Type,
 * Idempotency-Key, the X-Envelope-* and X-* envelope headers (one
 * X-Envelope-To per recipient), Authorization when auth is set. NULL
 * when out of memory. */
struct curl_slist *webhook_headers(const struct msg *m, int json,
				   const char *auth);

/* webhook_body - the request body: "Return-Path: <sender>" and the
 * message as stored (CRLF), or its JSON form. malloc'd, NULL with errno */
char *webhook_body(struct msg *m, int json, size_t *len);

/* webhook_text_ok - is s[0..n) well-formed UTF-8 without NUL (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF)? */
int webhook_text_ok(const char *s, size_t n);

/* webhook_where - url without user:password@, query and fragment, for
 * logs and reasons; "?" when it does not parse */
void webhook_where(const char *url, char *out, size_t n);

#endif
