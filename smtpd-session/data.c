/*
 * data.c - the DATA phase as a byte state machine (not a line reader).
 *
 * It undoes dot-stuffing (RFC 5321 4.5.2) and ends the message only on
 * CRLF "." CRLF. Line ends are CRLF only: a bare LF or a bare CR neither
 * ends a line nor the message, so "\n.\n", "\r.\r", "\n.\r\n" and their
 * kin (SMTP smuggling, 2023) can never end the message or start a second
 * one. Such a message is still read to the real terminator and then
 * refused (bare = 1 -> 550 5.6.0), as qmail and Postfix refuse bare LF.
 * It works with any chunking, down to one byte per call. Memory is
 * constant: bytes go to the sink in runs straight from the input.
 */
#include "data.h"

enum {
	S_BOL,   /* at the start of a line (after CRLF) */
	S_MID,   /* inside a line */
	S_CR,    /* saw CR inside a line */
	S_DOT,   /* saw "." at the start of a line, dropped it */
	S_DOTCR, /* saw ".\r" at the start of a line, holding the CR */
};

void data_init(struct data_rd *d, long long max)
{
	d->state = S_BOL;
	d->size = 0;
	d->max = max;
	d->bare = 0;
	d->toolarge = 0;
	d->sink_failed = 0;
}

/* emit - pass a run to the sink, counting size and honouring max */
static void emit(struct data_rd *d, const char *p, size_t n,
                 data_sink_fn sink, void *arg)
{
	if (n == 0)
		return;
	d->size += (long long)n;
	if (d->size > d->max)
		d->toolarge = 1;
	if (d->toolarge || d->sink_failed)
		return;
	if (sink(arg, p, n) < 0)
		d->sink_failed = 1;
}

enum data_status data_feed(struct data_rd *d, const char *in, size_t n,
                           size_t *used, data_sink_fn sink, void *arg)
{
	size_t i, run = 0; /* in[run..i) is pending output */

	for (i = 0; i < n; i++) {
		char c = in[i];

		switch (d->state) {
		case S_BOL:
			if (c == '.') {
				emit(d, in + run, i - run, sink, arg);
				run = i + 1; /* drop the dot */
				d->state = S_DOT;
				break;
			}
			/* an ordinary first byte */
			__attribute__((fallthrough));
		case S_MID:
			if (c == '\r')
				d->state = S_CR;
			else if (c == '\n')
				d->bare = 1, d->state = S_MID;
			else
				d->state = S_MID;
			break;
		case S_CR:
			if (c == '\n') {
				d->state = S_BOL;
			} else if (c == '\r') {
				d->bare = 1; /* the first CR was bare */
			} else {
				d->bare = 1;
				d->state = S_MID;
			}
			break;
		case S_DOT:
			if (c == '\r') {
				run = i + 1; /* hold the CR back */
				d->state = S_DOTCR;
			} else {
				/* ".." -> ".", ".x" -> "x" */
				if (c == '\n')
					d->bare = 1;
				d->state = S_MID;
			}
			break;
		case S_DOTCR:
			if (c == '\n') {
				*used = i + 1;
				d->state = S_BOL;
				return DATA_END;
			}
			/* ".\r" then not LF: the held CR was bare */
			emit(d, "\r", 1, sink, arg);
			d->bare = 1;
			run = i;
			if (c == '\r')
				d->state = S_CR;
			else
				d->state = S_MID;
			break;
		}
	}
	emit(d, in + run, n - run, sink, arg);
	*used = n;
	return DATA_MORE;
}
