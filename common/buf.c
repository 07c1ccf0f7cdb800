/*
 * buf.c - the capped byte buffer of buf.h.
 *
 * Invariant: len <= cap <= max; p holds cap bytes (NULL while cap is 0).
 * Capacity doubles from 256 up to max, so a buffer of small replies never
 * reallocates once warm and none can be made to grow without bound.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf_add - append n bytes, growing by doubling up to max */
int buf_add(struct buf *b, const void *s, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		char *np;

		while (nc < b->len + n)
			nc *= 2;
		if (nc > b->max)
			nc = b->max;
		np = realloc(b->p, nc);
		if (!np)
			return -1;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* buf_addf - format into a stack buffer, then buf_add */
int buf_addf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return buf_add(b, tmp, (size_t)n);
}

/* buf_free - free the bytes and empty the buffer, keeping max */
void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
