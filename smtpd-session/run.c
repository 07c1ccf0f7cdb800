/*
 * run.c - the session loop: greeting, command lines, DATA, close.
 *
 * PIPELINING (RFC 2920): replies are queued in s->out and written only
 * before blocking on a read, so a client that sends a whole transaction
 * in one write gets all its replies, in order, in one write (qmail's
 * saferead). Command lines come out of frame.c: they end at LF (an
 * optional CR before it is dropped); a line longer than max_line_length
 * gets 500 5.5.2 once and is skipped to its LF, so its tail is never
 * parsed as commands. BDAT chunks (bdat.c) are read here too, exactly
 * their size, into the same spool writer as DATA; the entry stays open
 * between chunks and is dropped whenever the transaction ends without
 * its LAST chunk (RSET, HELO, QUIT, a failure, the connection lost).
 *
 * Deadlines (not only the idle `timeout` of every read): each command
 * line must be whole within `timeout` seconds of our starting to wait
 * for it, and the DATA phase within `timeout` plus one second per
 * min_data_rate bytes received (Postfix's smtpd_per_record_deadline and
 * smtpd_min_data_rate; min_data_rate 0: the whole DATA within
 * `timeout`). A client that trickles a byte a second is cut there with
 * 421 4.4.2, logged; a large message on a slow but honest link keeps
 * earning time.
 *
 * On a proxy_protocol entry a command line that opens another PROXY
 * header ("PROXY ", or v2's signature in one piece) ends the session.
 *
 * Free space: checked at MAIL (the declared SIZE), again before 354, and
 * every SPACE_EVERY bytes while the message streams in and once more
 * before the commit, so a message never takes the spool below
 * spool_min_free; a shortfall is answered 452 4.3.1 at the dot and
 * nothing is kept.
 */
#include "run.h"
#include "log.h"
#include "proxy.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SPACE_EVERY (1024 * 1024)

int run_flush(struct run *r)
{
	struct buf *out = &r->s->out;
	int st;

	if (!out->len)
		return 0;
	if (r->s->delay_ms > 0) {
		/* the soft error limit: the client waits for its replies */
		io_pause(r->s->delay_ms);
		r->s->delay_ms = 0;
	}
	st = io_write_all(r->io, out->p, out->len);
	out->len = 0;
	return st;
}

/* set_end - record why the session ends, unless already known */
static void set_end(struct session *s, int status)
{
	if (s->end != END_NONE)
		return;
	s->end = status == IO_TIMEOUT ? END_TIMEOUT
		 : status == IO_EOF   ? END_EOF
				      : END_IOERR;
}

/* fill - flush replies, then wait for input; 1 or 0 (session over) */
static int fill(struct run *r)
{
	int st = run_flush(r);

	if (st == 0)
		st = io_fill(r->io);
	if (st > 0)
		return 1;
	if (st == IO_TIMEOUT && r->io->deadline_hit && !io_stop)
		log_info("%s deadline exceeded from %s (timeout %lds)",
			 r->s->state == ST_DATA ? "DATA" : "command line",
			 r->s->peer_ip, r->s->srv->timeout);
	if (st == IO_TIMEOUT && r->s->end == END_NONE) {
		/* idle too long, the session's time is up, or SIGTERM:
		 * one last reply (writes ignore io_stop, bounded by the
		 * write timeout) */
		session_reply(r->s, R_TIMEOUT);
		run_flush(r);
	}
	set_end(r->s, st);
	return 0;
}

/* space_ok - room for need bytes above spool_min_free (session.c's
 * check at MAIL): 1, 0, or -1 when the spool cannot be asked */
static int space_ok(void *arg, long long need)
{
	struct run *r = arg;

	if (spool_open_dirs(r->sp, r->spool_dir) < 0)
		return -1;
	return spool_space_ok(r->sp, need, r->s->srv->spool_min_free);
}

/* sink - message bytes from the DATA machine to the spool file, with
 * the free space looked at again every SPACE_EVERY bytes */
static int sink(void *arg, const char *p, size_t n)
{
	struct run *r = arg;

	r->unchecked += n;
	if (r->unchecked >= SPACE_EVERY) {
		r->unchecked = 0;
		if (spool_space_ok(r->sp, 0, r->s->srv->spool_min_free) ==
		    0) {
			log_error("spool %s: free space below spool_min_free "
				  "during DATA",
				  r->spool_dir);
			r->sp->err = ENOSPC;
			return -1;
		}
	}
	return spool_write(r->sp, p, n);
}

/* open_entry - dirs, free space, tmp file; the reply id on failure */
static int open_entry(struct run *r, enum reply_id *err)
{
	const struct cfg_server *srv = r->s->srv;
	struct envelope env;
	int ok;

	if (spool_open_dirs(r->sp, r->spool_dir) < 0) {
		log_error("spool %s: cannot open tmp/ and new/: %s",
			  r->spool_dir, strerror(errno));
		*err = R_WRITE_FAIL;
		return -1;
	}
	ok = spool_space_ok(r->sp, r->s->tx.declared, srv->spool_min_free);
	if (ok <= 0) {
		log_error("spool %s: %s", r->spool_dir,
			  ok == 0 ? "free space below spool_min_free"
				  : strerror(errno));
		*err = ok == 0 ? R_NO_SPACE : R_WRITE_FAIL;
		return -1;
	}
	session_envelope(r->s, &env);
	if (spool_begin(r->sp, &env) < 0) {
		log_error("spool %s: cannot create entry: %s", r->spool_dir,
			  strerror(errno));
		/* the directory may have been replaced: open it anew next
		 * time */
		spool_close_dirs(r->sp);
		*err = (errno == ENOSPC || errno == EDQUOT) ? R_NO_SPACE
							    : R_WRITE_FAIL;
		return -1;
	}
	return 0;
}

/* data_deadline - the DATA phase's deadline after got bytes: timeout,
 * plus a second per min_data_rate bytes */
static void data_deadline(struct run *r, long long start,
                          unsigned long long got)
{
	const struct cfg_server *srv = r->s->srv;
	long long at = start + srv->timeout * 1000LL;

	if (srv->min_data_rate > 0)
		at += (long long)(got * 1000ULL /
				  (unsigned long long)srv->min_data_rate);
	io_set_deadline(r->io, at);
}

/* note_queued - the new queue id into the disconnect line's list */
static void note_queued(struct run *r)
{
	size_t have = strlen(r->s->queued), idl = strlen(r->sp->id);

	if (have + idl + 2 <= sizeof(r->s->queued) - 16 && !r->s->queued_cut)
		snprintf(r->s->queued + have, sizeof(r->s->queued) - have,
			 "%s%s", have ? "," : "", r->sp->id);
	else
		r->s->queued_cut++;
}

/* do_data - 354, stream the message into the spool, then the verdict */
static int do_data(struct run *r)
{
	struct io *io = r->io;
	struct data_rd d;
	enum reply_id err = R_WRITE_FAIL, spooled = R_OKAY;
	long long start;
	unsigned long long got = 0;

	if (open_entry(r, &err) < 0) {
		session_data_start(r->s, 0, err);
		return 1;
	}
	session_data_start(r->s, 1, R_OKAY);
	data_init(&d, r->s->srv->max_size);
	r->unchecked = 0;
	start = io_now_ms();
	data_deadline(r, start, 0);
	for (;;) {
		size_t used;

		if (io->start == io->end && !fill(r)) {
			spool_abort(r->sp);
			log_info("connection lost during DATA from %s",
				 r->s->peer_ip);
			return 0;
		}
		if (data_feed(&d, io->in + io->start, io->end - io->start,
			      &used, sink, r) == DATA_END) {
			io->start += used;
			break;
		}
		io->start += used;
		got += used;
		data_deadline(r, start, got);
	}
	if (d.toolarge || d.bare || d.sink_failed) {
		spool_abort(r->sp);
		spooled = R_WRITE_FAIL;
		if (d.sink_failed)
			log_error("spool write failed: %s",
				  strerror(r->sp->err));
		else
			log_info("message refused from %s: %s", r->s->peer_ip,
				 d.toolarge ? "over max_size"
					    : "bare CR or LF");
	} else if (spool_space_ok(r->sp, (long long)r->sp->wlen,
				  r->s->srv->spool_min_free) == 0) {
		/* the last bytes would cross the floor (the checks while
		 * streaming come every SPACE_EVERY bytes) */
		spool_abort(r->sp);
		log_error("spool %s: free space below spool_min_free after "
			  "DATA",
			  r->spool_dir);
		spooled = R_NO_SPACE;
	} else if (spool_commit(r->sp, d.size) < 0) {
		log_error("spool commit %s failed: %s", r->sp->id,
			  strerror(r->sp->err));
		spooled = R_WRITE_FAIL;
	} else {
		log_info("%s queued from=<%s> nrcpt=%zu size=%lld client=%s",
			 r->sp->id, r->s->tx.sender, r->s->tx.nrcpts, d.size,
			 r->s->peer_ip);
		note_queued(r);
		stats_message(d.size, r->s->tx.nrcpts, r->s->tls_on);
	}
	if (spooled != R_OKAY &&
	    (r->sp->err == ENOSPC || r->sp->err == EDQUOT))
		spooled = R_NO_SPACE;
	session_data_end(r->s, &d, spooled, r->sp->id);
	return 1;
}

/* do_bdat - read one BDAT chunk into the spool (or drop it), then its
 * reply; the entry is opened at the first chunk and committed at LAST */
static int do_bdat(struct run *r)
{
	struct session *s = r->s;
	struct bdat_tx *bt = &s->bdat;
	struct io *io = r->io;
	enum reply_id err = R_WRITE_FAIL, spooled = R_OKAY;

	if (bt->take && bt->first) {
		int ok = open_entry(r, &err) == 0;

		r->unchecked = 0;
		bdat_opened(s, ok, err);
	}
	bdat_chunk(&bt->rd, bt->n, !bt->take);
	while (bt->rd.left > 0) {
		if (io->start == io->end && !fill(r)) {
			spool_abort(r->sp);
			log_info("connection lost during BDAT from %s",
				 s->peer_ip);
			return 0;
		}
		io->start += bdat_feed(&bt->rd, io->in + io->start,
				       io->end - io->start, sink, r);
	}
	if (bt->take && bt->rd.sink_failed) {
		log_error("spool write failed: %s", strerror(r->sp->err));
		spooled = (r->sp->err == ENOSPC || r->sp->err == EDQUOT)
				  ? R_NO_SPACE
				  : R_WRITE_FAIL;
	}
	if (!bdat_chunk_end(s, spooled))
		return 1;
	if (spool_space_ok(r->sp, (long long)r->sp->wlen,
			   s->srv->spool_min_free) == 0) {
		spool_abort(r->sp);
		log_error("spool %s: free space below spool_min_free after "
			  "BDAT",
			  r->spool_dir);
		spooled = R_NO_SPACE;
	} else if (spool_commit(r->sp, bt->rd.size) < 0) {
		log_error("spool commit %s failed: %s", r->sp->id,
			  strerror(r->sp->err));
		spooled = (r->sp->err == ENOSPC || r->sp->err == EDQUOT)
				  ? R_NO_SPACE
				  : R_WRITE_FAIL;
	} else {
		log_info("%s queued from=<%s> nrcpt=%zu size=%lld client=%s "
			 "via=BDAT chunks=%u body=%s",
			 r->sp->id, s->tx.sender, s->tx.nrcpts, bt->rd.size,
			 s->peer_ip, bt->rd.chunks,
			 bt->rd.binary ? "BINARYMIME" : "text");
		note_queued(r);
		stats_message(bt->rd.size, s->tx.nrcpts, s->tls_on);
	}
	bdat_committed(s, spooled, r->sp->id);
	return 1;
}

/* next_line - the next command line into line and len: 1 a line, 2 an
 * overlong line was answered, 0 the session is over */
static int next_line(struct run *r, const char **line, size_t *len)
{
	struct io *io = r->io;

	io_set_deadline(io, io_now_ms() + r->s->srv->timeout * 1000LL);
	for (;;) {
		size_t used;
		enum frame_res fr;

		/* a second PROXY header (serve.c took the first): close */
		if (r->s->srv->proxy_protocol && !r->frame.skipping &&
		    proxy_again(io->in + io->start, io->end - io->start)) {
			log_info("PROXY header again from %s: closing",
				 r->s->peer_ip);
			r->s->end = END_ERRORS;
			return 0;
		}
		fr = frame_next(&r->frame, io->in + io->start,
				io->end - io->start, &used, line, len);

		io->start += used;
		if (fr == FRAME_LINE)
			return 1;
		if (fr == FRAME_TOOLONG)
			return 2;
		if (!fill(r))
			return 0;
	}
}

void run_session(struct run *r)
{
	struct session *s = r->s;

	s->space = space_ok;
	s->space_arg = r;
	frame_init(&r->frame, (size_t)s->srv->max_line_length);
	session_greeting(s);
	for (;;) {
		enum session_action act;
		const char *line;
		size_t len;
		int got;

		if (s->end != END_NONE)
			break;
		got = next_line(r, &line, &len);
		if (got == 0)
			break;
		if (got == 2)
			act = session_line_too_long(s);
		else
			act = session_feed_line(s, line, len);
		if (act == ACT_DATA && !do_data(r))
			break;
		if (act == ACT_BDAT && !do_bdat(r))
			break;
		/* a BDAT message ended by RSET, HELO, QUIT or its failure */
		if (r->sp->fd >= 0 && !(s->state == ST_BDAT && s->bdat.take))
			spool_abort(r->sp);
		/* only when offered, and main.c sets the hook with the offer */
		if (act == ACT_STARTTLS && r->starttls(r) < 0)
			break;
		if (act == ACT_CLOSE)
			break;
	}
	spool_abort(r->sp); /* a BDAT message cut off */
	if (s->end != END_EOF && s->end != END_IOERR)
		run_flush(r);
}
