/*
 * proc_amqp.c - AMQP: each message (or each recipient's copy, with
 * amqp_per_recipient) published to a RabbitMQ (AMQP 0-9-1) exchange with
 * librabbitmq. Only spoolerd links librabbitmq.
 *
 * Contract: the entry counts as delivered only after the broker has
 * confirmed every publish of it (publisher confirms: confirm.select on
 * the channel, then basic.ack for each delivery tag). Messages are
 * persistent (delivery_mode 2), so a durable queue keeps them across a
 * broker restart; message_id is the queue id ("<queue id>/<recipient>"
 * per recipient), the same on every attempt: a retry after a lost
 * confirm or a kill -9 may publish a copy again, always under the same
 * message_id, which is what consumers deduplicate by. mandatory is set,
 * so a message no queue is bound for comes back (basic.return) instead
 * of being dropped.
 *
 * The body is the message as a mailbox gets it: "Return-Path: <sender>"
 * (and per recipient Delivered-To, the delivery headers other stores
 * write), our Received header, then the client's message byte-exact with
 * CRLF line ends; content_type message/rfc822; the envelope travels in
 * the headers table: X-Queue-Id, X-Envelope-From, X-Envelope-To (an
 * array: every recipient, or the one of this copy), X-Client-Ip, X-Helo.
 * Compressor does not apply.
 *
 * Outcomes: basic.ack delivered; basic.return (no route) permanent with
 * the broker's text; a channel closed by the broker with 404 (the
 * exchange does not exist) or 406 permanent naming the exchange, other
 * codes temporary; basic.nack, a refused or lost connection, a broker
 * shutting down and no confirm within amqp_timeout (capped by
 * gw_save_timeout) temporary. A refused login is temporary too (the
 * operator fixes amqp_user or amqp_password_file, the mail waits) and
 * its reason names both keys.
 *
 * Batches: a worker's entries (up to sql_batch_size, as deliver.c hands
 * them to every processor with deliver_batch) are published one after
 * the other and their confirms awaited together, so one wait (and one
 * broker fsync) covers them all; each entry still gets its own outcome:
 * a returned message is found by its message_id, a channel error voids
 * what was not acked yet (permanent for the publishes to the exchange it
 * names, temporary for the others).
 *
 * One connection and one channel per worker (the state), opened on the
 * first message and kept; a connection the broker closed while we were
 * idle (a restart) is noticed before publishing and opened again. After
 * a failed connect the broker is "down" for DOWN_MS in that worker: its
 * next entries fail at once with the same reason, as Webhook does.
 */
#include "proc_amqp.h"
#include "processor.h"
#include "util.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DOWN_MS 1000
#define CHANNEL 1
#define FRAME_MAX 131072
#define SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"

struct amqp {
	struct amqp_where w;
	const char *user, *pass, *pass_key, *ex, *rk, *ca;
	int per_rcpt;
	long long timeout; /* ms: connect, login, one deliver's confirms */
	amqp_connection_state_t c;
	int chan_open;
	uint64_t tag; /* the last delivery tag used on the channel */
	long long down_until;
	char down_why[PROC_WHY_MAX];
};

int proc_amqp_parse_url(const char *url, struct amqp_where *w, char *err,
			size_t n)
{
	struct amqp_connection_info ci;
	const char *auth, *end;
	char *copy;
	int rc;

	memset(w, 0, sizeof(*w));
	if (!url || !url[0]) {
		snprintf(err, n, "backend_config.amqp_url is empty");
		return -1;
	}
	auth = strstr(url, "://");
	if (auth) {
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		if (memchr(auth, '@', (size_t)(end - auth))) {
			snprintf(err, n, "backend_config.amqp_url: no user or "
				 "password in the URL: give amqp_user and "
				 "amqp_password_file");
			return -1;
		}
	}
	copy = strdup(url);
	if (!copy) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	rc = amqp_parse_url(copy, &ci);
	if (rc != AMQP_STATUS_OK || !ci.host[0] || ci.port <= 0 ||
	    ci.port > 65535 || strlen(ci.host) >= sizeof(w->host) ||
	    strlen(ci.vhost) >= sizeof(w->vhost)) {
		free(copy);
		snprintf(err, n, "backend_config.amqp_url: not an amqp:// or "
			 "amqps:// URL (amqp://host:port/vhost)");
		return -1;
	}
	if (!ci.vhost[0]) {
		free(copy);
		snprintf(err, n, "backend_config.amqp_url: the vhost is "
			 "empty: leave the path out for \"/\" (or write "
			 "%%2f)");
		return -1;
	}
	w->tls = ci.ssl ? 1 : 0;
	w->port = ci.port;
	snprintf(w->host, sizeof(w->host), "%s", ci.host);
	snprintf(w->vhost, sizeof(w->vhost), "%s", ci.vhost);
	free(copy);
	snprintf(w->text, sizeof(w->text), "%s://%s:%d/%s",
		 w->tls ? "amqps" : "amqp", w->host, w->port,
		 strcmp(w->vhost, "/") ? w->vhost : "%2f");
	return 0;
}

int proc_amqp_check_template(const char *key, const char *tmpl, char *err,
			     size_t n)
{
	const char *p = tmpl;

	for (p = strchr(p, '{'); p; p = strchr(p + 1, '{'))
		if (strncmp(p, "{user}", 6) && strncmp(p, "{domain}", 8)) {
			snprintf(err, n, "backend_config.%s: \"%.60s\": only "
				 "{user} and {domain} can be replaced", key,
				 tmpl);
			return -1;
		}
	if (strlen(tmpl) > AMQP_NAME_MAX) {
		snprintf(err, n, "backend_config.%s: longer than %d bytes",
			 key, AMQP_NAME_MAX);
		return -1;
	}
	return 0;
}

/* put - one byte of a placeholder's value, escaped; -1 when full */
static int put(char *out, size_t *o, size_t outsize, unsigned char c,
	       int dot)
{
	static const char hex[] = "0123456789ABCDEF";

	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_' || c == '+' || c == '=' || (c == '.' && dot)) {
		if (*o + 1 >= outsize)
			return -1;
		out[(*o)++] = (char)c;
		return 0;
	}
	if (*o + 3 >= outsize)
		return -1;
	out[(*o)++] = '%';
	out[(*o)++] = hex[c >> 4];
	out[(*o)++] = hex[c & 15];
	return 0;
}

int proc_amqp_expand(const char *tmpl, const char *addr, const char *dflt,
		     char *out, size_t outsize, const char **why)
{
	const char *at = strrchr(addr, '@'), *p, *v;
	size_t o = 0, ulen, dlen, i, lim;
	int bad = 0;

	ulen = at ? (size_t)(at - addr) : strlen(addr);
	if (!dflt)
		dflt = "";
	dlen = at ? strlen(at + 1) : strlen(dflt);
	lim = outsize < AMQP_NAME_MAX + 1 ? outsize : AMQP_NAME_MAX + 1;
	for (p = tmpl; *p && !bad; p++) {
		if (!strncmp(p, "{user}", 6)) {
			for (i = 0; i < ulen && !bad; i++)
				bad = put(out, &o, lim,
					  (unsigned char)addr[i], 0) < 0;
			p += 5;
		} else if (!strncmp(p, "{domain}", 8)) {
			v = at ? at + 1 : dflt;
			for (i = 0; i < dlen && !bad; i++)
				bad = put(out, &o, lim, (unsigned char)v[i],
					  1) < 0;
			p += 7;
		} else if (o + 1 < lim) {
			out[o++] = *p;
		} else {
			bad = 1;
		}
	}
	out[o] = '\0';
	if (bad) {
		*why = "longer than 255 bytes";
		return -1;
	}
	return 0;
}

/* str_val - a longstr field value */
static amqp_field_value_t str_val(const char *s)
{
	amqp_field_value_t v;

	v.kind = AMQP_FIELD_KIND_UTF8;
	v.value.bytes = amqp_cstring_bytes(s ? s : "");
	return v;
}

int proc_amqp_prepare(const struct msg *m, long r, const char *ex_tmpl,
		      const char *rk_tmpl, struct amqp_pub *p, char *why,
		      size_t n)
{
	const struct envelope *e = &m->env;
	const char *qid = e->queue_id ? e->queue_id : m->name;
	const char *dflt = m->cfg ? m->cfg->backend.primary_mail_host : NULL;
	const char *addr = r >= 0 ? e->rcpts[r]
				  : e->nrcpts ? e->rcpts[0] : "";
	const char *w = NULL;
	size_t i, nto = r >= 0 ? 1 : e->nrcpts;
	int k;

	memset(p, 0, sizeof(*p));
	if (!qid)
		qid = "";
	errno = 0;
	if (proc_amqp_expand(ex_tmpl, addr, dflt, p->exchange,
			     sizeof(p->exchange), &w) < 0) {
		snprintf(why, n, "AMQP: amqp_exchange for <%.100s>: %s", addr,
			 w);
		return -1;
	}
	if (proc_amqp_expand(rk_tmpl, addr, dflt, p->rkey, sizeof(p->rkey),
			     &w) < 0) {
		snprintf(why, n, "AMQP: amqp_routing_key for <%.100s>: %s",
			 addr, w);
		return -1;
	}
	if (r < 0)
		k = snprintf(p->msgid, sizeof(p->msgid), "%s", qid);
	else
		k = snprintf(p->msgid, sizeof(p->msgid), "%s/%s", qid, addr);
	if (k < 0 || (size_t)k >= sizeof(p->msgid))
		snprintf(p->msgid, sizeof(p->msgid), "%.200s/%ld", qid, r);
	p->to = calloc(nto ? nto : 1, sizeof(*p->to));
	if (!p->to) {
		snprintf(why, n, "AMQP: out of memory");
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nto; i++)
		p->to[i] = str_val(r >= 0 ? e->rcpts[r] : e->rcpts[i]);
	p->hdr[0].key = amqp_cstring_bytes("X-Queue-Id");
	p->hdr[0].value = str_val(qid);
	p->hdr[1].key = amqp_cstring_bytes("X-Envelope-From");
	p->hdr[1].value = str_val(e->sender);
	p->hdr[2].key = amqp_cstring_bytes("X-Envelope-To");
	p->hdr[2].value.kind = AMQP_FIELD_KIND_ARRAY;
	p->hdr[2].value.value.array.num_entries = (int)nto;
	p->hdr[2].value.value.array.entries = p->to;
	p->hdr[3].key = amqp_cstring_bytes("X-Client-Ip");
	p->hdr[3].value = str_val(e->client_ip);
	p->hdr[4].key = amqp_cstring_bytes("X-Helo");
	p->hdr[4].value = str_val(e->helo);
	p->props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
			  AMQP_BASIC_DELIVERY_MODE_FLAG |
			  AMQP_BASIC_MESSAGE_ID_FLAG |
			  AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG |
			  AMQP_BASIC_APP_ID_FLAG;
	p->props.content_type = amqp_cstring_bytes("message/rfc822");
	p->props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p->props.message_id = amqp_cstring_bytes(p->msgid);
	p->props.timestamp = e->time > 0 ? (uint64_t)e->time : 0;
	p->props.app_id = amqp_cstring_bytes("spoolerd");
	p->props.headers.num_entries = 5;
	p->props.headers.entries = p->hdr;
	return 0;
}

void proc_amqp_pub_free(struct amqp_pub *p)
{
	free(p->to);
	p->to = NULL;
}

char *proc_amqp_body(struct msg *m, long r, size_t *len)
{
	const char *s = m->env.sender ? m->env.sender : "";
	char rp[340];
	const char *head = rp;

	if (r >= 0)
		head = msg_head(m, (size_t)r);
	else
		snprintf(rp, sizeof(rp), "Return-Path: <%.320s>\r\n", s);
	if (!head)
		return NULL;
	return msg_with_head(m, head, len);
}

enum proc_res proc_amqp_close_class(int code)
{
	switch (code) {
	case 312: /* NO_ROUTE */
	case 404: /* NOT_FOUND */
	case 406: /* PRECONDITION_FAILED: too big, ... */
		return PROC_PERM;
	default:
		return PROC_TEMP;
	}
}

/* tv_ms - ms as a timeval */
static struct timeval tv_ms(long long ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	return tv;
}

/* text - s[0..len) printable, for a reason */
static void text(char *out, size_t n, amqp_bytes_t b)
{
	util_printable(out, n, b.bytes ? b.bytes : "", b.len, 200);
}

/* rpc_why - what an RPC reply says; the broker's code in *code (0 for a
 * library error) */
static void rpc_why(amqp_rpc_reply_t r, char *out, size_t n, int *code)
{
	char t[900];

	*code = 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		snprintf(out, n, "%s", amqp_error_string2(r.library_error));
	} else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		   r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		const amqp_connection_close_t *c = r.reply.decoded;

		text(t, sizeof(t), c->reply_text);
		*code = c->reply_code;
		snprintf(out, n, "%s", t);
	} else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		   r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		const amqp_channel_close_t *c = r.reply.decoded;

		text(t, sizeof(t), c->reply_text);
		*code = c->reply_code;
		snprintf(out, n, "%s", t);
	} else {
		snprintf(out, n, "no reply");
	}
}

/* conn_drop - the connection goes, without a close handshake */
static void conn_drop(struct amqp *a)
{
	if (a->c)
		amqp_destroy_connection(a->c);
	a->c = NULL;
	a->chan_open = 0;
	a->tag = 0;
}

/* chan_open - channel 1 in confirm mode; 0, or -1 with why */
static int chan_open(struct amqp *a, char *why, size_t n)
{
	amqp_rpc_reply_t r;
	char t[700];
	int code;

	amqp_channel_open(a->c, CHANNEL);
	r = amqp_get_rpc_reply(a->c);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		amqp_confirm_select(a->c, CHANNEL);
		r = amqp_get_rpc_reply(a->c);
	}
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		rpc_why(r, t, sizeof(t), &code);
		snprintf(why, n, "AMQP %s: channel: %s", a->w.text, t);
		conn_drop(a);
		return -1;
	}
	a->chan_open = 1;
	a->tag = 0;
	return 0;
}

/* conn_open - connect, log in, open the channel; 0, or -1 with why */
static int conn_open(struct amqp *a, char *why, size_t n)
{
	struct timeval tv = tv_ms(a->timeout);
	amqp_socket_t *s;
	amqp_rpc_reply_t r;
	char t[700];
	int rc, code, fd;

	a->c = amqp_new_connection();
	if (!a->c) {
		snprintf(why, n, "AMQP: out of memory");
		return -1;
	}
	s = a->w.tls ? amqp_ssl_socket_new(a->c) : amqp_tcp_socket_new(a->c);
	if (!s) {
		snprintf(why, n, "AMQP %s: cannot make a %s socket", a->w.text,
			 a->w.tls ? "TLS" : "TCP");
		conn_drop(a);
		return -1;
	}
	if (a->w.tls) {
		const char *ca = a->ca ? a->ca : SYSTEM_CAS;

		amqp_ssl_socket_set_verify_peer(s, 1);
		amqp_ssl_socket_set_verify_hostname(s, 1);
		if (amqp_ssl_socket_set_cacert(s, ca) != AMQP_STATUS_OK) {
			snprintf(why, n, "AMQP %s: backend_config."
				 "amqp_tls_ca_file: %.200s: cannot load",
				 a->w.text, ca);
			conn_drop(a);
			return -1;
		}
	}
	rc = amqp_socket_open_noblock(s, a->w.host, a->w.port, &tv);
	if (rc != AMQP_STATUS_OK) {
		snprintf(why, n, "AMQP %s: connect: %s", a->w.text,
			 amqp_error_string2(rc));
		conn_drop(a);
		a->down_until = util_mono_ms() + DOWN_MS;
		snprintf(a->down_why, sizeof(a->down_why), "%s", why);
		return -1;
	}
	amqp_set_handshake_timeout(a->c, &tv);
	amqp_set_rpc_timeout(a->c, &tv);
	/* a broker that stops reading (a memory alarm) cannot hold a
	 * publish past the timeout */
	fd = amqp_get_sockfd(a->c);
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = amqp_login(a->c, a->w.vhost, 0, FRAME_MAX, 0,
		       AMQP_SASL_METHOD_PLAIN, a->user,
		       a->pass ? a->pass : "");
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		rpc_why(r, t, sizeof(t), &code);
		if (code == 403 ||
		    (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		     r.library_error == AMQP_STATUS_CONNECTION_CLOSED))
			snprintf(why, n, "AMQP %s: login refused for user "
				 "\"%.100s\" (check backend_config.amqp_user "
				 "and backend_config.%s): %s", a->w.text,
				 a->user, a->pass_key, t);
		else if (code == 530)
			snprintf(why, n, "AMQP %s: vhost \"%.100s\" "
				 "(backend_config.amqp_url): %s", a->w.text,
				 a->w.vhost, t);
		else
			snprintf(why, n, "AMQP %s: login: %s", a->w.text, t);
		conn_drop(a);
		return -1;
	}
	return chan_open(a, why, n);
}

/* setup - the settings from cfg into a; 0, or -1 with err */
static int setup(const struct cfg *cfg, struct amqp *a, char *err,
		 size_t n)
{
	const struct cfg_backend *b = &cfg->backend;

	memset(a, 0, sizeof(*a));
	if (proc_amqp_parse_url(b->amqp_url, &a->w, err, n) < 0)
		return -1;
	if (!b->amqp_user || !b->amqp_user[0]) {
		snprintf(err, n, "backend_config.amqp_user is empty");
		return -1;
	}
	if (proc_amqp_check_template("amqp_exchange", b->amqp_exchange, err,
				     n) < 0 ||
	    proc_amqp_check_template("amqp_routing_key", b->amqp_routing_key,
				     err, n) < 0)
		return -1;
	if (b->amqp_tls_ca_file && b->amqp_tls_ca_file[0] &&
	    access(b->amqp_tls_ca_file, R_OK) < 0) {
		snprintf(err, n, "backend_config.amqp_tls_ca_file: %.200s: %s",
			 b->amqp_tls_ca_file, strerror(errno));
		return -1;
	}
	a->user = b->amqp_user;
	a->pass = b->amqp_password;
	a->pass_key = b->amqp_password_file ? "amqp_password_file"
					    : "amqp_password";
	a->ex = b->amqp_exchange;
	a->rk = b->amqp_routing_key;
	a->ca = b->amqp_tls_ca_file && b->amqp_tls_ca_file[0]
			? b->amqp_tls_ca_file
			: NULL;
	a->per_rcpt = b->amqp_per_recipient;
	a->timeout = b->amqp_timeout;
	/* one attempt never outlasts gw_save_timeout */
	if (b->gw_save_timeout > 0 && a->timeout > b->gw_save_timeout)
		a->timeout = b->gw_save_timeout;
	return 0;
}

/* init - the worker's settings; the connection comes with the first
 * message */
static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct amqp *a = malloc(sizeof(*a));

	if (!a) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (setup(cfg, a, err, n) < 0) {
		free(a);
		return -1;
	}
	*state = a;
	return 0;
}

/* fini - close the channel and the connection politely */
static void fini(void *state)
{
	struct amqp *a = state;

	if (!a)
		return;
	if (a->c)
		(void)amqp_connection_close(a->c, AMQP_REPLY_SUCCESS);
	conn_drop(a);
	free(a);
}

/* stale - did the broker close the idle connection (a restart sends
 * connection.close, then FIN)? Anything readable between deliveries is
 * that, or a heartbeat. */
static int stale(struct amqp *a)
{
	struct pollfd pfd;
	struct timeval tv = tv_ms(0);
	amqp_frame_t f;
	int rc;

	pfd.fd = amqp_get_sockfd(a->c);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (!amqp_frames_enqueued(a->c) && !amqp_data_in_buffer(a->c) &&
	    (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0))
		return 0;
	for (;;) {
		rc = amqp_simple_wait_frame_noblock(a->c, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			return 0;
		if (rc != AMQP_STATUS_OK)
			return 1;
		if (f.frame_type == AMQP_FRAME_METHOD &&
		    (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
		     f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD))
			return 1;
	}
}

/* one publish of a batch */
struct unit {
	size_t msg; /* index into the batch */
	long rcpt;  /* -1: the whole message */
	unsigned char st; /* 0 pending, 1 acked, 2 nacked */
	char msgid[AMQP_NAME_MAX + 1];
	char exchange[AMQP_NAME_MAX + 1];
	char rkey[AMQP_NAME_MAX + 1];
};

/* a batch's publishes, their delivery tags first.., and the outcome of
 * each message with its reason */
struct batch {
	struct msg **m;
	size_t nm;
	struct unit *u;
	size_t nu, sent, done;
	uint64_t first;
	enum proc_res *res;
	char **why; /* the reason of each message, whylen bytes */
	size_t whylen;
	int lost, timed_out, heard; /* heard: an ack, nack or return */
};

/* set - message i's result, keeping the worse one and its reason */
static void set(struct batch *b, size_t i, enum proc_res res,
		const char *why)
{
	if (b->res[i] == PROC_PERM ||
	    (b->res[i] == PROC_TEMP && res != PROC_PERM))
		return;
	b->res[i] = res;
	snprintf(b->why[i], b->whylen, "%s", why);
}

/* pending - every publish not acked yet gets res and why */
static void pending(struct batch *b, enum proc_res res, const char *why)
{
	size_t k;

	for (k = 0; k < b->sent; k++)
		if (b->u[k].st != 1)
			set(b, b->u[k].msg, res, why);
}

/* mark - basic.ack or basic.nack of tag (and those before: multiple) */
static void mark(struct amqp *a, struct batch *b, uint64_t tag,
		 int multiple, unsigned char how)
{
	char r[PROC_WHY_MAX];
	size_t k;

	for (k = 0; k < b->sent; k++) {
		uint64_t t = b->first + k;

		if (b->u[k].st || t > tag || (!multiple && t != tag))
			continue;
		b->u[k].st = how;
		b->done++;
		if (how == 2) {
			snprintf(r, sizeof(r), "AMQP %s: the broker refused "
				 "the message (basic.nack)", a->w.text);
			set(b, b->u[k].msg, PROC_TEMP, r);
		}
	}
	b->heard = 1;
}

/* returned - a basic.return: its message, found by message_id */
static int returned(struct amqp *a, struct batch *b,
		    const amqp_basic_return_t *k, amqp_channel_t ch)
{
	char r[PROC_WHY_MAX], t[700], rk[700], ex[700];
	amqp_message_t msg;
	amqp_rpc_reply_t rr;
	size_t i;

	text(t, sizeof(t), k->reply_text);
	text(ex, sizeof(ex), k->exchange);
	text(rk, sizeof(rk), k->routing_key);
	snprintf(r, sizeof(r), "AMQP %s: exchange \"%s\" routing key \"%s\": "
		 "returned: %u %s", a->w.text, ex, rk, k->reply_code, t);
	/* the returned message's header and body follow */
	rr = amqp_read_message(a->c, ch, &msg, 0);
	if (rr.reply_type != AMQP_RESPONSE_NORMAL)
		return -1;
	b->heard = 1;
	for (i = 0; i < b->sent; i++) {
		amqp_bytes_t id = msg.properties.message_id;

		if ((msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
		    id.len == strlen(b->u[i].msgid) &&
		    !memcmp(id.bytes, b->u[i].msgid, id.len)) {
			set(b, b->u[i].msg,
			    proc_amqp_close_class(k->reply_code), r);
			break;
		}
	}
	amqp_destroy_message(&msg);
	return 0;
}

/* chan_closed - the broker closed the channel: what was not acked is
 * void; permanent for the publishes to the exchange its text names
 * ("no exchange 'x'") when the code is, temporary for the others */
static void chan_closed(struct amqp *a, struct batch *b,
			const amqp_channel_close_t *k, amqp_channel_t ch)
{
	amqp_channel_close_ok_t ok;
	char r[PROC_WHY_MAX], t[700], q[AMQP_NAME_MAX + 3];
	enum proc_res cls = proc_amqp_close_class(k->reply_code);
	size_t i;

	text(t, sizeof(t), k->reply_text);
	for (i = 0; i < b->sent; i++) {
		if (b->u[i].st == 1)
			continue;
		snprintf(q, sizeof(q), "'%s'", b->u[i].exchange);
		snprintf(r, sizeof(r), "AMQP %s: exchange \"%s\": %u %s",
			 a->w.text, b->u[i].exchange, k->reply_code, t);
		set(b, b->u[i].msg,
		    cls == PROC_PERM && strstr(t, q) ? PROC_PERM : PROC_TEMP,
		    r);
	}
	memset(&ok, 0, sizeof(ok));
	(void)amqp_send_method(a->c, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	a->chan_open = 0;
}

/* wait_confirms - read frames until every publish is acked or nacked,
 * the channel or connection closes, or the deadline passes */
static void wait_confirms(struct amqp *a, struct batch *b,
			  long long deadline)
{
	char r[PROC_WHY_MAX], t[700];

	while (b->done < b->sent) {
		long long left = deadline - util_mono_ms();
		struct timeval tv = tv_ms(left);
		amqp_frame_t f;
		int rc;

		if (left <= 0) {
			snprintf(r, sizeof(r), "AMQP %s: no confirm within "
				 "amqp_timeout (%lld ms)", a->w.text,
				 a->timeout);
			pending(b, PROC_TEMP, r);
			b->lost = b->timed_out = 1;
			return;
		}
		rc = amqp_simple_wait_frame_noblock(a->c, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			continue;
		if (rc != AMQP_STATUS_OK) {
			snprintf(r, sizeof(r), "AMQP %s: connection lost "
				 "waiting for the confirm: %s", a->w.text,
				 amqp_error_string2(rc));
			pending(b, PROC_TEMP, r);
			b->lost = 1;
			return;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			const amqp_basic_ack_t *k = f.payload.method.decoded;

			mark(a, b, k->delivery_tag, k->multiple, 1);
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			const amqp_basic_nack_t *k = f.payload.method.decoded;

			mark(a, b, k->delivery_tag, k->multiple, 2);
			break;
		}
		case AMQP_BASIC_RETURN_METHOD:
			if (returned(a, b, f.payload.method.decoded,
				     f.channel) < 0) {
				snprintf(r, sizeof(r), "AMQP %s: connection "
					 "lost reading a returned message",
					 a->w.text);
				pending(b, PROC_TEMP, r);
				b->lost = 1;
				return;
			}
			break;
		case AMQP_CHANNEL_CLOSE_METHOD:
			chan_closed(a, b, f.payload.method.decoded, f.channel);
			return;
		case AMQP_CONNECTION_CLOSE_METHOD: {
			const amqp_connection_close_t *k =
				f.payload.method.decoded;
			amqp_connection_close_ok_t ok;

			text(t, sizeof(t), k->reply_text);
			snprintf(r, sizeof(r), "AMQP %s: connection closed by "
				 "the broker: %u %s", a->w.text,
				 k->reply_code, t);
			pending(b, PROC_TEMP, r);
			memset(&ok, 0, sizeof(ok));
			(void)amqp_send_method(a->c, 0,
					       AMQP_CONNECTION_CLOSE_OK_METHOD,
					       &ok);
			b->lost = 1;
			return;
		}
		default:
			break;
		}
	}
}

/* publish - unit k of the batch on the open channel; 0, or -1 with the
 * message's result set */
static int publish(struct amqp *a, struct batch *b, size_t k)
{
	struct unit *u = &b->u[k];
	struct msg *m = b->m[u->msg];
	struct amqp_pub p;
	char why[PROC_WHY_MAX], *body;
	size_t len;
	int rc;

	if (proc_amqp_prepare(m, u->rcpt, a->ex, a->rk, &p, why,
			      sizeof(why)) < 0) {
		set(b, u->msg, errno ? PROC_TEMP : PROC_PERM, why);
		return -1;
	}
	memcpy(u->msgid, p.msgid, sizeof(u->msgid));
	memcpy(u->exchange, p.exchange, sizeof(u->exchange));
	memcpy(u->rkey, p.rkey, sizeof(u->rkey));
	errno = 0;
	body = proc_amqp_body(m, u->rcpt, &len);
	if (!body) {
		snprintf(why, sizeof(why), "AMQP: message: %s",
			 strerror(errno));
		set(b, u->msg, PROC_TEMP, why);
		proc_amqp_pub_free(&p);
		return -1;
	}
	rc = amqp_basic_publish(a->c, CHANNEL, amqp_cstring_bytes(p.exchange),
				amqp_cstring_bytes(p.rkey), 1, 0, &p.props,
				(amqp_bytes_t){len, body});
	free(body);
	proc_amqp_pub_free(&p);
	if (rc != AMQP_STATUS_OK) {
		snprintf(why, sizeof(why), "AMQP %s: publish: %s", a->w.text,
			 amqp_error_string2(rc));
		b->lost = 1;
		return -2;
	}
	a->tag++;
	b->sent = k + 1;
	return 0;
}

/* run - publish every unit of the batch whose message is still going,
 * then wait for the confirms */
static void run(struct amqp *a, struct batch *b, long long deadline)
{
	char why[PROC_WHY_MAX];
	size_t k;

	b->first = a->tag + 1;
	b->sent = b->done = 0;
	b->lost = b->timed_out = b->heard = 0;
	for (k = 0; k < b->nu; k++) {
		int rc = publish(a, b, k);

		if (rc == -2) {
			snprintf(why, sizeof(why), "AMQP %s: connection lost "
				 "publishing", a->w.text);
			for (; k < b->nu; k++)
				set(b, b->u[k].msg, PROC_TEMP, why);
			break;
		}
		if (rc < 0) {
			/* a unit that is not sent leaves a hole in the
			 * tags: the ones after it go in a later round */
			break;
		}
	}
	if (!b->lost)
		wait_confirms(a, b, deadline);
	if (b->lost)
		conn_drop(a);
}

/* deliver_many - the batch m[0..n): every publish, then the confirms;
 * res[i] for each, the reason in why[i] */
static void deliver_many(struct amqp *a, struct msg **m, size_t n,
			 enum proc_res *res, char **why, size_t whylen)
{
	long long deadline = util_mono_ms() + a->timeout;
	struct batch b;
	size_t i, j, nu = 0, k;
	int attempt, fresh;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < n; i++) {
		res[i] = PROC_OK;
		why[i][0] = '\0';
		nu += a->per_rcpt ? m[i]->env.nrcpts : 1;
	}
	b.m = m;
	b.nm = n;
	b.res = res;
	b.why = why;
	b.whylen = whylen;
	b.u = calloc(nu ? nu : 1, sizeof(*b.u));
	if (!b.u) {
		for (i = 0; i < n; i++)
			set(&b, i, PROC_TEMP, "AMQP: out of memory");
		return;
	}
	for (i = 0, k = 0; i < n; i++) {
		size_t units = a->per_rcpt ? m[i]->env.nrcpts : 1;

		if (!units)
			set(&b, i, PROC_PERM, "AMQP: no recipients");
		for (j = 0; j < units; j++, k++) {
			b.u[k].msg = i;
			b.u[k].rcpt = a->per_rcpt ? (long)j : -1;
		}
	}
	b.nu = k;
	for (attempt = 0; attempt < 2; attempt++) {
		char cw[PROC_WHY_MAX];

		if (a->c && stale(a))
			conn_drop(a);
		fresh = !a->c;
		cw[0] = '\0';
		if (!a->c && util_mono_ms() < a->down_until) {
			snprintf(cw, sizeof(cw), "%s", a->down_why);
		} else if (!a->c) {
			(void)conn_open(a, cw, sizeof(cw));
		} else if (!a->chan_open) {
			(void)chan_open(a, cw, sizeof(cw));
		}
		if (cw[0]) {
			for (i = 0; i < n; i++)
				set(&b, i, PROC_TEMP, cw);
			break;
		}
		run(a, &b, deadline);
		if (a->c)
			amqp_maybe_release_buffers(a->c);
		/* a kept connection that turned out dead before the broker
		 * said anything: once more on a new one */
		if (!(b.lost && !b.timed_out && !b.heard && !fresh))
			break;
		for (i = 0; i < n; i++)
			res[i] = PROC_OK;
	}
	/* units not sent (a hole after a failed prepare) are temporary */
	for (k = b.sent; k < b.nu; k++)
		set(&b, b.u[k].msg, PROC_TEMP, "AMQP: not sent with the "
		    "others; tried again");
	for (k = 0; k < b.sent; k++)
		if (res[b.u[k].msg] == PROC_OK) {
			struct unit *u = &b.u[k];
			size_t r;

			if (u->rcpt >= 0) {
				msg_dest(m[u->msg], (size_t)u->rcpt,
					 "%s#%s:%s", a->w.text, u->exchange,
					 u->rkey);
				continue;
			}
			for (r = 0; r < m[u->msg]->env.nrcpts; r++)
				msg_dest(m[u->msg], r, "%s#%s:%s", a->w.text,
					 u->exchange, u->rkey);
		}
	free(b.u);
}

/* deliver - a batch of one */
static enum proc_res deliver(void *state, struct msg *m, char *why,
			     size_t n)
{
	enum proc_res res;
	char *w[1];

	w[0] = why;
	deliver_many(state, &m, 1, &res, w, n);
	return res;
}

/* deliver_batch - the entries of a worker's batch, published together
 * so that one wait covers all their confirms */
static void deliver_batch(void *state, struct msg **m, size_t n,
			  enum proc_res *res, char **why, size_t whylen)
{
	deliver_many(state, m, n, res, why, whylen);
}

/* check - connect, log in, open the confirm channel; and when the
 * exchange is one fixed name, that it exists */
static int check(const struct cfg *cfg, char *err, size_t n)
{
	struct amqp a;
	amqp_rpc_reply_t r;
	char t[700];
	int code, ret = 0;

	if (setup(cfg, &a, err, n) < 0)
		return -1;
	if (conn_open(&a, err, n) < 0)
		return -1;
	if (a.ex[0] && !strchr(a.ex, '{')) {
		amqp_exchange_declare(a.c, CHANNEL, amqp_cstring_bytes(a.ex),
				      amqp_cstring_bytes("topic"), 1, 0, 0, 0,
				      amqp_empty_table);
		r = amqp_get_rpc_reply(a.c);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			rpc_why(r, t, sizeof(t), &code);
			snprintf(err, n, "AMQP %s: exchange \"%.100s\" "
				 "(backend_config.amqp_exchange): %s",
				 a.w.text, a.ex, t);
			ret = -1;
		}
	}
	if (a.c)
		(void)amqp_connection_close(a.c, AMQP_REPLY_SUCCESS);
	conn_drop(&a);
	return ret;
}

const struct proc_ops proc_amqp = {"AMQP", 1, 1, init, deliver, fini,
				   deliver_batch, check};
