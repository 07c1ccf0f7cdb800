/* buf.h - a growable byte buffer with a hard cap, set at init:
 *   struct buf b = {NULL, 0, 0, max};
 * Nothing grows past max (curl's dynbuf takes its maximum the same way). */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len, cap, max;
};

/* buf_add - append n bytes of s; -1 (b unchanged) past max or on ENOMEM */
int buf_add(struct buf *b, const void *s, size_t n);

/* buf_addf - append a formatted string of under 1024 bytes; -1 as buf_add
 * or when the string would be longer */
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* buf_free - release the bytes; b can be reused with the same max */
void buf_free(struct buf *b);

#endif
