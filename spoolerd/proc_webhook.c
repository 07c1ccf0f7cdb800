/*
 * proc_webhook.c - Webhook: one HTTP POST per message to webhook_url,
 * with libcurl (the GnuTLS flavour). Only spoolerd links libcurl.
 *
 * The body is, with webhook_format "raw" (the default), the message as a
 * mailbox gets it: "Return-Path: <sender>", our Received header, then the
 * client's message byte-exact, CRLF line ends, Content-Type
 * message/rfc822; the envelope travels in headers: X-Queue-Id,
 * X-Envelope-From (empty for the null sender), one X-Envelope-To per
 * recipient (an address may hold a comma, so they are not joined),
 * X-Client-Ip, X-Helo. With "json" the body is one JSON object (the
 * envelope fields, then the same bytes as "message" when they are UTF-8
 * text, else as "message_base64"). Delivered-To is per recipient and so
 * not in the body; Compressor does not apply here.
 *
 * Every request carries Idempotency-Key: <queue id>, the same on each
 * attempt of the entry: a retry after a timeout or a crash (the endpoint
 * may have taken the message before we saw its answer) is a duplicate
 * the endpoint can recognise.
 *
 * The answer: 2xx delivered; 4xx permanent but 408 and 429 (temporary;
 * a Retry-After goes into the reason, the retry policy stays ours); 5xx,
 * any other status, a connection error, a TLS error and a timeout
 * (webhook_timeout, capped by gw_save_timeout, for the connect and for
 * the whole request) temporary. Unless delivered, the reason is the
 * status line and the first bytes of the response body, printable.
 * Redirects are not followed (the answer counts as it is: a 3xx is
 * temporary), no proxy from the environment is used.
 *
 * TLS: the peer's certificate and name are always verified, against
 * webhook_ca_file when given (a private CA) instead of the system's
 * store; there is no switch to turn verification off. Authorization:
 * webhook_auth_header or the first line of webhook_auth_header_file
 * (read by cfg.c, a systemd credential when relative).
 *
 * One curl handle per worker (the state), so its connection is kept
 * alive from one message to the next; curl itself reconnects when the
 * endpoint closed it. After a failed connect the endpoint is "down" for
 * DOWN_MS in that worker: its next entries fail at once with the same
 * reason, as Redis does.
 */
#include "log.h"
#include "processor.h"
#include "util.h"
#include "version.h"
#include "webhook.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct resp {
	char status[160];      /* "HTTP/1.1 500 Internal Server Error" */
	char retry_after[80];
	char body[WEBHOOK_BODY_KEEP];
	size_t blen;
};

struct webhook {
	CURL *h;
	int json;
	const char *auth;
	char where[300];
	char errbuf[CURL_ERROR_SIZE];
	struct resp r;
	long long down_until; /* no connection until then: fail fast */
	char down_why[PROC_WHY_MAX];
};

#define DOWN_MS 1000

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* global_init - curl_global_init, once for every worker */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int webhook_text_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], cp, k, need;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += need + 1;
	}
	return 1;
}

void webhook_where(const char *url, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *s = NULL;

	snprintf(out, n, "?");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		util_printable(out, n, s, strlen(s), 250);
	curl_free(s);
	curl_url_cleanup(u);
}

enum proc_res webhook_classify(long code, const char *status,
			       const char *retry_after, const char *body,
			       size_t blen, const char *where, char *why,
			       size_t n)
{
	char st[200], ra[120] = "", text[WEBHOOK_BODY_KEEP * 4 + 8];
	enum proc_res res;

	if (code >= 200 && code <= 299)
		return PROC_OK;
	if (code >= 400 && code <= 499 && code != 408 && code != 429)
		res = PROC_PERM;
	else
		res = PROC_TEMP;
	if (status && status[0])
		util_printable(st, sizeof(st), status, strlen(status), 150);
	else
		snprintf(st, sizeof(st), "HTTP %ld", code);
	if (retry_after && retry_after[0] && res == PROC_TEMP)
		snprintf(ra, sizeof(ra), " (Retry-After: %.80s)", retry_after);
	/* printable: the reason stays one line in the log and failed/ */
	util_printable(text, sizeof(text), body, blen, WEBHOOK_BODY_KEEP);
	snprintf(why, n, "Webhook %s: %s%s%s%s", where, st, ra,
		 blen ? ": " : "", text);
	return res;
}

/* add - one header line onto l: "Name: value", or "Name;" (curl's way
 * to send an empty value); NULL when out of memory (l freed) */
static struct curl_slist *add(struct curl_slist *l, const char *name,
			      const char *value)
{
	size_t len = strlen(name) + strlen(value) + 4;
	struct curl_slist *nl;
	char *line = malloc(len);

	if (!line) {
		curl_slist_free_all(l);
		return NULL;
	}
	if (value[0])
		snprintf(line, len, "%s: %s", name, value);
	else
		snprintf(line, len, "%s;", name);
	nl = curl_slist_append(l, line);
	free(line);
	if (!nl)
		curl_slist_free_all(l);
	return nl;
}

struct curl_slist *webhook_headers(const struct msg *m, int json,
				   const char *auth)
{
	const struct envelope *e = &m->env;
	const char *qid = e->queue_id ? e->queue_id : m->name;
	struct curl_slist *l = NULL;
	size_t i;

	l = add(l, "Content-Type", json ? "application/json"
					: "message/rfc822");
	/* no "Expect: 100-continue" round trip before the body */
	if (l && !curl_slist_append(l, "Expect:")) {
		curl_slist_free_all(l);
		l = NULL;
	}
	if (l)
		l = add(l, "Idempotency-Key", qid ? qid : "");
	if (l)
		l = add(l, "X-Queue-Id", qid ? qid : "");
	if (l)
		l = add(l, "X-Envelope-From", e->sender ? e->sender : "");
	for (i = 0; l && i < e->nrcpts; i++)
		l = add(l, "X-Envelope-To", e->rcpts[i]);
	if (l)
		l = add(l, "X-Client-Ip", e->client_ip ? e->client_ip : "");
	if (l)
		l = add(l, "X-Helo", e->helo ? e->helo : "");
	if (l && auth && auth[0])
		l = add(l, "Authorization", auth);
	return l;
}

/* raw - "Return-Path: <sender>\r\n" and the stored message */
static char *raw(struct msg *m, size_t *len)
{
	const char *s = m->env.sender ? m->env.sender : "";
	size_t dl, hl = strlen(s) + 17;
	const char *d = msg_data(m, &dl);
	char *out;

	if (!d)
		return NULL;
	out = malloc(hl + dl + 1);
	if (!out)
		return NULL;
	snprintf(out, hl + 1, "Return-Path: <%s>\r\n", s);
	memcpy(out + hl, d, dl);
	out[hl + dl] = '\0';
	*len = hl + dl;
	return out;
}

/* add_message - the message into o, as text or as base64 */
static int add_message(cJSON *o, const char *p, size_t len)
{
	gnutls_datum_t in, b64;
	char *s;
	int ok;

	if (webhook_text_ok(p, len))
		return cJSON_AddStringToObject(o, "message", p) ? 0 : -1;
	in.data = (unsigned char *)(uintptr_t)p;
	in.size = (unsigned)len;
	if (len > 0xffffffffu / 2 || gnutls_base64_encode2(&in, &b64) < 0)
		return -1;
	s = malloc(b64.size + 1);
	if (s) {
		memcpy(s, b64.data, b64.size);
		s[b64.size] = '\0';
	}
	gnutls_free(b64.data);
	if (!s)
		return -1;
	ok = cJSON_AddStringToObject(o, "message_base64", s) != NULL;
	free(s);
	return ok ? 0 : -1;
}

/* json_body - the envelope and the message as one JSON object */
static char *json_body(struct msg *m, size_t *len)
{
	const struct envelope *e = &m->env;
	cJSON *o = cJSON_CreateObject(), *rc;
	char *p = NULL, *text;
	size_t i, tl;
	int bad;

	text = raw(m, &tl);
	if (!o || !text)
		goto out;
	bad = !cJSON_AddStringToObject(o, "queue_id",
				       e->queue_id ? e->queue_id : m->name) ||
	      !cJSON_AddStringToObject(o, "sender", e->sender ? e->sender
							      : "");
	rc = bad ? NULL : cJSON_AddArrayToObject(o, "recipients");
	for (i = 0; rc && i < e->nrcpts; i++)
		if (!cJSON_AddItemToArray(rc,
					  cJSON_CreateString(e->rcpts[i])))
			rc = NULL;
	if (!rc ||
	    !cJSON_AddStringToObject(o, "client_ip",
				     e->client_ip ? e->client_ip : "") ||
	    !cJSON_AddNumberToObject(o, "client_port", e->client_port) ||
	    !cJSON_AddStringToObject(o, "helo", e->helo ? e->helo : "") ||
	    !cJSON_AddStringToObject(o, "protocol",
				     e->protocol ? e->protocol : "") ||
	    !cJSON_AddStringToObject(o, "tls", e->tls ? e->tls : "none") ||
	    !cJSON_AddNumberToObject(o, "time", (double)e->time) ||
	    add_message(o, text, tl) < 0)
		goto out;
	p = cJSON_PrintUnformatted(o);
	if (p)
		*len = strlen(p);
out:
	if (!p && !errno)
		errno = ENOMEM;
	free(text);
	cJSON_Delete(o);
	return p;
}

char *webhook_body(struct msg *m, int json, size_t *len)
{
	return json ? json_body(m, len) : raw(m, len);
}

/* on_header - keep the last status line and its Retry-After */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb, len = n;

	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after a 100 Continue): start again */
		util_printable(r->status, sizeof(r->status), p, len, 120);
		r->retry_after[0] = '\0';
		r->blen = 0;
	} else if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		size_t s = 12;

		while (s < len && (p[s] == ' ' || p[s] == '\t'))
			s++;
		util_printable(r->retry_after, sizeof(r->retry_after), p + s,
			       len - s, 60);
	}
	return n;
}

/* on_body - keep the first bytes of the answer, drop the rest */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb, room = sizeof(r->body) - r->blen;

	if (room)
		memcpy(r->body + r->blen, p, n < room ? n : room);
	r->blen += n < room ? n : room;
	return n;
}

/* setup - a handle with everything but the message; NULL with err */
static CURL *setup(const struct cfg *cfg, struct webhook *w, char *err,
		   size_t n)
{
	const struct cfg_backend *b = &cfg->backend;
	long long t = b->webhook_timeout;
	CURLU *u;
	char *scheme = NULL;
	CURL *h;
	int ok;
	size_t i;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(err, n, "curl_global_init: %s",
			 curl_easy_strerror(global_rc));
		return NULL;
	}
	if (!b->webhook_url || !b->webhook_url[0]) {
		snprintf(err, n, "backend_config.webhook_url is empty");
		return NULL;
	}
	u = curl_url();
	ok = u && curl_url_set(u, CURLUPART_URL, b->webhook_url, 0) ==
			  CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	     (!strcmp(scheme, "https") || !strcmp(scheme, "http"));
	curl_free(scheme);
	curl_url_cleanup(u);
	if (!ok) {
		snprintf(err, n, "backend_config.webhook_url: not an http:// "
			 "or https:// URL");
		return NULL;
	}
	if (strcmp(b->webhook_format, "raw") &&
	    strcmp(b->webhook_format, "json")) {
		snprintf(err, n, "backend_config.webhook_format: \"%.40s\": "
			 "want \"raw\" or \"json\"", b->webhook_format);
		return NULL;
	}
	if (b->webhook_ca_file && b->webhook_ca_file[0] &&
	    access(b->webhook_ca_file, R_OK) < 0) {
		snprintf(err, n, "backend_config.webhook_ca_file: %.200s: %s",
			 b->webhook_ca_file, strerror(errno));
		return NULL;
	}
	for (i = 0; b->webhook_auth_header && b->webhook_auth_header[i]; i++)
		if ((unsigned char)b->webhook_auth_header[i] < 0x20 ||
		    b->webhook_auth_header[i] == 0x7f) {
			snprintf(err, n, "backend_config.webhook_auth_header: "
				 "a control character");
			return NULL;
		}
	memset(w, 0, sizeof(*w));
	w->json = !strcmp(b->webhook_format, "json");
	w->auth = b->webhook_auth_header;
	webhook_where(b->webhook_url, w->where, sizeof(w->where));
	/* one attempt never outlasts gw_save_timeout */
	if (b->gw_save_timeout > 0 && t > b->gw_save_timeout)
		t = b->gw_save_timeout;
	h = curl_easy_init();
	if (!h) {
		snprintf(err, n, "curl_easy_init failed");
		return NULL;
	}
	ok = curl_easy_setopt(h, CURLOPT_URL, b->webhook_url) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ==
		     CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)t) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t) ==
		     CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_USERAGENT,
			      "spoolerd/" SMTPD_VERSION) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->errbuf) ==
		     CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) ==
		     CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_HEADERDATA, &w->r) == CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ==
		     CURLE_OK &&
	     curl_easy_setopt(h, CURLOPT_WRITEDATA, &w->r) == CURLE_OK;
	if (ok && b->webhook_ca_file && b->webhook_ca_file[0])
		ok = curl_easy_setopt(h, CURLOPT_CAINFO, b->webhook_ca_file) ==
		     CURLE_OK;
	if (!ok) {
		snprintf(err, n, "libcurl refused an option (too old?)");
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* init - the worker's handle; the config checked */
static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct webhook *w = malloc(sizeof(*w));

	if (!w) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	w->h = setup(cfg, w, err, n);
	if (!w->h) {
		free(w);
		return -1;
	}
	*state = w;
	return 0;
}

/* fini - the handle and its connection go */
static void fini(void *state)
{
	struct webhook *w = state;

	if (!w)
		return;
	curl_easy_cleanup(w->h);
	free(w);
}

/* failed - the reason of a request that got no answer */
static void failed(struct webhook *w, CURLcode rc, char *why, size_t n)
{
	char detail[CURL_ERROR_SIZE * 4];

	util_printable(detail, sizeof(detail), w->errbuf, strlen(w->errbuf),
		       CURL_ERROR_SIZE);
	snprintf(why, n, "Webhook %s: %s%s%s", w->where,
		 curl_easy_strerror(rc), detail[0] ? ": " : "", detail);
}

/* deliver - one POST of m, the answer judged by webhook_classify */
static enum proc_res deliver(void *state, struct msg *m, char *why,
			     size_t n)
{
	struct webhook *w = state;
	struct curl_slist *hdr;
	enum proc_res res;
	size_t len, i;
	long code = 0;
	curl_off_t conn_us = 0;
	CURLcode rc;
	char *body;

	if (util_mono_ms() < w->down_until) {
		snprintf(why, n, "%s", w->down_why);
		return PROC_TEMP;
	}
	errno = 0;
	body = webhook_body(m, w->json, &len);
	if (!body) {
		snprintf(why, n, "Webhook: message: %s", strerror(errno));
		return PROC_TEMP;
	}
	hdr = webhook_headers(m, w->json, w->auth);
	if (!hdr) {
		free(body);
		snprintf(why, n, "Webhook: out of memory");
		return PROC_TEMP;
	}
	memset(&w->r, 0, sizeof(w->r));
	w->errbuf[0] = '\0';
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(w->h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdr);
	free(body);
	if (rc != CURLE_OK) {
		failed(w, rc, why, n);
		/* no connection made (refused, no route, connect timeout):
		 * the next entries of this worker fail at once for a while
		 * instead of waiting out a connect timeout each */
		curl_easy_getinfo(w->h, CURLINFO_CONNECT_TIME_T, &conn_us);
		if (rc == CURLE_COULDNT_CONNECT ||
		    rc == CURLE_COULDNT_RESOLVE_HOST ||
		    (rc == CURLE_OPERATION_TIMEDOUT && conn_us == 0)) {
			w->down_until = util_mono_ms() + DOWN_MS;
			snprintf(w->down_why, sizeof(w->down_why), "%s", why);
		}
		return PROC_TEMP;
	}
	res = webhook_classify(code, w->r.status, w->r.retry_after,
			       w->r.body, w->r.blen, w->where, why, n);
	if (res == PROC_OK)
		for (i = 0; i < m->env.nrcpts; i++)
			msg_dest(m, i, "%s", w->where);
	return res;
}

/* check - connect (and for https, the handshake with its verification)
 * without sending a request */
static int check(const struct cfg *cfg, char *err, size_t n)
{
	struct webhook w;
	CURLcode rc;
	CURL *h = setup(cfg, &w, err, n);

	if (!h)
		return -1;
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		failed(&w, rc, err, n);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -1;
}

const struct proc_ops proc_webhook = {"Webhook", 1, 1, init, deliver, fini,
				      NULL, check};
