/*
 * session.c - the SMTP protocol core (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, ENHANCEDSTATUSCODES; STARTTLS hooks for RFC 3207; CHUNKING
 * and BINARYMIME, RFC 3030, in bdat.c behind one table row).
 *
 * Pure: a command line goes in, replies are appended to s->out and an
 * action comes out; run.c does the reading, writing and spooling. One
 * table row per verb gives the states it is allowed in; every handler
 * checks first and acts second. Only session_enter() changes state.
 *
 * Limits: max_recipients (452 4.5.3), max_unrecognized_commands (421 and
 * close, counting unknown verbs, overlong lines and control bytes), the
 * size declared with MAIL (552 5.3.4, and 452 4.3.1 when the spool has
 * not that much room above spool_min_free). Every 4xx/5xx reply counts
 * as an error, as in Postfix's smtpd: past soft_error_limit each one owes
 * error_sleep_time before the next flush (run.c sleeps), at max_errors
 * the session ends with 421 4.7.0; an accepted message forgives them.
 * NOOP, VRFY, RSET and HELP past max_junk_commands count as errors too.
 * Replies never echo client bytes.
 *
 * SMTPUTF8 (RFC 6531, when the server's smtputf8 is on): an address with
 * octets >= 0x80 is taken only after MAIL ... SMTPUTF8 (else 553 5.6.7,
 * RFC 6531 3.5) and only as valid UTF-8 (utf8.c); a U-label domain is
 * compared with allowed_hosts as its A-label. HELO/EHLO arguments and
 * HTTP requests: helo.c. AUTH: refused with a text saying why.
 */
#include "session.h"
#include "helo.h"
#include "stats.h"
#include "log.h"
#include "utf8.h"
#include "util.h"
#include "xclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SB(st) (1u << (st))
#define ANY                                                             \
	(SB(ST_CONNECTED) | SB(ST_HELO) | SB(ST_MAIL) | SB(ST_RCPT) |   \
	 SB(ST_BDAT))

typedef enum session_action (*cmd_fn)(struct session *s, const char *arg,
                                      size_t alen);

struct cmd {
	const char *name;
	cmd_fn fn;
	unsigned states;    /* where the verb is allowed */
	enum reply_id deny; /* reply elsewhere */
};

static enum session_action cmd_helo(struct session *, const char *, size_t);
static enum session_action cmd_ehlo(struct session *, const char *, size_t);
static enum session_action cmd_mail(struct session *, const char *, size_t);
static enum session_action cmd_rcpt(struct session *, const char *, size_t);
static enum session_action cmd_data(struct session *, const char *, size_t);
static enum session_action cmd_rset(struct session *, const char *, size_t);
static enum session_action cmd_noop(struct session *, const char *, size_t);
static enum session_action cmd_vrfy(struct session *, const char *, size_t);
static enum session_action cmd_help(struct session *, const char *, size_t);
static enum session_action cmd_quit(struct session *, const char *, size_t);
static enum session_action cmd_starttls(struct session *, const char *,
                                        size_t);
static enum session_action cmd_notimpl(struct session *, const char *,
                                       size_t);
static enum session_action cmd_auth(struct session *, const char *, size_t);
static enum session_action cmd_xclient(struct session *, const char *,
                                       size_t);
static enum session_action cmd_bdat(struct session *, const char *, size_t);

static const struct cmd cmds[] = {
	{"HELO", cmd_helo, ANY, R_OKAY},
	{"EHLO", cmd_ehlo, ANY, R_OKAY},
	{"MAIL", cmd_mail, SB(ST_HELO), R_NEED_HELO},
	{"RCPT", cmd_rcpt, SB(ST_MAIL) | SB(ST_RCPT), R_NEED_MAIL},
	{"DATA", cmd_data, SB(ST_RCPT), R_NEED_RCPT},
	{"RSET", cmd_rset, ANY, R_OKAY},
	{"NOOP", cmd_noop, ANY, R_OKAY},
	{"VRFY", cmd_vrfy, ANY, R_OKAY},
	{"HELP", cmd_help, ANY, R_OKAY},
	{"QUIT", cmd_quit, ANY, R_OKAY},
	{"STARTTLS", cmd_starttls, SB(ST_HELO), R_NEED_HELO},
	{"EXPN", cmd_notimpl, ANY, R_OKAY},
	{"TURN", cmd_notimpl, ANY, R_OKAY},
	{"ETRN", cmd_notimpl, ANY, R_OKAY},
	{"AUTH", cmd_auth, ANY, R_OKAY},
	{"XCLIENT", cmd_xclient, ANY, R_OKAY},
	{"BDAT", cmd_bdat, ANY, R_OKAY}, /* states: bdat.c */
};

_Static_assert(sizeof(cmds) / sizeof(cmds[0]) == SESSION_NCMDS,
               "SESSION_NCMDS");

static const char *state_names[] = {"connected", "helo", "mail", "rcpt",
				    "data",      "quit", "bdat"};

const char *session_cmd_name(unsigned i)
{
	return i < SESSION_NCMDS ? cmds[i].name : "?";
}

/* session_enter - the only place the state changes */
void session_enter(struct session *s, enum session_state st)
{
	if (s->state != st)
		log_debug("state %s -> %s", state_names[s->state],
			  state_names[st]);
	s->state = st;
}

static void tx_reset(struct tx *tx)
{
	size_t i;

	for (i = 0; i < tx->nrcpts; i++)
		free(tx->rcpts[i]);
	free(tx->rcpts);
	memset(tx, 0, sizeof(*tx));
}

/* session_tx_reset - forget the transaction (for bdat.c) */
void session_tx_reset(struct session *s)
{
	tx_reset(&s->tx);
}

void session_init(struct session *s, const struct cfg *cfg,
                  const struct cfg_server *srv, const char *peer_ip,
                  unsigned peer_port)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->srv = srv;
	s->state = ST_CONNECTED;
	s->out.max = 1024 * 1024; /* replies of one pipelined burst */
	s->peer_ip = peer_ip;
	s->peer_port = peer_port;
	snprintf(s->tls_desc, sizeof(s->tls_desc), "none");
}

void session_free(struct session *s)
{
	tx_reset(&s->tx);
	buf_free(&s->out);
}

/* count_err - one more error against the soft and hard limits */
static void count_err(struct session *s)
{
	s->err_count++;
	if (s->err_count > (unsigned long)s->srv->soft_error_limit)
		s->delay_ms += s->srv->error_sleep_time;
}

void session_reply(struct session *s, enum reply_id id)
{
	if (reply_add(&s->out, id) < 0)
		s->end = END_INTERNAL;
	if (reply_code(id) >= 400) {
		stats_refusal(reply_code(id));
		s->rejected++;
		count_err(s);
	}
}

/* error_limit - after a command: at max_errors, 421 and close */
static enum session_action error_limit(struct session *s,
                                       enum session_action act)
{
	if (act == ACT_CLOSE || s->state == ST_QUIT ||
	    s->err_count < (unsigned long)s->srv->max_errors)
		return act;
	log_info("too many errors from %s", s->peer_ip);
	session_reply(s, R_TOO_MANY_ERR);
	s->end = END_ERRORS;
	session_enter(s, ST_QUIT);
	return ACT_CLOSE;
}

/* session_check_errors - the error limit after a deferred reply */
void session_check_errors(struct session *s)
{
	error_limit(s, ACT_NONE);
}

/* junk - NOOP, VRFY, RSET, HELP: free up to max_junk_commands, then each
 * counts as an error (Postfix's smtpd_junk_command_limit) */
static void junk(struct session *s)
{
	if (++s->junk > (unsigned long)s->srv->max_junk_commands)
		count_err(s);
}

void session_replyf(struct session *s, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)strlen(line);
	memcpy(line + n, "\r\n", 2);
	if (buf_add(&s->out, line, (size_t)n + 2) < 0)
		s->end = END_INTERNAL;
}

void session_greeting(struct session *s)
{
	session_replyf(s, "220 %s ESMTP ready", s->srv->host_name);
}

/* count_error - an unrecognised command; too many: 421 and close */
static enum session_action count_error(struct session *s, enum reply_id id)
{
	if (++s->errors >= (unsigned)s->srv->max_unrecognized_commands) {
		session_reply(s, R_TOO_MANY_ERR);
		s->end = END_ERRORS;
		session_enter(s, ST_QUIT);
		return ACT_CLOSE;
	}
	session_reply(s, id);
	return ACT_NONE;
}

enum session_action session_line_too_long(struct session *s)
{
	log_info("line too long from %s", s->peer_ip);
	return error_limit(s, count_error(s, R_TOO_LONG));
}

/* trim - drop leading and trailing spaces/tabs of an argument */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static enum session_action feed(struct session *s, const char *line,
                                 size_t len);

enum session_action session_feed_line(struct session *s, const char *line,
                                      size_t len)
{
	return error_limit(s, feed(s, line, len));
}

/* feed - one command line, before the error limit is applied */
static enum session_action feed(struct session *s, const char *line,
                                size_t len)
{
	const char *arg;
	size_t vlen, alen, i;

	if (s->state == ST_QUIT)
		return ACT_CLOSE;
	if (len && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return count_error(s, R_BAD_CHARS);
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	arg = line + vlen;
	alen = len - vlen;
	trim(&arg, &alen);
	if (s->lines++ == 0 && helo_http_verb(line, vlen)) {
		char v[16];

		util_printable(v, sizeof(v), line, vlen, 10);
		log_info("HTTP request (%s) from %s: closing", v, s->peer_ip);
		s->end = END_HTTP;
		session_enter(s, ST_QUIT);
		return ACT_CLOSE;
	}
	for (i = 0; i < SESSION_NCMDS; i++) {
		const struct cmd *c = &cmds[i];

		if (strlen(c->name) != vlen || strncasecmp(c->name, line, vlen))
			continue;
		s->cmd_count[i]++;
		if (!(c->states & SB(s->state))) {
			enum reply_id r = c->deny;

			if (s->state == ST_CONNECTED && c->fn != cmd_starttls)
				r = R_NEED_HELO;
			else if (c->fn == cmd_mail)
				r = R_NESTED_MAIL;
			else if (s->state == ST_BDAT)
				r = c->fn == cmd_data ? R_BDAT_MIX : R_BDAT_SEQ;
			else if (c->fn == cmd_data && s->state == ST_MAIL &&
				 s->tx.rcpt_tried)
				r = R_NO_VALID_RCPT;
			else if (c->fn == cmd_starttls && s->tls_on)
				r = R_TLS_TWICE;
			else if (c->fn == cmd_starttls && !s->tls_offer)
				r = R_NOT_IMPL;
			session_reply(s, r);
			return ACT_NONE;
		}
		return c->fn(s, arg, alen);
	}
	log_debug("unrecognized command from %s", s->peer_ip);
	return count_error(s, R_UNKNOWN);
}

static enum session_action greet(struct session *s, const char *arg,
                                 size_t alen, int esmtp)
{
	enum helo_verdict v = helo_check(arg, alen, s->srv->helo_strict);

	if (v != HELO_OK) {
		if (v == HELO_NOT_NAME) {
			char a[120];

			util_printable(a, sizeof(a), arg, alen, 100);
			log_info("HELO/EHLO from %s refused (helo_strict): %s",
				 s->peer_ip, a);
		}
		session_reply(s, v == HELO_JUNK ? R_HELO_SYNTAX
						: R_HELO_INVALID);
		return ACT_NONE;
	}
	memcpy(s->helo, arg, alen);
	s->helo[alen] = '\0';
	stats_helo(s->helo);
	s->esmtp = esmtp;
	tx_reset(&s->tx);
	session_enter(s, ST_HELO);
	if (!esmtp) {
		session_replyf(s, "250 %s Hello", s->srv->host_name);
		return ACT_NONE;
	}
	session_replyf(s, "250-%s Hello", s->srv->host_name);
	session_replyf(s, "250-SIZE %ld", s->srv->max_size);
	session_replyf(s, "250-PIPELINING");
	session_replyf(s, "250-CHUNKING");
	session_replyf(s, "250-BINARYMIME");
	session_replyf(s, "250-8BITMIME");
	session_replyf(s, "250-ENHANCEDSTATUSCODES");
	if (s->srv->smtputf8)
		session_replyf(s, "250-SMTPUTF8");
	/* RFC 9422 */
	session_replyf(s, "250-LIMITS RCPTMAX=%ld", s->srv->max_recipients);
	if (s->tls_offer && !s->tls_on)
		session_replyf(s, "250-STARTTLS");
	if (s->xclient_ok)
		session_replyf(s, "250-XCLIENT " XCLIENT_ATTRS);
	session_replyf(s, "250 HELP");
	return ACT_NONE;
}

static enum session_action cmd_helo(struct session *s, const char *arg,
                                    size_t alen)
{
	return greet(s, arg, alen, 0);
}

static enum session_action cmd_ehlo(struct session *s, const char *arg,
                                    size_t alen)
{
	return greet(s, arg, alen, 1);
}

/* prefix - case-insensitive "FROM:" / "TO:" */
static int prefix(const char **arg, size_t *alen, const char *want)
{
	size_t n = strlen(want);

	if (*alen < n || strncasecmp(*arg, want, n))
		return 0;
	*arg += n;
	*alen -= n;
	return 1;
}

/* mail_params - SIZE= and BODY= (RFC 1870, RFC 6152) */
static int mail_params(struct session *s, const struct mailpath *mp,
                       enum reply_id *err)
{
	const char *p = mp->params, *end = mp->params + mp->params_len;
	const char *k, *v;
	size_t kl, vl;

	while (addr_param_next(&p, end, &k, &kl, &v, &vl) == 0) {
		if (!s->esmtp) {
			*err = R_PARAM;
			return -1;
		}
		if (kl == 4 && !strncasecmp(k, "SIZE", 4)) {
			unsigned long n;

			if (!v || util_parse_ulong(v, vl, ~0UL, &n) < 0) {
				*err = R_SYNTAX;
				return -1;
			}
			if (n > (unsigned long)s->srv->max_size) {
				*err = R_SIZE;
				return -1;
			}
			s->tx.declared = (long long)n;
		} else if (kl == 4 && !strncasecmp(k, "BODY", 4)) {
			if (v && vl == 4 && !strncasecmp(v, "7BIT", 4)) {
				s->tx.body8 = 0;
			} else if (v && vl == 8 &&
				   !strncasecmp(v, "8BITMIME", 8)) {
				s->tx.body8 = 1;
			} else if (v && vl == 10 &&
				   !strncasecmp(v, "BINARYMIME", 10)) {
				s->tx.body8 = 2; /* BDAT only (bdat.c) */
			} else {
				*err = R_BODY_PARAM;
				return -1;
			}
		} else if (kl == 8 && !strncasecmp(k, "SMTPUTF8", 8) &&
			   s->srv->smtputf8) {
			if (v) {
				*err = R_SYNTAX;
				return -1;
			}
			s->tx.utf8 = 1;
		} else {
			*err = R_PARAM;
			return -1;
		}
	}
	return 0;
}

/* utf8_addr - an address with octets >= 0x80: R_OKAY in an SMTPUTF8
 * transaction when it is valid UTF-8, else R_NEED_UTF8 or bad (the
 * syntax reply) */
static enum reply_id utf8_addr(const struct session *s,
                               const struct mailpath *mp, enum reply_id bad)
{
	if (!utf8_has_8bit(mp->addr, mp->len))
		return R_OKAY;
	if (!s->tx.utf8)
		return R_NEED_UTF8;
	return utf8_valid(mp->addr, mp->len) ? R_OKAY : bad;
}

static enum session_action cmd_mail(struct session *s, const char *arg,
                                    size_t alen)
{
	struct mailpath mp;
	enum reply_id err;
	enum addr_kind k;

	if (!prefix(&arg, &alen, "FROM:")) {
		session_reply(s, R_SYNTAX);
		return ACT_NONE;
	}
	k = addr_parse(arg, alen, &mp);
	if (k != ADDR_MAILBOX && k != ADDR_NULL) {
		session_reply(s, R_SENDER_SYNTAX);
		return ACT_NONE;
	}
	s->tx.body8 = 0;
	s->tx.utf8 = 0;
	s->tx.declared = 0;
	if (mail_params(s, &mp, &err) < 0) {
		session_reply(s, err);
		return ACT_NONE;
	}
	err = utf8_addr(s, &mp, R_SENDER_SYNTAX);
	if (err != R_OKAY) {
		s->tx.utf8 = 0;
		session_reply(s, err);
		return ACT_NONE;
	}
	/* RFC 1870 6.1: too big for the room we have now is a 452; an
	 * unanswerable statvfs is left to DATA, which checks again */
	if (s->space && s->space(s->space_arg, s->tx.declared) == 0) {
		log_info("MAIL from %s refused: SIZE=%lld does not fit above "
			 "spool_min_free",
			 s->peer_ip, s->tx.declared);
		session_reply(s, R_NO_SPACE);
		return ACT_NONE;
	}
	memcpy(s->tx.sender, mp.addr, mp.len + 1);
	session_enter(s, ST_MAIL);
	session_reply(s, R_SENDER_OK);
	return ACT_NONE;
}

/* rcpt_known - is mp already a recipient of tx? The local part is
 * compared exactly (RFC 5321 2.4: it may be case-sensitive), the domain
 * and "postmaster" without case */
static int rcpt_known(const struct tx *tx, const struct mailpath *mp)
{
	size_t i, at = mp->at;

	for (i = 0; i < tx->nrcpts; i++) {
		const char *r = tx->rcpts[i];

		if (strlen(r) != mp->len)
			continue;
		if (at >= mp->len) {
			if (!strcasecmp(r, mp->addr))
				return 1;
			continue;
		}
		if (r[at] == '@' && !memcmp(r, mp->addr, at) &&
		    !strcasecmp(r + at + 1, mp->addr + at + 1))
			return 1;
	}
	return 0;
}

/* rcpt_allowed - is the recipient's domain in allowed_hosts? A U-label
 * domain is looked up as its A-label ("xn--"), as allowed_hosts are
 * written as in DNS; one that has no A-label form is not allowed */
static int rcpt_allowed(const struct session *s, const struct mailpath *mp)
{
	const char *d = mp->addr + mp->at + 1;
	size_t dl = mp->len - mp->at - 1;
	char ace[256];
	int n;

	if (!utf8_has_8bit(d, dl))
		return cfg_host_allowed(s->cfg, d, dl);
	n = utf8_domain_to_ascii(d, dl, ace, sizeof(ace));
	return n > 0 && cfg_host_allowed(s->cfg, ace, (size_t)n);
}

/* rcpt_refused - rcpt_check: 1 when the recipient got 550 5.1.1 or
 * 451 4.3.0 (logged), 0 to accept it. postmaster at an allowed host is
 * never looked up (RFC 5321 4.5.1). */
static int rcpt_refused(struct session *s, const struct mailpath *mp)
{
	char a[120], why[256];
	int r;

	if (!s->rcpt_check || (mp->at == 10 &&
			       !strncasecmp(mp->addr, "postmaster", 10)))
		return 0;
	r = s->rcpt_check(s->rcpt_check_arg, mp->addr, mp->len, why,
			  sizeof(why));
	if (r == 0)
		return 0;
	util_printable(a, sizeof(a), mp->addr, mp->len, 100);
	if (r == 1) {
		log_info("recipient unknown from %s to %s (rcpt_check)",
			 s->peer_ip, a);
		session_reply(s, R_RCPT_UNKNOWN);
		return 1;
	}
	if (!strcmp(s->srv->rcpt_check_on_error, "accept")) {
		log_warnx("recipient check failed from %s to %s: %s; "
			  "accepted (rcpt_check_on_error accept)",
			  s->peer_ip, a, why);
		return 0;
	}
	log_warnx("recipient check failed from %s to %s: %s; 451", s->peer_ip,
		  a, why);
	session_reply(s, R_RCPT_LOOKUP);
	return 1;
}

static enum session_action cmd_rcpt(struct session *s, const char *arg,
                                    size_t alen)
{
	struct mailpath mp;
	enum reply_id err;
	enum addr_kind k;
	char **nr, *copy;

	if (!prefix(&arg, &alen, "TO:")) {
		session_reply(s, R_SYNTAX);
		return ACT_NONE;
	}
	s->tx.rcpt_tried++;
	k = addr_parse(arg, alen, &mp);
	if (k == ADDR_LOCAL && strcasecmp(mp.addr, "postmaster") != 0)
		k = ADDR_BAD;
	if (k != ADDR_MAILBOX && k != ADDR_LOCAL) {
		session_reply(s, R_RCPT_SYNTAX);
		return ACT_NONE;
	}
	if (mp.params_len) {
		session_reply(s, R_PARAM);
		return ACT_NONE;
	}
	err = utf8_addr(s, &mp, R_RCPT_SYNTAX);
	if (err != R_OKAY) {
		session_reply(s, err);
		return ACT_NONE;
	}
	if (s->tx.nrcpts >= (size_t)s->srv->max_recipients) {
		session_reply(s, R_TOO_MANY_RCPT);
		return ACT_NONE;
	}
	if (k == ADDR_MAILBOX && !rcpt_allowed(s, &mp)) {
		char a[120];

		util_printable(a, sizeof(a), mp.addr, mp.len, 100);
		log_info("relay denied from %s to %s", s->peer_ip, a);
		session_reply(s, R_RELAY);
		return ACT_NONE;
	}
	if (rcpt_known(&s->tx, &mp)) {
		/* recorded once (Postfix's cleanup does the same), still a
		 * 250: the client did nothing wrong */
		session_enter(s, ST_RCPT);
		session_reply(s, R_RCPT_OK);
		return ACT_NONE;
	}
	if (k == ADDR_MAILBOX && rcpt_refused(s, &mp))
		return ACT_NONE;
	nr = realloc(s->tx.rcpts, (s->tx.nrcpts + 1) * sizeof(*nr));
	copy = malloc(mp.len + 1);
	if (nr)
		s->tx.rcpts = nr;
	if (!nr || !copy) {
		free(copy);
		session_reply(s, R_INTERNAL);
		s->end = END_INTERNAL;
		return ACT_CLOSE;
	}
	memcpy(copy, mp.addr, mp.len + 1);
	s->tx.rcpts[s->tx.nrcpts++] = copy;
	session_enter(s, ST_RCPT);
	session_reply(s, R_RCPT_OK);
	return ACT_NONE;
}

static enum session_action cmd_data(struct session *s, const char *arg,
                                    size_t alen)
{
	(void)arg;
	if (alen) {
		session_reply(s, R_NO_ARGS);
		return ACT_NONE;
	}
	if (s->tx.body8 == 2) {
		/* RFC 3030 3: BINARYMIME is sent with BDAT only */
		session_reply(s, R_BINARY_DATA);
		return ACT_NONE;
	}
	return ACT_DATA;
}

void session_envelope(struct session *s, struct envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->host = s->srv->host_name;
	env->sender = s->tx.sender;
	env->rcpts = s->tx.rcpts;
	env->nrcpts = s->tx.nrcpts;
	env->client_ip = (char *)s->peer_ip;
	env->client_port = s->peer_port;
	env->proxy = s->proxy[0] ? s->proxy : NULL;
	env->client_name = s->peer_name[0] ? s->peer_name : NULL;
	env->helo = s->helo;
	env->protocol = s->tls_on ? (s->esmtp ? "ESMTPS" : "SMTPS")
				  : (s->esmtp ? "ESMTP" : "SMTP");
	/* RFC 6531 4.3 (no AUTH here, so never UTF8SMTPA/UTF8SMTPSA) */
	if (s->tx.utf8)
		env->protocol = s->tls_on ? "UTF8SMTPS" : "UTF8SMTP";
	env->smtputf8 = s->tx.utf8;
	env->tls = s->tls_desc;
	env->body = s->tx.body8 == 2 ? "BINARYMIME"
		    : s->tx.body8    ? "8BITMIME"
				     : "7BIT";
	env->size = -1;
}

void session_data_start(struct session *s, int ok, enum reply_id err)
{
	if (!ok) {
		session_reply(s, err);
		error_limit(s, ACT_NONE);
		return;
	}
	session_enter(s, ST_DATA);
	session_reply(s, R_DATA_GO);
}

void session_data_end(struct session *s, const struct data_rd *d,
                      enum reply_id spooled, const char *qid)
{
	if (d->toolarge)
		session_reply(s, R_SIZE);
	else if (d->bare)
		session_reply(s, R_BARE);
	else if (spooled != R_OKAY)
		session_reply(s, spooled);
	else {
		session_replyf(s, "250 2.0.0 OK: queued as %s", qid);
		s->err_count = 0;
		s->messages++;
		s->rcpts_total += s->tx.nrcpts;
		s->bytes += (unsigned long long)d->size;
	}
	tx_reset(&s->tx);
	session_enter(s, ST_HELO);
	error_limit(s, ACT_NONE);
}

static enum session_action cmd_rset(struct session *s, const char *arg,
                                    size_t alen)
{
	junk(s);
	(void)arg;
	if (alen) {
		session_reply(s, R_NO_ARGS);
		return ACT_NONE;
	}
	tx_reset(&s->tx);
	session_enter(s, s->helo[0] ? ST_HELO : ST_CONNECTED);
	session_reply(s, R_OKAY);
	return ACT_NONE;
}

static enum session_action cmd_noop(struct session *s, const char *arg,
                                    size_t alen)
{
	junk(s);
	(void)arg;
	(void)alen; /* RFC 5321 4.1.1.9: a string argument is allowed */
	session_reply(s, R_OKAY);
	return ACT_NONE;
}

static enum session_action cmd_vrfy(struct session *s, const char *arg,
                                    size_t alen)
{
	junk(s);
	(void)arg;
	session_reply(s, alen ? R_VRFY : R_SYNTAX);
	return ACT_NONE;
}

static enum session_action cmd_help(struct session *s, const char *arg,
                                    size_t alen)
{
	junk(s);
	(void)arg;
	(void)alen;
	session_reply(s, R_HELP);
	return ACT_NONE;
}

static enum session_action cmd_quit(struct session *s, const char *arg,
                                    size_t alen)
{
	(void)arg;
	if (alen) {
		session_reply(s, R_NO_ARGS);
		return ACT_NONE;
	}
	session_reply(s, R_BYE);
	s->end = END_QUIT;
	session_enter(s, ST_QUIT);
	return ACT_CLOSE;
}

static enum session_action cmd_starttls(struct session *s, const char *arg,
                                        size_t alen)
{
	(void)arg;
	if (s->tls_on) {
		session_reply(s, R_TLS_TWICE);
		return ACT_NONE;
	}
	if (!s->tls_offer) {
		session_reply(s, R_NOT_IMPL);
		return ACT_NONE;
	}
	if (alen) {
		session_reply(s, R_NO_ARGS);
		return ACT_NONE;
	}
	return ACT_STARTTLS;
}

void session_tls_done(struct session *s, const char *desc)
{
	s->tls_on = 1;
	snprintf(s->tls_desc, sizeof(s->tls_desc), "%s", desc);
	s->helo[0] = '\0';
	s->esmtp = 0;
	tx_reset(&s->tx);
	session_enter(s, ST_CONNECTED);
}

/* cmd_bdat - CHUNKING lives in bdat.c */
static enum session_action cmd_bdat(struct session *s, const char *arg,
                                    size_t alen)
{
	return (enum session_action)bdat_cmd(s, arg, alen);
}

static enum session_action cmd_notimpl(struct session *s, const char *arg,
                                       size_t alen)
{
	(void)arg;
	(void)alen;
	session_reply(s, R_NOT_IMPL);
	return ACT_NONE;
}

/* cmd_auth - no AUTH here: say so plainly (RFC 4954 is for submission;
 * this server only receives) */
static enum session_action cmd_auth(struct session *s, const char *arg,
                                    size_t alen)
{
	(void)arg;
	(void)alen;
	session_reply(s, s->state == ST_CONNECTED ? R_AUTH_NEED_EHLO
						  : R_AUTH_NONE);
	return ACT_NONE;
}

/* cmd_xclient - XCLIENT (xclient.c); without xclient_on the verb is
 * unknown, as before; after it the session starts again at the 220
 * greeting, greeted already when XCLIENT gave HELO= (Postfix) */
static enum session_action cmd_xclient(struct session *s, const char *arg,
                                       size_t alen)
{
	enum reply_id r;

	if (!s->srv->xclient_on)
		return count_error(s, R_UNKNOWN);
	r = xclient_apply(s, arg, alen);
	if (r == R_FULL) {
		session_reply(s, r);
		s->end = END_ERRORS;
		session_enter(s, ST_QUIT);
		return ACT_CLOSE;
	}
	if (r != R_OKAY) {
		session_reply(s, r);
		return ACT_NONE;
	}
	tx_reset(&s->tx);
	session_enter(s, s->helo[0] ? ST_HELO : ST_CONNECTED);
	session_greeting(s);
	return ACT_NONE;
}
