/* bdat.h - CHUNKING and BINARYMIME (RFC 3030): the BDAT command's
 * checks and the byte counter that reads its chunks; pure, like data.h */
#ifndef BDAT_H
#define BDAT_H

#include "data.h"
#include "reply.h"

#include <stddef.h>

struct session;

/* longest chunk size BDAT accepts (a larger one is a syntax error) */
#define BDAT_MAX_CHUNK (1ULL << 62)

/* bdat_rd - one message read in chunks */
struct bdat_rd {
	long long left; /* octets of the current chunk still to come */
	long long size; /* message octets so far, every chunk */
	long long max;  /* max_size: past it nothing more is emitted */
	unsigned chunks;
	int binary;      /* BODY=BINARYMIME: the body may hold any octet */
	int inhdr;       /* still in the header section */
	int empty;       /* nothing yet on the current line */
	int cr;          /* the last octet was a CR: is its LF next? */
	int discard;     /* this chunk is read and dropped */
	int bare;        /* a bare CR or LF where the rule applies */
	int toolarge;    /* size went past max */
	int sink_failed; /* the sink returned -1 once */
};

/* bdat_tx - the session's side of a BDAT transaction */
struct bdat_tx {
	struct bdat_rd rd;
	unsigned long long n; /* the chunk the last BDAT announced */
	int last;             /* ... with LAST */
	int take;             /* 1: it goes into the message */
	int first;            /* 1: the message's first chunk: open it */
	enum reply_id err;    /* R_OKAY, or why this BDAT is refused */
	int told;             /* err was answered (and counted) once */
};

/* bdat_parse - "n [LAST]" (the argument, trimmed): 0, or -1 if it is
 * not 1*DIGIT [SP "LAST"] with n at most BDAT_MAX_CHUNK */
int bdat_parse(const char *arg, size_t alen, unsigned long long *n,
               int *last);

/* bdat_init - a new message, max_size max, binary: BODY=BINARYMIME */
void bdat_init(struct bdat_rd *b, long long max, int binary);

/* bdat_chunk - n more octets follow; discard: read and drop them */
void bdat_chunk(struct bdat_rd *b, unsigned long long n, int discard);

/* bdat_feed - take at most b->left octets of in[0..n) (the rest are
 * the next commands); returns how many. The chunk is read when
 * b->left is 0. sink gets the octets as they are. */
size_t bdat_feed(struct bdat_rd *b, const char *in, size_t n,
                 data_sink_fn sink, void *arg);

/* bdat_finish - the last chunk is read: a CR at the very end is bare */
void bdat_finish(struct bdat_rd *b);

/* bdat_cmd - the BDAT verb (session.c's table sends it here): checks
 * the state and the size, replies to a refusal only after its chunk,
 * and returns ACT_BDAT whenever a chunk is to be read */
int bdat_cmd(struct session *s, const char *arg, size_t alen);

/* bdat_opened - run.c opened the entry for the first chunk (ok), or
 * could not (err: the reply that chunk gets once it is read) */
void bdat_opened(struct session *s, int ok, enum reply_id err);

/* bdat_chunk_end - the chunk is read (run.c fed it to the spool, whose
 * failure meanwhile is spool_err, else R_OKAY). Queues the chunk's
 * reply, or returns 1: a LAST chunk and all is well, run.c commits the
 * entry now and calls bdat_committed. */
int bdat_chunk_end(struct session *s, enum reply_id spool_err);

/* bdat_committed - the commit's result: R_OKAY (in new/ as qid) or the
 * spool's failure; replies and ends the transaction */
void bdat_committed(struct session *s, enum reply_id spooled,
                    const char *qid);

#endif
