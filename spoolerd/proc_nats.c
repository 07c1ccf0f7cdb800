/*
 * proc_nats.c - NATS: each entry (or each recipient's copy) published
 * into a JetStream stream with libnats; only spoolerd links libnats.
 *
 * The message is the entry as stored: our Received header and the
 * client's data byte-exact (CRLF); with nats_per_recipient one message
 * per recipient, headed by its Return-Path and Delivered-To as the other
 * stores have it (zlib'd when Compressor ran: Content-Encoding: deflate).
 * The NATS headers carry the envelope: X-Queue-Id, X-Envelope-From
 * (empty for the null sender), one X-Envelope-To per recipient (only
 * its own per recipient), X-Client-Ip, X-Helo, and Nats-Msg-Id = the
 * queue id ("<queue id>/<recipient>" per recipient), the same on every
 * attempt: a redelivery after a crash or a lost ack is dropped by the
 * stream's duplicate window.
 *
 * The subject comes from nats_subject (jetstream.c). An entry
 * counts as delivered only when the stream acknowledged every publish
 * (PubAck; a duplicate's ack too). Outcomes:
 *   stream missing, subject bound to no stream or to another one, a
 *   message over the stream's max_msg_size or the server's max_payload:
 *   permanent, with the stream's name and the server's text;
 *   no server, no ack within nats_timeout (capped by gw_save_timeout),
 *   a connection lost, wrong credentials (named by key), anything else:
 *   temporary.
 *
 * One connection per worker (its state), reconnecting by itself across
 * the nats_url servers and those the cluster announces. After a failed
 * connect the worker's next entries fail at once for DOWN_MS, as
 * Webhook and Redis do.
 */
#include "jetstream.h"
#include "log.h"
#include "processor.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOWN_MS 1000

struct nats_st {
	const struct cfg_backend *b;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	long long timeout; /* ms */
	char where[300];   /* the URLs, for reasons */
	char creds[4096];  /* nats_creds_file resolved */
	long long down_until;
	char down_why[PROC_WHY_MAX];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static natsStatus lib_rc = NATS_NOT_INITIALIZED;

/* lib_open - nats_Open, once, with every signal blocked: the library's
 * own threads (timers, callbacks) inherit that mask, so SIGHUP and
 * SIGTERM still reach only spoolerd's signalfd, whichever thread first
 * loaded a NATS config (the main one, before it blocks them) */
static void lib_open(void)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	lib_rc = nats_Open(-1);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* last_error - libnats's text for the last failure of this thread */
static const char *last_error(natsStatus s)
{
	const char *t = nats_GetLastError(NULL), *e;

	if (!t || !t[0])
		return natsStatus_GetText(s);
	/* without libnats's "(js.c:535): " source position */
	e = t[0] == '(' ? strstr(t, "): ") : NULL;
	return e ? e + 3 : t;
}

/* cred_keys - which keys to fix when the server refuses us */
static const char *cred_keys(const struct cfg_backend *b)
{
	if (b->nats_creds_file && b->nats_creds_file[0])
		return "check backend_config.nats_creds_file";
	if (b->nats_user && b->nats_user[0])
		return "check backend_config.nats_user and nats_password_file";
	return "the server wants credentials: set backend_config."
	       "nats_creds_file, or nats_user and nats_password_file";
}

/* urls_check - every nats_url a nats:// or tls:// URL without
 * credentials, all of one kind; *tls set when tls:// */
static int urls_check(const struct cfg_backend *b, int *tls, char *err,
		      size_t n)
{
	size_t i;
	int plain = 0;

	*tls = 0;
	if (!b->nats_url.n) {
		snprintf(err, n, "backend_config.nats_url is empty");
		return -1;
	}
	for (i = 0; i < b->nats_url.n; i++) {
		const char *u = b->nats_url.v[i], *rest;

		if (!strncmp(u, "nats://", 7)) {
			plain = 1;
			rest = u + 7;
		} else if (!strncmp(u, "tls://", 6)) {
			*tls = 1;
			rest = u + 6;
		} else {
			snprintf(err, n, "backend_config.nats_url: \"%.80s\": "
				 "not a nats:// or tls:// URL", u);
			return -1;
		}
		if (!rest[0] || strchr(rest, '@') || strchr(rest, ' ')) {
			snprintf(err, n, "backend_config.nats_url: \"%.80s\": "
				 "want host:port (credentials go in "
				 "nats_user and nats_password_file)",
				 strchr(rest, '@') ? "(hidden)" : u);
			return -1;
		}
	}
	if (plain && *tls) {
		snprintf(err, n, "backend_config.nats_url: all nats:// or "
			 "all tls://, not both");
		return -1;
	}
	return 0;
}

/* name_ok - a stream name: no space, '.', '*', '>' or control byte */
static int name_ok(const char *s)
{
	if (!s || !s[0] || strlen(s) > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '.' ||
		    *s == '*' || *s == '>' || *s == '/' || *s == '\\')
			return 0;
	return 1;
}

/* setup - the config checked and the options built; -1 with err */
static int setup(const struct cfg *cfg, struct nats_st *st, char *err,
		 size_t n)
{
	const struct cfg_backend *b = &cfg->backend;
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	char why[200];
	natsStatus s;
	size_t i, o = 0;
	int tls;

	memset(st, 0, sizeof(*st));
	st->b = b;
	if (urls_check(b, &tls, err, n) < 0)
		return -1;
	if (!name_ok(b->nats_stream)) {
		snprintf(err, n, "backend_config.nats_stream: %s",
			 b->nats_stream && b->nats_stream[0]
				 ? "not a stream name (no space, '.', '*', "
				   "'>')"
				 : "not set (the stream must exist)");
		return -1;
	}
	if (jetstream_subject_check(b->nats_subject, b->nats_per_recipient,
				    why, sizeof(why)) < 0) {
		snprintf(err, n, "backend_config.nats_subject: %s", why);
		return -1;
	}
	if (b->nats_creds_file && b->nats_user) {
		snprintf(err, n, "backend_config.nats_creds_file and "
			 "nats_user: give one, not both");
		return -1;
	}
	if (b->nats_user && !b->nats_password) {
		snprintf(err, n, "backend_config.nats_user needs "
			 "nats_password_file");
		return -1;
	}
	if (b->nats_password && !b->nats_user) {
		snprintf(err, n, "backend_config.nats_password_file needs "
			 "nats_user");
		return -1;
	}
	if (b->nats_creds_file) {
		/* relative: a systemd credential, as the other _file keys */
		if (b->nats_creds_file[0] != '/' && cred && cred[0])
			snprintf(st->creds, sizeof(st->creds), "%s/%s", cred,
				 b->nats_creds_file);
		else
			snprintf(st->creds, sizeof(st->creds), "%s",
				 b->nats_creds_file);
		if (access(st->creds, R_OK) < 0) {
			snprintf(err, n, "backend_config.nats_creds_file: "
				 "%.200s: %s", st->creds, strerror(errno));
			return -1;
		}
	}
	if (b->nats_tls_ca_file && !tls) {
		snprintf(err, n, "backend_config.nats_tls_ca_file: nats_url "
			 "is not tls://");
		return -1;
	}
	if (b->nats_tls_ca_file && access(b->nats_tls_ca_file, R_OK) < 0) {
		snprintf(err, n, "backend_config.nats_tls_ca_file: %.200s: %s",
			 b->nats_tls_ca_file, strerror(errno));
		return -1;
	}
	for (i = 0; i < b->nats_url.n && o + 2 < sizeof(st->where); i++) {
		int w = snprintf(st->where + o, sizeof(st->where) - o,
				 "%s%s", i ? "," : "", b->nats_url.v[i]);

		if (w < 0 || (size_t)w >= sizeof(st->where) - o)
			break;
		o += (size_t)w;
	}
	pthread_once(&lib_once, lib_open);
	if (lib_rc != NATS_OK) {
		snprintf(err, n, "libnats: %s", natsStatus_GetText(lib_rc));
		return -1;
	}
	st->timeout = b->nats_timeout;
	if (b->gw_save_timeout > 0 && st->timeout > b->gw_save_timeout)
		st->timeout = b->gw_save_timeout;
	s = natsOptions_Create(&st->opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(st->opts,
					   (const char **)b->nats_url.v,
					   (int)b->nats_url.n);
	if (s == NATS_OK)
		s = natsOptions_SetName(st->opts, "spoolerd/" SMTPD_VERSION);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(st->opts, st->timeout);
	if (s == NATS_OK) /* the cluster's other nodes while one is gone */
		s = natsOptions_SetMaxReconnect(st->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(st->opts, 250);
	if (s == NATS_OK) /* each publish waits for its ack anyway */
		s = natsOptions_SetSendAsap(st->opts, true);
	if (s == NATS_OK && b->nats_user)
		s = natsOptions_SetUserInfo(st->opts, b->nats_user,
					    b->nats_password);
	if (s == NATS_OK && b->nats_creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(st->opts,
							    st->creds, NULL);
	if (s == NATS_OK && tls)
		s = natsOptions_SetSecure(st->opts, true);
	if (s == NATS_OK && b->nats_tls_ca_file) {
		s = natsOptions_LoadCATrustedCertificates(
			st->opts, b->nats_tls_ca_file);
		if (s != NATS_OK) {
			snprintf(err, n, "backend_config.nats_tls_ca_file: "
				 "%.200s: %s", b->nats_tls_ca_file,
				 last_error(s));
			natsOptions_Destroy(st->opts);
			st->opts = NULL;
			return -1;
		}
	}
	if (s != NATS_OK) {
		snprintf(err, n, "libnats options: %s", last_error(s));
		natsOptions_Destroy(st->opts);
		st->opts = NULL;
		return -1;
	}
	return 0;
}

/* conn_close - the connection and its JetStream context go */
static void conn_close(struct nats_st *st)
{
	jsCtx_Destroy(st->js);
	st->js = NULL;
	if (st->nc) {
		natsConnection_Close(st->nc);
		natsConnection_Destroy(st->nc);
	}
	st->nc = NULL;
}

/* conn_open - a connection and its JetStream context; -1 with why */
static int conn_open(struct nats_st *st, char *why, size_t n)
{
	jsOptions jo;
	natsStatus s;

	s = natsConnection_Connect(&st->nc, st->opts);
	if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED ||
	    (s != NATS_OK && strstr(last_error(s), "uthorization"))) {
		snprintf(why, n, "NATS %s: %s: %s", st->where, last_error(s),
			 cred_keys(st->b));
		st->nc = NULL;
		return -1;
	}
	if (s != NATS_OK) {
		snprintf(why, n, "NATS %s: %s", st->where, last_error(s));
		st->nc = NULL;
		return -1;
	}
	jsOptions_Init(&jo);
	jo.Wait = st->timeout;
	s = natsConnection_JetStream(&st->js, st->nc, &jo);
	if (s != NATS_OK) {
		snprintf(why, n, "NATS %s: JetStream: %s", st->where,
			 last_error(s));
		conn_close(st);
		return -1;
	}
	return 0;
}

/* ready - a connected connection, waiting out a reconnect for at most
 * the timeout; -1 with why */
static int ready(struct nats_st *st, char *why, size_t n)
{
	long long end;

	if (st->nc && natsConnection_IsClosed(st->nc))
		conn_close(st);
	if (!st->nc) {
		if (util_mono_ms() < st->down_until) {
			snprintf(why, n, "%s", st->down_why);
			return -1;
		}
		if (conn_open(st, why, n) < 0) {
			st->down_until = util_mono_ms() + DOWN_MS;
			snprintf(st->down_why, sizeof(st->down_why), "%s",
				 why);
			return -1;
		}
	}
	end = util_mono_ms() + st->timeout;
	while (natsConnection_Status(st->nc) != NATS_CONN_STATUS_CONNECTED) {
		if (util_mono_ms() >= end) {
			snprintf(why, n, "NATS %s: not connected "
				 "(reconnecting)", st->where);
			return -1;
		}
		usleep(20000);
	}
	return 0;
}

/* stream_probe - after "no responders": is the stream missing, or is the
 * subject outside it (PERM), or is the stream between leaders (TEMP)? */
static enum proc_res stream_probe(struct nats_st *st, const char *subj,
				  char *why, size_t n)
{
	const char *name = st->b->nats_stream;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char list[200] = "";
	size_t o = 0;
	int i, bound = 0;

	s = js_GetStreamInfo(&si, st->js, name, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		snprintf(why, n, "NATS %s: stream \"%s\" does not exist "
			 "(backend_config.nats_stream)", st->where, name);
		return PROC_PERM;
	}
	if (s != NATS_OK) {
		snprintf(why, n, "NATS %s: no responders for \"%s\" and no "
			 "stream info for \"%s\": %s", st->where, subj, name,
			 last_error(s));
		return PROC_TEMP;
	}
	for (i = 0; si->Config && i < si->Config->SubjectsLen; i++) {
		int w = snprintf(list + o, sizeof(list) - o, "%s%s",
				 i ? " " : "", si->Config->Subjects[i]);

		if (w > 0 && (size_t)w < sizeof(list) - o)
			o += (size_t)w;
		if (jetstream_subject_match(si->Config->Subjects[i], subj))
			bound = 1;
	}
	jsStreamInfo_Destroy(si);
	if (!bound) {
		snprintf(why, n, "NATS %s: subject \"%s\" is not bound to "
			 "stream \"%s\" (its subjects: %s; "
			 "backend_config.nats_subject)", st->where, subj,
			 name, list);
		return PROC_PERM;
	}
	snprintf(why, n, "NATS %s: stream \"%s\" did not answer for \"%s\" "
		 "(no responders)", st->where, name, subj);
	return PROC_TEMP;
}

/* headers - the envelope onto msg; rcpt < 0: every recipient */
static natsStatus headers(natsMsg *msg, const struct msg *m, long rcpt)
{
	const struct envelope *e = &m->env;
	const char *qid = e->queue_id ? e->queue_id : m->name;
	natsStatus s;
	size_t i;

	s = natsMsgHeader_Set(msg, "Content-Type", "message/rfc822");
	if (s == NATS_OK && rcpt >= 0 && msg_compressed(m))
		s = natsMsgHeader_Set(msg, "Content-Encoding", "deflate");
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "X-Queue-Id", qid ? qid : "");
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "X-Envelope-From",
				      e->sender ? e->sender : "");
	for (i = 0; s == NATS_OK && i < e->nrcpts; i++)
		if (rcpt < 0 || (size_t)rcpt == i)
			s = natsMsgHeader_Add(msg, "X-Envelope-To",
					      e->rcpts[i]);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "X-Client-Ip",
				      e->client_ip ? e->client_ip : "");
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "X-Helo", e->helo ? e->helo : "");
	return s;
}

/* publish - one message, acknowledged by the stream or classified */
static enum proc_res publish(struct nats_st *st, struct msg *m, long rcpt,
			     const char *data, size_t len, char *why,
			     size_t n)
{
	const struct envelope *e = &m->env;
	const char *qid = e->queue_id ? e->queue_id : m->name;
	char subj[JETSTREAM_SUBJECT_MAX], id[700];
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsMsg *msg = NULL;
	natsStatus s;
	enum proc_res res = PROC_TEMP;
	int64_t maxp;
	size_t i;

	if (jetstream_subject(st->b->nats_subject, m, rcpt < 0 ? 0
							       : (size_t)rcpt,
			      subj, sizeof(subj)) < 0) {
		snprintf(why, n, "NATS: subject from nats_subject longer "
			 "than %d bytes", JETSTREAM_SUBJECT_MAX - 1);
		return PROC_PERM;
	}
	if (rcpt < 0)
		snprintf(id, sizeof(id), "%s", qid ? qid : "");
	else
		snprintf(id, sizeof(id), "%s/%s", qid ? qid : "",
			 e->rcpts[rcpt]);
	maxp = natsConnection_GetMaxPayload(st->nc);
	if (len > (size_t)0x7fffffff ||
	    (maxp > 0 && (int64_t)len > maxp)) {
		snprintf(why, n, "NATS %s: message of %zu bytes is larger "
			 "than the server's max_payload (%lld)", st->where,
			 len, (long long)maxp);
		return PROC_PERM;
	}
	s = natsMsg_Create(&msg, subj, NULL, data, (int)len);
	if (s == NATS_OK)
		s = headers(msg, m, rcpt);
	if (s != NATS_OK) {
		snprintf(why, n, "NATS: message: %s", last_error(s));
		natsMsg_Destroy(msg);
		return PROC_TEMP;
	}
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = st->timeout;
	po.ExpectStream = st->b->nats_stream;
	s = js_PublishMsg(&pa, st->js, msg, &po, &jerr);
	natsMsg_Destroy(msg);
	if (s == NATS_OK) {
		if (rcpt >= 0)
			msg_dest(m, (size_t)rcpt, "nats:%s/%llu%s",
				 pa->Stream, (unsigned long long)pa->Sequence,
				 pa->Duplicate ? "(dup)" : "");
		else
			for (i = 0; i < e->nrcpts; i++)
				msg_dest(m, i, "nats:%s/%llu%s", pa->Stream,
					 (unsigned long long)pa->Sequence,
					 pa->Duplicate ? "(dup)" : "");
		jsPubAck_Destroy(pa);
		return PROC_OK;
	}
	if (s == NATS_NO_RESPONDERS)
		return stream_probe(st, subj, why, n);
	switch ((int)jerr) {
	case JSStreamNotFoundErr:
		snprintf(why, n, "NATS %s: stream \"%s\" does not exist: %s",
			 st->where, st->b->nats_stream, last_error(s));
		return PROC_PERM;
	case JSStreamNotMatchErr:
		/* another stream took it: is ours missing? */
		res = stream_probe(st, subj, why, n);
		if (res == PROC_PERM && strstr(why, "does not exist"))
			return res;
		snprintf(why, n, "NATS %s: subject \"%s\" is bound to another "
			 "stream than \"%s\" (backend_config.nats_subject)",
			 st->where, subj, st->b->nats_stream);
		return PROC_PERM;
	case JSStreamMessageExceedsMaximumErr:
	case JSStreamSealedErr:
		res = PROC_PERM;
		break;
	default:
		break;
	}
	if (s == NATS_TIMEOUT) {
		natsStatus ls;
		const char *lt = NULL;

		ls = natsConnection_GetLastError(st->nc, &lt);
		snprintf(why, n, "NATS %s: no ack from stream \"%s\" within "
			 "%lldms%s%s", st->where, st->b->nats_stream,
			 st->timeout, ls == NATS_NOT_PERMITTED ? ": " : "",
			 ls == NATS_NOT_PERMITTED && lt ? lt : "");
		return PROC_TEMP;
	}
	if (jerr)
		snprintf(why, n, "NATS %s: stream \"%s\": %s (error %d)",
			 st->where, st->b->nats_stream, last_error(s),
			 (int)jerr);
	else
		snprintf(why, n, "NATS %s: stream \"%s\": %s", st->where,
			 st->b->nats_stream, last_error(s));
	return res;
}

/* init - the worker's options; connected on the first entry */
static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct nats_st *st = malloc(sizeof(*st));

	if (!st) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (setup(cfg, st, err, n) < 0) {
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

/* fini - the connection and the options go */
static void fini(void *state)
{
	struct nats_st *st = state;

	if (!st)
		return;
	conn_close(st);
	natsOptions_Destroy(st->opts);
	free(st);
}

/* deliver - publish m (or each recipient's copy) and wait for the acks */
static enum proc_res deliver(void *state, struct msg *m, char *why,
			     size_t n)
{
	struct nats_st *st = state;
	enum proc_res res;
	const char *d;
	size_t len, i;

	if (ready(st, why, n) < 0)
		return PROC_TEMP;
	if (!st->b->nats_per_recipient) {
		d = msg_data(m, &len);
		if (!d) {
			snprintf(why, n, "NATS: message: %s", strerror(errno));
			return PROC_TEMP;
		}
		return publish(st, m, -1, d, len, why, n);
	}
	for (i = 0; i < m->env.nrcpts; i++) {
		char *p = msg_payload(m, i, &len);

		if (!p) {
			snprintf(why, n, "NATS: message: %s", strerror(errno));
			return PROC_TEMP;
		}
		res = publish(st, m, (long)i, p, len, why, n);
		free(p);
		/* the copies before were acked: a retry is deduplicated */
		if (res != PROC_OK)
			return res;
	}
	return PROC_OK;
}

/* check - connect (credentials, TLS) and look the stream up */
static int check(const struct cfg *cfg, char *err, size_t n)
{
	struct nats_st st;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc = -1;

	if (setup(cfg, &st, err, n) < 0)
		return -1;
	if (conn_open(&st, err, n) < 0)
		goto out;
	s = js_GetStreamInfo(&si, st.js, st.b->nats_stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		snprintf(err, n, "NATS %s: stream \"%s\" does not exist "
			 "(backend_config.nats_stream)", st.where,
			 st.b->nats_stream);
	} else if (s != NATS_OK) {
		snprintf(err, n, "NATS %s: stream \"%s\": %s", st.where,
			 st.b->nats_stream, last_error(s));
	} else {
		long long dup = si->Config ? si->Config->Duplicates / 1000000
					   : 0;

		/* a retry later than the window is stored twice */
		if (dup < cfg->backend.retry_first)
			log_warnx("NATS: stream \"%s\" deduplicates for "
				  "%llds, less than retry_first (%llds): a "
				  "retry after a lost ack may be stored twice",
				  st.b->nats_stream, dup / 1000,
				  cfg->backend.retry_first / 1000);
		rc = 0;
	}
	jsStreamInfo_Destroy(si);
out:
	conn_close(&st);
	natsOptions_Destroy(st.opts);
	return rc;
}

const struct proc_ops proc_nats = {"NATS", 1, 1, init, deliver, fini, NULL,
				   check};
