/*
 * run.c - the session loop: greeting, command lines, DATA, close.
 *
 * PIPELINING (RFC 2920): replies are queued in s->out and written only
 * before blocking on a read, so a client that sends a whole transaction
 * in one write gets all its replies, in order, in one write (qmail's
 * saferead). Command lines come out of frame.c: they end at LF (an
 * optional CR before it is dropped); a line longer than max_line_length
 * gets 500 5.5.2 once and is skipped to its LF, so its tail is never
 * parsed as commands.
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

/* do_data - 354, stream the message into the spool, then the verdict */
static int do_data(struct run *r)
{
	struct io *io = r->io;
	struct data_rd d;
	enum reply_id err = R_WRITE_FAIL, spooled = R_OKAY;

	if (open_entry(r, &err) < 0) {
		session_data_start(r->s, 0, err);
		return 1;
	}
	session_data_start(r->s, 1, R_OKAY);
	data_init(&d, r->s->srv->max_size);
	r->unchecked = 0;
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
		size_t have = strlen(r->s->queued), idl = strlen(r->sp->id);

		log_info("%s queued from=<%s> nrcpt=%zu size=%lld client=%s",
			 r->sp->id, r->s->tx.sender, r->s->tx.nrcpts, d.size,
			 r->s->peer_ip);
		if (have + idl + 2 <= sizeof(r->s->queued) - 16 &&
		    !r->s->queued_cut)
			snprintf(r->s->queued + have,
				 sizeof(r->s->queued) - have, "%s%s",
				 have ? "," : "", r->sp->id);
		else
			r->s->queued_cut++;
		stats_message(d.size, r->s->tx.nrcpts, r->s->tls_on);
	}
	if (spooled != R_OKAY &&
	    (r->sp->err == ENOSPC || r->sp->err == EDQUOT))
		spooled = R_NO_SPACE;
	session_data_end(r->s, &d, spooled, r->sp->id);
	return 1;
}

/* next_line - the next command line into line and len: 1 a line, 2 an
 * overlong line was answered, 0 the session is over */
static int next_line(struct run *r, const char **line, size_t *len)
{
	struct io *io = r->io;

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
		/* only when offered, and main.c sets the hook with the offer */
		if (act == ACT_STARTTLS && r->starttls(r) < 0)
			break;
		if (act == ACT_CLOSE)
			break;
	}
	if (s->end != END_EOF && s->end != END_IOERR)
		run_flush(r);
}
