/* session.h - the SMTP protocol core: a line in, replies and an action
 * out. No I/O, clock or files here; run.c drives it, the tests too. */
#ifndef SESSION_H
#define SESSION_H

#include "addr.h"
#include "bdat.h"
#include "buf.h"
#include "cfg.h"
#include "data.h"
#include "entry.h"
#include "reply.h"

enum session_state {
	ST_CONNECTED, /* no HELO/EHLO yet */
	ST_HELO,      /* greeted, no transaction */
	ST_MAIL,      /* MAIL accepted, no RCPT yet */
	ST_RCPT,      /* at least one RCPT accepted */
	ST_DATA,      /* reading the message */
	ST_QUIT,      /* closing */
	ST_BDAT,      /* between the chunks of a BDAT message (bdat.c) */
};

enum session_action {
	ACT_NONE,     /* go on reading commands */
	ACT_DATA,     /* DATA accepted: open the spool entry, then 354 */
	ACT_STARTTLS, /* STARTTLS accepted: reply 220 or 454, handshake */
	ACT_CLOSE,    /* flush the replies and close */
	ACT_BDAT,     /* read s->bdat.n octets, then bdat_chunk_end */
};

enum session_end {
	END_NONE,
	END_QUIT,
	END_EOF,
	END_TIMEOUT,
	END_ERRORS,
	END_IOERR,
	END_INTERNAL,
	END_TLS, /* the TLS handshake failed */
	END_HTTP, /* an HTTP request as the first command */
};

#define SESSION_NCMDS 17

struct tx {
	char sender[ADDR_MAX_PATH + 1];
	char **rcpts;
	size_t nrcpts;
	size_t rcpt_tried;
	int body8; /* BODY=: 0 7BIT, 1 8BITMIME, 2 BINARYMIME */
	int utf8; /* MAIL ... SMTPUTF8 (RFC 6531) */
	long long declared; /* MAIL's SIZE=, 0 when not given */
};

/* session_space_fn - is there room for need more bytes in the spool,
 * above spool_min_free? 1 yes, 0 no, -1 cannot tell (errno). run.c
 * gives one (statvfs); without one the core assumes room. */
typedef int (*session_space_fn)(void *arg, long long need);

struct session {
	const struct cfg *cfg;
	const struct cfg_server *srv;
	enum session_state state;
	char helo[256];
	int esmtp;
	struct tx tx;
	unsigned errors;     /* unrecognised commands */
	unsigned err_count;  /* error replies since the last message */
	unsigned junk;       /* NOOP, VRFY, RSET, HELP so far */
	unsigned long lines; /* command lines fed so far */
	long long delay_ms;  /* owed before the next flush (soft limit) */
	session_space_fn space;
	void *space_arg;
	/* rcpt_check (rcptcheck.c): is addr[0..len) a recipient? 0 known,
	 * 1 unknown, 2 no answer (why says why); NULL: every local part */
	int (*rcpt_check)(void *arg, const char *addr, size_t len, char *why,
	                  size_t wsize);
	void *rcpt_check_arg;
	int tls_offer; /* STARTTLS may be advertised */
	int tls_on;    /* the connection is TLS now */
	char tls_desc[128];
	struct buf out; /* replies waiting to be flushed */
	const char *peer_ip;
	unsigned peer_port;
	/* who handed the client over (serve.c for a PROXY header, xclient.c
	 * for XCLIENT): the envelope's X-Spool-Proxy text, "" when direct */
	char proxy[128];
	char peer_buf[64];   /* XCLIENT ADDR: peer_ip points here */
	char peer_name[256]; /* XCLIENT NAME, "" unknown */
	int xclient_ok;      /* xclient_on and the peer in xclient_trusted */
	/* a new client address (XCLIENT ADDR): take its max_clients_per_ip
	 * slot; 0, or -1 when full. NULL: no per-IP limit (tests) */
	int (*claim_ip)(void *arg, const char *ip);
	void *claim_arg;
	enum session_end end;
	unsigned long messages, rcpts_total;
	unsigned long long bytes;
	unsigned long rejected;
	unsigned cmd_count[SESSION_NCMDS];
	char queued[400]; /* the queue ids of this connection, for its
			   * disconnect line: "id,id" (cut: "...,+N") */
	unsigned long queued_cut;
	struct bdat_tx bdat; /* CHUNKING, bdat.c */
};

void session_init(struct session *s, const struct cfg *cfg,
                  const struct cfg_server *srv, const char *peer_ip,
                  unsigned peer_port);
void session_free(struct session *s);

/* session_greeting - the 220 banner */
void session_greeting(struct session *s);

/* session_feed_line - one command line without its CRLF (or LF) */
enum session_action session_feed_line(struct session *s, const char *line,
                                      size_t len);

/* session_line_too_long - a command line went past max_line_length */
enum session_action session_line_too_long(struct session *s);

/* session_reply - queue a fixed reply */
void session_reply(struct session *s, enum reply_id id);

/* session_replyf - queue a reply with variable text (banner, EHLO, a
 * queue id, a chunk's octet count); CRLF added, cut at 598 bytes */
void session_replyf(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* session_envelope - fill env from the transaction (pointers into s) */
void session_envelope(struct session *s, struct envelope *env);

/* session_data_start - the spool said ok (354) or gave a reply id */
void session_data_start(struct session *s, int ok, enum reply_id err);

/* session_data_end - the message is read; spooled is R_OKAY if it is
 * in new/ as qid, else the spool's failure (R_WRITE_FAIL, R_NO_SPACE);
 * reply 250 or the latched error and reset the transaction */
void session_data_end(struct session *s, const struct data_rd *d,
                      enum reply_id spooled, const char *qid);

/* session_tls_done - the handshake succeeded: back to ST_CONNECTED */
void session_tls_done(struct session *s, const char *desc);

/* session_enter - the only place the state changes (bdat.c too) */
void session_enter(struct session *s, enum session_state st);

/* session_tx_reset - forget the transaction (sender, recipients) */
void session_tx_reset(struct session *s);

/* session_check_errors - at max_errors: 421, close (after a reply that
 * is not a command's own, as at the end of DATA) */
void session_check_errors(struct session *s);

/* session_cmd_name - the name behind cmd_count[i] */
const char *session_cmd_name(unsigned i);

#endif
