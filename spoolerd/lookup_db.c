/*
 * lookup_db.c - the redis: and sql: sources of rcpt_check, run by the
 * lookup pool threads (lookup.c), each with its own connections.
 *
 *   redis:KEY   SISMEMBER KEY <address>, then SISMEMBER KEY @<domain>
 *   sql:QUERY   the query prepared, its one ? bound to the address (never
 *               pasted into the text), then to @<domain>; a row means
 *               found
 *
 * The servers are backend_config's: redis_interface, redis_password,
 * redis_db; sql_dsn (or the seed's mysql_*), the same keys and the same
 * connection code (sql_conn.c) as the Redis and MySQL processors, so the
 * credentials stay in spoolerd. Every wait is bounded by the table's
 * rcpt_check_timeout (MySQL's read timeout counts in whole seconds, at
 * least one). Any failure drops the connection (made again at the next
 * lookup) and answers TEMP with the reason.
 */
#include "lookup.h"
#include "log.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lksrc_init(struct lksrc *s, const struct cfg_backend *b,
               unsigned long gen)
{
	const char *ri = b->redis_interface ? b->redis_interface : "";
	const char *why;

	memset(s, 0, sizeof(*s));
	s->gen = gen;
	snprintf(s->redis_where, sizeof(s->redis_where), "%s", ri);
	if (!strncmp(ri, "unix:", 5) || ri[0] == '/') {
		s->redis_unix = 1;
		snprintf(s->redis_host, sizeof(s->redis_host), "%s",
			 ri[0] == '/' ? ri : ri + 5);
	} else if (util_parse_hostport(ri, strlen(ri), 6379, s->redis_host,
				       sizeof(s->redis_host), &s->redis_port,
				       &why) < 0) {
		s->redis_host[0] = '\0';
	} else if (!s->redis_host[0]) {
		snprintf(s->redis_host, sizeof(s->redis_host), "127.0.0.1");
	}
	if (b->redis_password && b->redis_password[0]) {
		s->redis_pass = strdup(b->redis_password);
		if (!s->redis_pass)
			return -1;
	}
	s->redis_db = b->redis_db;
	s->dsn_ok = sql_dsn_from_cfg(b, &s->dsn, s->dsn_err,
				     sizeof(s->dsn_err)) == 0;
	return 0;
}

void lksrc_free(struct lksrc *s)
{
	if (s->redis_pass) {
		memset(s->redis_pass, 0, strlen(s->redis_pass));
		free(s->redis_pass);
	}
	memset(&s->dsn, 0, sizeof(s->dsn));
	s->redis_pass = NULL;
}

void lkdb_close(struct lkdb *d)
{
	if (d->redis)
		redisFree(d->redis);
	d->redis = NULL;
	if (d->my)
		mysql_close(d->my);
	d->my = NULL;
}

/* same_gen - connections of another config are closed first */
static void same_gen(struct lkdb *d, const struct lksrc *s)
{
	if (d->gen != s->gen) {
		lkdb_close(d);
		d->gen = s->gen;
	}
}

/* tv_ms - milliseconds as a struct timeval */
static struct timeval tv_ms(long long ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* rcmd - one command; the reply, or NULL with why (connection dropped) */
static redisReply *rcmd(struct lkdb *d, const struct lksrc *s, char *why,
                        size_t n, const char *what, const char *fmt,
                        const char *a1, const char *a2)
{
	redisContext *c = d->redis;
	redisReply *r = redisCommand(c, fmt, a1, a2);

	if (!r) {
		snprintf(why, n, "Redis %s: %s: %s", s->redis_where, what,
			 c->errstr[0] ? c->errstr : "no reply");
		lkdb_close(d);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, n, "Redis %s: %s: %.*s", s->redis_where, what,
			 (int)(r->len > 150 ? 150 : r->len), r->str);
		freeReplyObject(r);
		lkdb_close(d);
		return NULL;
	}
	return r;
}

/* rconnect - a ready Redis context; 0, or -1 with why */
static int rconnect(struct lkdb *d, const struct lksrc *s, long long ms,
                    char *why, size_t n)
{
	struct timeval tv = tv_ms(ms);
	redisContext *c;
	redisReply *r;
	char db[32];

	if (!s->redis_host[0]) {
		snprintf(why, n, "redis_interface \"%s\" is not an address",
			 s->redis_where);
		return -1;
	}
	c = s->redis_unix ? redisConnectUnixWithTimeout(s->redis_host, tv)
			  : redisConnectWithTimeout(s->redis_host,
						    (int)s->redis_port, tv);
	if (!c || c->err) {
		snprintf(why, n, "Redis %s: connect: %s", s->redis_where,
			 c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return -1;
	}
	d->redis = c;
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, n, "Redis %s: timeout: %s", s->redis_where,
			 c->errstr);
		lkdb_close(d);
		return -1;
	}
	if (s->redis_pass) {
		r = rcmd(d, s, why, n, "AUTH", "AUTH %s", s->redis_pass, NULL);
		if (!r)
			return -1;
		freeReplyObject(r);
	}
	if (s->redis_db > 0) {
		snprintf(db, sizeof(db), "%ld", s->redis_db);
		r = rcmd(d, s, why, n, "SELECT", "SELECT %s", db, NULL);
		if (!r)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* rmember - SISMEMBER key m: 1, 0, or -1 with why */
static int rmember(struct lkdb *d, const struct lksrc *s, const char *key,
                   const char *m, char *why, size_t n)
{
	redisReply *r = rcmd(d, s, why, n, "SISMEMBER", "SISMEMBER %s %s",
			     key, m);
	int v;

	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER) {
		snprintf(why, n, "Redis %s: SISMEMBER: not an integer reply",
			 s->redis_where);
		freeReplyObject(r);
		return -1;
	}
	v = r->integer ? 1 : 0;
	freeReplyObject(r);
	return v;
}

enum lookup_status lkdb_redis(struct lkdb *d, const struct lksrc *s,
                              const char *key, const char *addr,
                              long long timeout_ms, char *why, size_t n)
{
	const char *at = strrchr(addr, '@');
	int v;

	same_gen(d, s);
	if (!d->redis && rconnect(d, s, timeout_ms, why, n) < 0)
		return LK_TEMP;
	v = rmember(d, s, key, addr, why, n);
	if (v == 0 && at && at != addr)
		v = rmember(d, s, key, at, why, n);
	return v < 0 ? LK_TEMP : v ? LK_FOUND : LK_NOTFOUND;
}

/* squery - the statement with m bound: 1 a row, 0 none, -1 with why */
static int squery(struct lkdb *d, const char *q, const char *m, char *why,
                  size_t n)
{
	MYSQL_STMT *st = mysql_stmt_init(d->my);
	unsigned long len = (unsigned long)strlen(m);
	MYSQL_BIND b;
	int v = -1;

	if (!st) {
		snprintf(why, n, "MySQL: out of memory");
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.buffer_type = MYSQL_TYPE_STRING;
	b.buffer = (void *)m;
	b.buffer_length = len;
	b.length = &len;
	if (mysql_stmt_prepare(st, q, (unsigned long)strlen(q)) ||
	    mysql_stmt_param_count(st) != 1 ||
	    mysql_stmt_bind_param(st, &b) || mysql_stmt_execute(st) ||
	    mysql_stmt_store_result(st)) {
		if (mysql_stmt_errno(st))
			snprintf(why, n, "MySQL: %s", mysql_stmt_error(st));
		else
			snprintf(why, n, "MySQL: the query needs one ?");
	} else {
		v = mysql_stmt_num_rows(st) > 0;
	}
	mysql_stmt_close(st);
	return v;
}

enum lookup_status lkdb_sql(struct lkdb *d, const struct lksrc *s,
                            const char *query, const char *addr,
                            long long timeout_ms, char *why, size_t n)
{
	const char *at = strrchr(addr, '@');
	char err[256];
	int v;

	same_gen(d, s);
	if (!s->dsn_ok) {
		snprintf(why, n, "%s", s->dsn_err);
		return LK_TEMP;
	}
	if (!d->my) {
		d->my = sql_connect(&s->dsn, timeout_ms, err, sizeof(err));
		if (!d->my) {
			char where[400];

			sql_dsn_where(&s->dsn, where, sizeof(where));
			snprintf(why, n, "MySQL %s: %s", where, err);
			return LK_TEMP;
		}
	}
	v = squery(d, query, addr, why, n);
	if (v == 0 && at && at != addr)
		v = squery(d, query, at, why, n);
	if (v < 0) {
		/* a slow query may still run: the connection is given up */
		lkdb_close(d);
		return LK_TEMP;
	}
	return v ? LK_FOUND : LK_NOTFOUND;
}
