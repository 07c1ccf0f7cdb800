/* mbox.h - mboxrd quoting of a message stream, for Mbox and its tests */
#ifndef MBOX_H
#define MBOX_H

#include <stddef.h>
#include <sys/types.h>

/* sink - where the quoted bytes go: written to fd at its offset, or
 * (compare) checked against the bytes already in fd at off */
struct sink {
	int fd;
	int compare;
	off_t off;      /* compare: where the next byte should be */
	int mismatch;   /* compare: a byte differs */
	int past_end;   /* compare: the file ended first */
	int err;        /* errno of a failed write or read */
	char last[2];   /* last two bytes put */
	size_t len;
	char *cmp;      /* compare: sizeof(buf) bytes of scratch */
	char buf[65536];
};

/* mbq - mboxrd quoting state: CRLF -> LF, and a '>' added in front of
 * every line matching ^>*From  */
struct mbq {
	int bol;       /* at the start of a line */
	int cr;        /* a CR is held back */
	size_t gts;    /* '>' seen at the line start */
	size_t np;     /* bytes of "From " matched after them */
};

void sink_init(struct sink *s, int fd, int compare, off_t off);
void sink_put(struct sink *s, const char *p, size_t n);
int sink_flush(struct sink *s);

void mbq_init(struct mbq *q);
void mbq_feed(struct mbq *q, struct sink *s, const char *p, size_t n);
/* mbq_finish - flush held bytes; end the message with "\n" and the
 * blank separator line */
void mbq_finish(struct mbq *q, struct sink *s);

#endif
