/*
 * frame.c - split the client's bytes into command lines.
 *
 * A command line ends at LF; the CR before it, if any, stays in the line
 * (session_feed_line drops it), so a bare LF ends a command as well. The
 * limit counts the line with its CRLF, a bare LF as if it were CRLF (an
 * empty line as one byte; RFC 5321 4.5.3.1.4: 512 octets). A longer line
 * is reported once, as soon as it is known to be too long (at its LF, or
 * when max bytes without one are in view), and the rest of it up to its
 * LF is discarded: its tail is never parsed as commands, however it is
 * split across reads (qmail grows the line instead: we do not).
 *
 * Pure: the caller owns the buffer and the reads; the framer only says
 * how much it consumed. What it keeps between calls is the skipping
 * flag, so the answer does not depend on where reads split the input.
 */
#include "frame.h"

#include <string.h>

/* frame_init - a framer with no line begun */
void frame_init(struct frame *f, size_t max)
{
	f->max = max;
	f->skipping = 0;
}

/* frame_next - the next line, an overlong line, or a request for more */
enum frame_res frame_next(struct frame *f, const char *p, size_t n,
                          size_t *used, const char **line, size_t *len)
{
	size_t off = 0;

	for (;;) {
		const char *s = p + off;
		const char *nl = memchr(s, '\n', n - off);
		size_t l;

		if (!nl)
			break;
		l = (size_t)(nl - s);
		off += l + 1;
		if (f->skipping) {
			/* the end of an overlong line already answered */
			f->skipping = 0;
			continue;
		}
		*used = off;
		if (l + 1 + (l && s[l - 1] != '\r') > f->max)
			return FRAME_TOOLONG;
		*line = s;
		*len = l;
		return FRAME_LINE;
	}
	if (f->skipping) {
		*used = n;
		return FRAME_MORE;
	}
	if (n - off >= f->max) {
		f->skipping = 1;
		*used = n;
		return FRAME_TOOLONG;
	}
	*used = off;
	return FRAME_MORE;
}
