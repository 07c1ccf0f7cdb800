/* helo.h - checks on what a client says first: the HELO/EHLO argument,
 * and an HTTP request sent to the SMTP port */
#ifndef HELO_H
#define HELO_H

#include <stddef.h>

enum helo_verdict {
	HELO_OK,
	HELO_JUNK,      /* empty, spaces or non-printable: 501 5.5.4 */
	HELO_NOT_NAME,  /* helo_strict: not a domain or literal: 501 5.5.2 */
};

/* helo_check - the HELO/EHLO argument a[0..n) (trimmed); strict is the
 * server's helo_strict */
enum helo_verdict helo_check(const char *a, size_t n, int strict);

/* helo_http_verb - is the verb v[0..n) an HTTP method (GET, POST,
 * CONNECT, HEAD, ...)? 1 or 0 */
int helo_http_verb(const char *v, size_t n);

#endif
