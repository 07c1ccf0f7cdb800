/*
 * proc_redis.c - Redis: each recipient's copy (delivery headers, our
 * Received header, the message; zlib-compressed after Compressor) under
 * its Hasher hash, with SETEX redis_expire_seconds, as go-guerrilla's
 * Redis processor. The key is redis_key_prefix + hash. go-guerrilla
 * stores one key, the first recipient's hash; here every recipient has
 * its own key and its own Delivered-To, so the `hash` of each MySQL row
 * finds its copy.
 *
 * Idempotent: the hash is made from the queue id, so a retry writes the
 * same keys with the same bytes (SETEX overwrites, and renews the TTL).
 *
 * One connection per worker (the state), made on first use: TCP
 * "host:port" ("[v6]:port") or a unix socket ("/path" or "unix:/path"),
 * then AUTH redis_password and SELECT redis_db. Timeouts:
 * redis_connect_timeout for the connect, redis_timeout per command, both
 * capped by gw_save_timeout. Any failure (refused, timeout, AUTH,
 * LOADING, OOM, READONLY, a lost connection) is temporary: the context is
 * dropped and made again next time. A reused connection that fails is
 * tried once more on a fresh one (the server restarted while we idled).
 * After a failed connect the store is "down" for DOWN_MS, so a batch of
 * entries fails fast instead of waiting out one connect timeout each.
 */
#include "log.h"
#include "processor.h"
#include "util.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOWN_MS 1000
#define FLUSH_BYTES (4u << 20) /* pipeline at most this much unanswered */

struct redis {
	const struct cfg_backend *b;
	char where[300];  /* for messages: "127.0.0.1:6379" */
	char host[256];
	int port;
	int unix_sock;
	struct timeval ct, t;
	redisContext *c;
	long long down_until;
	char down_why[300];
	int was_down;
};

static struct timeval tv_ms(long long ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* parse_iface - redis_interface into r; 0 or -1 with err */
static int parse_iface(struct redis *r, const char *s, char *err, size_t n)
{
	const char *why;
	unsigned port;

	snprintf(r->where, sizeof(r->where), "%.200s", s);
	if (!strncmp(s, "unix:", 5))
		s += 5;
	if (s[0] == '/') {
		if (snprintf(r->host, sizeof(r->host), "%s", s) >=
		    (int)sizeof(r->host)) {
			snprintf(err, n, "redis_interface: path too long");
			return -1;
		}
		r->unix_sock = 1;
		return 0;
	}
	if (util_parse_hostport(s, strlen(s), 0, r->host, sizeof(r->host),
				&port, &why) < 0)
		goto bad;
	if (!r->host[0]) {
		why = "no host";
		goto bad;
	}
	r->port = (int)port;
	return 0;
bad:
	snprintf(err, n, "redis_interface: \"%.100s\": %s; want host:port, "
		 "[addr]:port or /path/to/socket", s, why);
	return -1;
}

static int setup(const struct cfg *cfg, struct redis *r, char *err,
                 size_t n)
{
	const struct cfg_backend *b = &cfg->backend;
	long long ct = b->redis_connect_timeout, t = b->redis_timeout;

	memset(r, 0, sizeof(*r));
	r->b = b;
	if (!b->redis_interface || !b->redis_interface[0]) {
		snprintf(err, n, "redis_interface is empty");
		return -1;
	}
	if (parse_iface(r, b->redis_interface, err, n) < 0)
		return -1;
	/* one delivery attempt never outlasts gw_save_timeout */
	if (b->gw_save_timeout > 0 && ct > b->gw_save_timeout)
		ct = b->gw_save_timeout;
	if (b->gw_save_timeout > 0 && t > b->gw_save_timeout)
		t = b->gw_save_timeout;
	r->ct = tv_ms(ct);
	r->t = tv_ms(t);
	return 0;
}

static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct redis *r = malloc(sizeof(*r));

	if (!r) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (setup(cfg, r, err, n) < 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static void drop(struct redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

static void fini(void *state)
{
	struct redis *r = state;

	if (!r)
		return;
	drop(r);
	free(r);
}

/* command - one command and its reply; 0, or -1 with err (the context
 * is dropped when it is broken) */
static int command(struct redis *r, char *err, size_t n, const char *what,
                   const char *fmt, const char *arg)
{
	redisReply *rep = arg ? redisCommand(r->c, fmt, arg)
			      : redisCommand(r->c, fmt);
	int ok;

	if (!rep) {
		snprintf(err, n, "Redis %s: %s: %s", r->where, what,
			 r->c->errstr[0] ? r->c->errstr : "no reply");
		drop(r);
		return -1;
	}
	ok = rep->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(err, n, "Redis %s: %s: %.*s", r->where, what,
			 (int)(rep->len > 300 ? 300 : rep->len), rep->str);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* rconnect - a ready context in r->c; 0, or -1 with err */
static int rconnect(struct redis *r, char *err, size_t n)
{
	char db[32];

	r->c = r->unix_sock ? redisConnectUnixWithTimeout(r->host, r->ct)
			    : redisConnectWithTimeout(r->host, r->port, r->ct);
	if (!r->c || r->c->err) {
		snprintf(err, n, "Redis %s: connect: %s", r->where,
			 r->c ? r->c->errstr : "out of memory");
		drop(r);
		return -1;
	}
	if (redisSetTimeout(r->c, r->t) != REDIS_OK) {
		snprintf(err, n, "Redis %s: timeout: %s", r->where,
			 r->c->errstr);
		drop(r);
		return -1;
	}
	if (!r->unix_sock)
		redisEnableKeepAlive(r->c);
	if (r->b->redis_password && r->b->redis_password[0] &&
	    command(r, err, n, "AUTH", "AUTH %s", r->b->redis_password) < 0) {
		drop(r);
		return -1;
	}
	snprintf(db, sizeof(db), "%ld", r->b->redis_db);
	if (r->b->redis_db > 0 &&
	    command(r, err, n, "SELECT", "SELECT %s", db) < 0) {
		drop(r);
		return -1;
	}
	return 0;
}

/* ensure - a connection, or TEMP with the reason; *fresh says whether it
 * was made just now */
static int ensure(struct redis *r, int *fresh, char *why, size_t n)
{
	long long now = util_mono_ms();

	*fresh = 0;
	if (r->c)
		return 0;
	if (now < r->down_until) {
		snprintf(why, n, "%s", r->down_why);
		return -1;
	}
	if (rconnect(r, why, n) < 0) {
		r->down_until = now + DOWN_MS;
		snprintf(r->down_why, sizeof(r->down_why), "%s", why);
		if (!r->was_down)
			log_warnx("%s", why);
		r->was_down = 1;
		return -1;
	}
	if (r->was_down)
		log_info("Redis %s: connected again", r->where);
	r->was_down = 0;
	*fresh = 1;
	return 0;
}

/* store - SETEX every recipient's copy, pipelined; 0, -1 (error reply,
 * connection kept) or -2 (connection broken) with why */
static int store(struct redis *r, struct msg *m, char *why, size_t n)
{
	const char *pre = r->b->redis_key_prefix ? r->b->redis_key_prefix : "";
	size_t sent = 0, got = 0, pending = 0;
	int res = 0;

	while (got < m->env.nrcpts) {
		redisReply *rep = NULL;

		while (sent < m->env.nrcpts && pending < FLUSH_BYTES) {
			char key[512];
			size_t len;
			char *p = msg_payload(m, sent, &len);
			int kl;

			if (!p) {
				snprintf(why, n, "Redis: message: %s",
					 strerror(errno));
				drop(r); /* replies still due: start over */
				return -2;
			}
			kl = snprintf(key, sizeof(key), "%.400s%s", pre,
				      msg_hash(m, sent));
			redisAppendCommand(r->c, "SETEX %b %ld %b", key,
					   (size_t)kl,
					   r->b->redis_expire_seconds, p, len);
			free(p);
			pending += len;
			sent++;
		}
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep) {
			snprintf(why, n, "Redis %s: SETEX: %s", r->where,
				 r->c->errstr[0] ? r->c->errstr : "no reply");
			drop(r);
			return -2;
		}
		if (rep->type == REDIS_REPLY_ERROR && res == 0) {
			snprintf(why, n, "Redis %s: SETEX: %.*s", r->where,
				 (int)(rep->len > 300 ? 300 : rep->len),
				 rep->str);
			res = -1;
		}
		freeReplyObject(rep);
		got++;
		if (got == sent)
			pending = 0;
	}
	return res;
}

static enum proc_res deliver(void *state, struct msg *m, char *why,
                             size_t n)
{
	struct redis *r = state;
	int fresh, tries, res = -2;

	if (!m->rcpt || m->env.nrcpts == 0 || !msg_hash(m, 0)[0]) {
		snprintf(why, n, "Redis: no hash (Hasher must run before "
			 "Redis)");
		return PROC_TEMP;
	}
	for (tries = 0; tries < 2 && res == -2; tries++) {
		if (ensure(r, &fresh, why, n) < 0)
			return PROC_TEMP;
		res = store(r, m, why, n);
		if (res == -2 && fresh)
			break; /* a new connection failed: no second try */
	}
	if (res < 0)
		return PROC_TEMP;
	/* SQL after it then stores "redis" as the body */
	msg_provide(m, PROV_REDIS, r);
	{
		const char *pre = r->b->redis_key_prefix ?
					  r->b->redis_key_prefix : "";
		size_t i;

		for (i = 0; i < m->env.nrcpts; i++)
			msg_dest(m, i, "redis:%s%s", pre, msg_hash(m, i));
	}
	return PROC_OK;
}

/* check - connect, AUTH, SELECT, PING */
static int check(const struct cfg *cfg, char *err, size_t n)
{
	struct redis r;
	int res = -1;

	if (setup(cfg, &r, err, n) < 0)
		return -1;
	if (rconnect(&r, err, n) == 0 &&
	    command(&r, err, n, "PING", "PING", NULL) == 0)
		res = 0;
	drop(&r);
	return res;
}

const struct proc_ops proc_redis = {
	.name = "Redis",
	.available = 1,
	.stores = 1,
	.init = init,
	.deliver = deliver,
	.fini = fini,
	.check = check,
	.needs = PROV_HASH,
	.provides = PROV_REDIS,
};
