/*
 * bdat.c - CHUNKING and BINARYMIME (RFC 3030): BDAT n [LAST].
 *
 * A chunk is exactly n octets after the command line's LF, taken as they
 * are: no dot-stuffing, no terminator, so nothing inside a chunk can end
 * the message or start a command. Every BDAT whose size parses has its
 * chunk read, also when it is refused (before MAIL or RCPT, or after the
 * transaction failed): a pipelining client has already sent it (RFC 3030
 * 2), and skipping it keeps the stream in step. Its reply comes after the
 * chunk. A size that does not parse gets 501 5.5.4 at once; where its
 * chunk ends is unknown, so a transaction in progress is dropped and the
 * following bytes are read as commands (as Postfix does).
 *
 * The transaction fails at the first chunk that takes it over max_size
 * (552 5.3.4), holds a bare CR or LF (550 5.6.0, below) or cannot be
 * written (451 4.3.0, 452 4.3.1): the reply comes once the whole chunk is
 * read, nothing is kept, and each later chunk up to BDAT LAST (or RSET)
 * is read, dropped and answered with the same reply, counted as an error
 * only once. DATA in a BDAT transaction gets 503 5.5.1 (session.c).
 *
 * Bare CR and LF: there is no end-of-data sequence to smuggle, but the
 * message is stored and handed on as a line-oriented RFC 5322 message
 * (spoolerd's header parser, mbox's CRLF folding, a later relay by DATA),
 * so the rule of DATA stands: a CR not followed by LF, or an LF not after
 * a CR, refuses it with 550 5.6.0. With BODY=BINARYMIME the body may hold
 * any octet (that is its point), but its header section, up to the first
 * empty line, is checked as for any message. The last line need not end
 * in CRLF (nothing needs it to); a CR as the very last octet is bare.
 *
 * Pure: run.c does the reading and the spool; the counter here works on
 * whatever pieces the reads bring, down to one octet.
 */
#include "bdat.h"
#include "log.h"
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* bdat_parse - "n" or "n LAST", any case, spaces or tabs between */
int bdat_parse(const char *arg, size_t alen, unsigned long long *n,
               int *last)
{
	size_t i = 0, dl, rest;
	unsigned long v;

	while (i < alen && arg[i] >= '0' && arg[i] <= '9')
		i++;
	dl = i;
	if (dl == 0 ||
	    util_parse_ulong(arg, dl, (unsigned long)BDAT_MAX_CHUNK, &v) < 0)
		return -1;
	if (dl < alen && arg[dl] != ' ' && arg[dl] != '\t')
		return -1;
	while (i < alen && (arg[i] == ' ' || arg[i] == '\t'))
		i++;
	rest = alen - i;
	if (rest != 0 && (rest != 4 || strncasecmp(arg + i, "LAST", 4)))
		return -1;
	*n = v;
	*last = rest != 0;
	return 0;
}

/* bdat_init - a message with nothing read, its header section ahead */
void bdat_init(struct bdat_rd *b, long long max, int binary)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->binary = binary;
	b->inhdr = 1;
	b->empty = 1;
}

/* bdat_chunk - the next chunk's size */
void bdat_chunk(struct bdat_rd *b, unsigned long long n, int discard)
{
	b->left = (long long)n;
	b->discard = discard;
	if (!discard)
		b->chunks++;
}

/* checked - does the bare CR/LF rule apply where we are? */
static int checked(const struct bdat_rd *b)
{
	return !b->binary || b->inhdr;
}

/* scan - line ends in in[0..n): bare CR or LF, the header's end */
static void scan(struct bdat_rd *b, const char *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = in[i];

		if (b->cr) {
			b->cr = 0;
			if (c == '\n') {
				if (b->empty)
					b->inhdr = 0; /* the empty line */
				b->empty = 1;
				continue;
			}
			if (checked(b))
				b->bare = 1; /* the CR before c */
			b->empty = 0;
		}
		if (c == '\r') {
			b->cr = 1;
			continue;
		}
		if (c == '\n' && checked(b))
			b->bare = 1;
		b->empty = 0;
	}
}

/* bdat_feed - up to the rest of the chunk, to the sink */
size_t bdat_feed(struct bdat_rd *b, const char *in, size_t n,
                 data_sink_fn sink, void *arg)
{
	size_t take = n;

	if ((unsigned long long)take > (unsigned long long)b->left)
		take = (size_t)b->left;
	b->left -= (long long)take;
	if (b->discard || take == 0)
		return take;
	scan(b, in, take);
	b->size += (long long)take;
	if (b->size > b->max)
		b->toolarge = 1;
	if (!b->toolarge && !b->sink_failed && sink(arg, in, take) < 0)
		b->sink_failed = 1;
	return take;
}

/* bdat_finish - the message is whole: a CR left at its end is bare */
void bdat_finish(struct bdat_rd *b)
{
	if (b->cr && checked(b))
		b->bare = 1;
	b->cr = 0;
}

/* tx_end - the BDAT transaction is over, whatever its outcome */
static void tx_end(struct session *s)
{
	memset(&s->bdat, 0, sizeof(s->bdat));
	session_tx_reset(s);
	session_enter(s, ST_HELO);
}

/* refuse - this BDAT's chunk is read and dropped, then err */
static int refuse(struct session *s, enum reply_id err)
{
	s->bdat.take = 0;
	s->bdat.err = err;
	s->bdat.told = 0;
	return ACT_BDAT;
}

/* bdat_cmd - check first (size, state), then say what to read */
int bdat_cmd(struct session *s, const char *arg, size_t alen)
{
	struct bdat_tx *bt = &s->bdat;
	unsigned long long n;
	int last;

	if (bdat_parse(arg, alen, &n, &last) < 0) {
		if (s->state == ST_BDAT) {
			log_info("BDAT transaction from %s dropped: bad "
				 "chunk size",
				 s->peer_ip);
			tx_end(s);
		}
		session_reply(s, R_BDAT_SYNTAX);
		return ACT_NONE;
	}
	if (s->state != ST_BDAT) {
		bt->n = n;
		bt->last = last;
		switch (s->state) {
		case ST_CONNECTED:
			return refuse(s, R_NEED_HELO);
		case ST_MAIL:
			return refuse(s, s->tx.rcpt_tried ? R_NO_VALID_RCPT
							  : R_BDAT_NEED_RCPT);
		case ST_RCPT:
			break;
		default:
			return refuse(s, R_BDAT_NEED_RCPT);
		}
		bdat_init(&bt->rd, s->srv->max_size, s->tx.body8 == 2);
		bt->first = 1;
		bt->err = R_OKAY;
		bt->told = 0;
		session_enter(s, ST_BDAT);
	} else {
		bt->first = 0;
	}
	bt->n = n;
	bt->last = last;
	bt->take = bt->err == R_OKAY;
	return ACT_BDAT;
}

/* bdat_opened - the spool's answer at the first chunk */
void bdat_opened(struct session *s, int ok, enum reply_id err)
{
	s->bdat.first = 0;
	if (!ok) {
		s->bdat.take = 0;
		s->bdat.err = err;
	}
}

/* bdat_chunk_end - the verdict on a chunk that is read */
int bdat_chunk_end(struct session *s, enum reply_id spool_err)
{
	struct bdat_tx *bt = &s->bdat;
	struct bdat_rd *rd = &bt->rd;

	if (s->state != ST_BDAT) {
		/* refused: no transaction to speak of */
		session_reply(s, bt->err);
		session_check_errors(s);
		return 0;
	}
	if (bt->take) {
		if (bt->last)
			bdat_finish(rd);
		if (rd->toolarge)
			bt->err = R_SIZE;
		else if (rd->bare)
			bt->err = R_BARE;
		else
			bt->err = spool_err;
		if (bt->err != R_OKAY) {
			bt->take = 0;
			log_info("message refused from %s: %s", s->peer_ip,
				 rd->toolarge ? "over max_size"
				 : rd->bare   ? "bare CR or LF"
					      : "spool failure");
		}
	}
	if (bt->err == R_OKAY) {
		if (bt->last)
			return 1;
		session_replyf(s, "250 2.0.0 OK: %llu octets received", bt->n);
		return 0;
	}
	if (!bt->told) {
		bt->told = 1;
		session_reply(s, bt->err);
	} else if (reply_add(&s->out, bt->err) < 0) {
		/* the same failure again: counted once */
		s->end = END_INTERNAL;
	}
	if (bt->last)
		tx_end(s);
	session_check_errors(s);
	return 0;
}

/* bdat_committed - 250 with the queue id, or the spool's failure */
void bdat_committed(struct session *s, enum reply_id spooled,
                    const char *qid)
{
	if (spooled == R_OKAY) {
		session_replyf(s, "250 2.0.0 OK: queued as %s", qid);
		s->err_count = 0;
		s->messages++;
		s->rcpts_total += s->tx.nrcpts;
		s->bytes += (unsigned long long)s->bdat.rd.size;
	} else {
		session_reply(s, spooled);
	}
	tx_end(s);
	session_check_errors(s);
}
