/* frame.h - command lines out of the client's byte stream; pure (no
 * read, write or clock), shared by run.c and the session fuzzer */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>

struct frame {
	size_t max;   /* longest line, its CRLF included */
	int skipping; /* discarding the rest of an overlong line */
};

enum frame_res {
	FRAME_MORE,    /* no whole line in view: read more, call again */
	FRAME_LINE,    /* a command line */
	FRAME_TOOLONG, /* a line over max: answer it, once */
};

/* frame_init - a framer for lines of at most max bytes with CRLF */
void frame_init(struct frame *f, size_t max);

/* frame_next - look at the unread input p[0..n). *used is how many bytes
 * are consumed (always set). FRAME_LINE: the line is (*line, *len),
 * without its LF; a CR before the LF is left in it. Lines end at LF. */
enum frame_res frame_next(struct frame *f, const char *p, size_t n,
                          size_t *used, const char **line, size_t *len);

#endif
