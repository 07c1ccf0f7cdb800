/*
 * proc_sql.c - MySQL (alias SQL): one row per recipient in mail_table,
 * with go-guerrilla's columns and values (backends/p_sql.go):
 *
 *   date NOW(), to (To header address, else the recipient), from and
 *   return_path (MAIL FROM), subject (decoded), body ("redis" when Redis
 *   holds the copy, "gzip" after Compressor, else ""), mail ("" when in
 *   Redis, else the copy, compressed or not), spam_score 0, hash,
 *   content_type, recipient, has_attach, ip_addr (4 or 16 bytes, as
 *   INET6_ATON), is_tls, message_id (Message-Id header, else
 *   "<hash>.<user>@<primary_mail_host>"), reply_to, sender.
 *
 * Departures from go-guerrilla, each for idempotency or correctness:
 * `hash` is each recipient's own hash (go-guerrilla writes the first
 * recipient's in every row), so a UNIQUE key on it (conf/sql) makes a
 * retry insert nothing twice: the default statement ends with ON
 * DUPLICATE KEY UPDATE. has_attach is HeadersParser's finding, not 0.
 * Strings are cut at 255 bytes on a UTF-8 boundary and invalid bytes
 * become '?', so a strict server does not refuse a message for its
 * Subject.
 *
 * sql_insert / sql_values replace the statement head and the row, as in
 * go-guerrilla; the row binds go-guerrilla's 14 values in its order (15
 * with has_attach last). With an override, a duplicate-key error on a
 * message alone means its rows are there already: it counts as stored.
 *
 * Batching: the worker hands several ready messages at once
 * (deliver_batch); their rows go in one prepared multi-row INSERT (up to
 * ROWS_MAX rows or BYTES_MAX bytes of values per statement). One
 * statement is atomic, so a message is stored whole or not at all. When
 * a multi-message statement fails for a reason tied to a value, each
 * message is tried alone, so one bad message fails alone.
 *
 * Errors (sql_classify): connection and server trouble (refused, gone
 * away, timeout, access denied, unknown database, lock wait, disk full,
 * read-only) are temporary; a missing table or column or a statement the
 * server cannot parse is temporary for SCHEMA_ATTEMPTS attempts of the
 * entry, then permanent; a value the schema cannot take is permanent.
 * The reason holds the server's text.
 *
 * One connection per worker, made on first use, re-made after an error
 * and after sql_max_conn_lifetime; every wait is bounded by
 * gw_save_timeout (client connect/read/write timeouts). A reused
 * connection that fails is tried once more on a fresh one. After a
 * failed connect the store is "down" for DOWN_MS: the rest of a batch
 * fails fast. sql_max_open_conns and sql_max_idle_conns have no use
 * here: there is one connection per worker (save_workers_size).
 */
#include "log.h"
#include "processor.h"
#include "sql.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_ATTEMPTS 5
#define ROWS_MAX 1000
#define BYTES_MAX (4u << 20)
#define CACHE_ROWS 64
#define DOWN_MS 1000
#define NVALS 15 /* go-guerrilla's 14, then has_attach */

static const char default_cols[] =
	"(`date`, `to`, `from`, `subject`, `body`, `mail`, `spam_score`, "
	"`hash`, `content_type`, `recipient`, `ip_addr`, `return_path`, "
	"`is_tls`, `message_id`, `reply_to`, `sender`, `has_attach`) VALUES ";
static const char default_row[] =
	"(NOW(), ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char default_tail[] = " ON DUPLICATE KEY UPDATE `hash` = `hash`";

struct sqlp {
	const struct cfg *cfg;
	struct sql_dsn dsn;
	char where[400];
	char *head;       /* "INSERT INTO ... VALUES " */
	const char *row;  /* one row of placeholders */
	const char *tail; /* after the rows */
	int overridden;
	long long timeout;
	MYSQL *my;
	long long born;
	MYSQL_STMT *cache[CACHE_ROWS];
	long long down_until;
	char down_why[400];
	int was_down;
};

struct row {
	char to[256], from[256], subject[256], hash[33], ctype[256],
		rcpt[256], mid[256], reply[256], sender[256];
	const char *body;
	unsigned char ip[16];
	size_t ip_len;
	char *mail;
	size_t mail_len;
	signed char tls, attach;
};

struct err {
	unsigned no;
	enum sql_class cls;
	char text[400];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mysql_library_init(0, NULL, NULL);
}

static int setup(const struct cfg *cfg, struct sqlp *s, char *err, size_t n)
{
	const struct cfg_backend *b = &cfg->backend;
	const char *t = b->mail_table;
	size_t hl;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	if (sql_dsn_from_cfg(b, &s->dsn, err, n) < 0)
		return -1;
	sql_dsn_where(&s->dsn, s->where, sizeof(s->where));
	s->timeout = b->gw_save_timeout > 0 ? b->gw_save_timeout : 30000;
	if (b->sql_insert && b->sql_insert[0]) {
		hl = strlen(b->sql_insert) + 2;
		s->head = malloc(hl);
		if (!s->head) {
			snprintf(err, n, "out of memory");
			return -1;
		}
		/* go-guerrilla adds the blank before the rows */
		snprintf(s->head, hl, "%s%s", b->sql_insert,
			 b->sql_insert[hl - 3] == ' ' ? "" : " ");
		s->tail = "";
		s->overridden = 1;
	} else {
		const char *dot;

		if (!sql_ident_ok(t)) {
			snprintf(err, n, "mail_table \"%.100s\": use letters, "
				 "digits, _ and $ (db.table allowed)",
				 t ? t : "");
			return -1;
		}
		dot = strchr(t, '.');
		hl = strlen(t) + sizeof(default_cols) + 32;
		s->head = malloc(hl);
		if (!s->head) {
			snprintf(err, n, "out of memory");
			return -1;
		}
		if (dot)
			snprintf(s->head, hl, "INSERT INTO `%.*s`.`%s` %s",
				 (int)(dot - t), t, dot + 1, default_cols);
		else
			snprintf(s->head, hl, "INSERT INTO `%s` %s", t,
				 default_cols);
		s->tail = default_tail;
	}
	if (b->sql_values && b->sql_values[0]) {
		s->row = b->sql_values;
		s->overridden = 1;
	} else {
		s->row = default_row;
	}
	pthread_once(&lib_once, lib_init);
	return 0;
}

static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct sqlp *s = malloc(sizeof(*s));

	if (!s) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (setup(cfg, s, err, n) < 0) {
		free(s->head);
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static void drop(struct sqlp *s)
{
	size_t i;

	for (i = 0; i < CACHE_ROWS; i++)
		if (s->cache[i])
			mysql_stmt_close(s->cache[i]);
	memset(s->cache, 0, sizeof(s->cache));
	if (s->my)
		mysql_close(s->my);
	s->my = NULL;
}

static void fini(void *state)
{
	struct sqlp *s = state;

	if (!s)
		return;
	drop(s);
	free(s->head);
	free(s);
}

static void set_err(struct err *e, unsigned no, const char *what,
                    const char *text, const struct sqlp *s)
{
	e->no = no;
	e->cls = sql_classify(no);
	snprintf(e->text, sizeof(e->text), "MySQL %s: %s: %s (error %u)",
		 s->where, what, text, no);
}

/* ensure - a live connection; *fresh when made just now */
static int ensure(struct sqlp *s, int *fresh, struct err *e)
{
	long long now = util_mono_ms();
	long long life = s->cfg->backend.sql_max_conn_lifetime;
	char why[300];

	*fresh = 0;
	if (s->my && life > 0 && now - s->born > life)
		drop(s);
	if (s->my)
		return 0;
	if (now < s->down_until) {
		e->cls = SQL_E_CONN;
		e->no = 0;
		snprintf(e->text, sizeof(e->text), "%s", s->down_why);
		return -1;
	}
	s->my = sql_connect(&s->dsn, s->timeout, why, sizeof(why));
	if (!s->my) {
		e->cls = SQL_E_CONN;
		e->no = 0;
		snprintf(e->text, sizeof(e->text), "MySQL %s: connect: %s",
			 s->where, why);
		s->down_until = now + DOWN_MS;
		snprintf(s->down_why, sizeof(s->down_why), "%s", e->text);
		if (!s->was_down)
			log_warnx("%s", e->text);
		s->was_down = 1;
		return -1;
	}
	if (s->was_down)
		log_info("MySQL %s: connected again", s->where);
	s->was_down = 0;
	s->born = now;
	*fresh = 1;
	return 0;
}

/* statement - the prepared INSERT for k rows (cached up to CACHE_ROWS;
 * *own when the caller must close it); NULL with e */
static MYSQL_STMT *statement(struct sqlp *s, size_t k, int *own,
                             struct err *e)
{
	size_t hl = strlen(s->head), rl = strlen(s->row), tl = strlen(s->tail);
	size_t len = hl + k * (rl + 1) + tl + 1, i, o;
	MYSQL_STMT *st;
	char *q;

	*own = k > CACHE_ROWS;
	if (!*own && s->cache[k - 1])
		return s->cache[k - 1];
	q = malloc(len);
	st = mysql_stmt_init(s->my);
	if (!q || !st) {
		free(q);
		if (st)
			mysql_stmt_close(st);
		e->cls = SQL_E_TEMP;
		snprintf(e->text, sizeof(e->text), "MySQL: out of memory");
		return NULL;
	}
	memcpy(q, s->head, hl);
	o = hl;
	for (i = 0; i < k; i++) {
		if (i)
			q[o++] = ',';
		memcpy(q + o, s->row, rl);
		o += rl;
	}
	memcpy(q + o, s->tail, tl);
	o += tl;
	q[o] = '\0';
	if (mysql_stmt_prepare(st, q, (unsigned long)o)) {
		set_err(e, mysql_stmt_errno(st), "prepare INSERT",
			mysql_stmt_error(st), s);
		mysql_stmt_close(st);
		free(q);
		return NULL;
	}
	free(q);
	if (!*own)
		s->cache[k - 1] = st;
	return st;
}

/* ip_bytes - the client address as INET6_ATON stores it */
static size_t ip_bytes(const char *ip, unsigned char *out)
{
	if (ip && inet_pton(AF_INET, ip, out) == 1)
		return 4;
	if (ip && inet_pton(AF_INET6, ip, out) == 1)
		return 16;
	return 0;
}

/* fill - the values for recipient i of m; 0 or -1 (errno) */
static int fill(const struct sqlp *s, struct msg *m, size_t i, struct row *r)
{
	const char *host = s->cfg->backend.primary_mail_host;
	const char *rc = m->env.rcpts[i];
	const struct msg_headers *h = msg_headers(m);
	char tmp[256], user[128];
	size_t ul;

	memset(r, 0, sizeof(*r));
	sql_addr(h->to, tmp, sizeof(tmp));
	sql_text(tmp[0] ? tmp : rc, r->to, 255);
	sql_text(m->env.sender, r->from, 255);
	sql_text(h->subject, r->subject, 255);
	memcpy(r->hash, msg_hash(m, i), sizeof(r->hash));
	sql_text(h->content_type, r->ctype, 255);
	sql_text(rc, r->rcpt, 255);
	sql_addr(h->message_id, tmp, sizeof(tmp));
	if (!tmp[0]) {
		ul = strcspn(rc, "@");
		if (ul >= sizeof(user))
			ul = sizeof(user) - 1;
		memcpy(user, rc, ul);
		user[ul] = '\0';
		snprintf(tmp, sizeof(tmp), "%s.%s@%s", msg_hash(m, i), user,
			 host && *host ? host : m->env.host);
	}
	sql_text(tmp, r->mid, 255);
	sql_addr(h->reply_to, tmp, sizeof(tmp));
	sql_text(tmp, r->reply, 255);
	sql_addr(h->sender, tmp, sizeof(tmp));
	sql_text(tmp, r->sender, 255);
	r->ip_len = ip_bytes(m->env.client_ip, r->ip);
	r->tls = m->env.tls && strcmp(m->env.tls, "none") ? 1 : 0;
	r->attach = h->has_attachment ? 1 : 0;
	if (msg_product(m, PROV_REDIS)) {
		r->body = "redis";
		return 0;
	}
	r->body = msg_compressed(m) ? "gzip" : "";
	r->mail = msg_payload(m, i, &r->mail_len);
	return r->mail ? 0 : -1;
}

static void bind_str(MYSQL_BIND *b, const char *p, size_t len,
                     enum enum_field_types t)
{
	b->buffer_type = t;
	b->buffer = (void *)(uintptr_t)p;
	b->buffer_length = (unsigned long)len;
}

static void bind_tiny(MYSQL_BIND *b, signed char *v)
{
	b->buffer_type = MYSQL_TYPE_TINY;
	b->buffer = v;
}

/* bind_row - go-guerrilla's 14 values in its order, then has_attach */
static void bind_row(MYSQL_BIND *b, struct row *r, size_t np)
{
	bind_str(&b[0], r->to, strlen(r->to), MYSQL_TYPE_STRING);
	bind_str(&b[1], r->from, strlen(r->from), MYSQL_TYPE_STRING);
	bind_str(&b[2], r->subject, strlen(r->subject), MYSQL_TYPE_STRING);
	bind_str(&b[3], r->body, strlen(r->body), MYSQL_TYPE_STRING);
	bind_str(&b[4], r->mail ? r->mail : "", r->mail_len,
		 MYSQL_TYPE_BLOB);
	bind_str(&b[5], r->hash, strlen(r->hash), MYSQL_TYPE_STRING);
	bind_str(&b[6], r->ctype, strlen(r->ctype), MYSQL_TYPE_STRING);
	bind_str(&b[7], r->rcpt, strlen(r->rcpt), MYSQL_TYPE_STRING);
	bind_str(&b[8], (const char *)r->ip, r->ip_len, MYSQL_TYPE_BLOB);
	bind_str(&b[9], r->from, strlen(r->from), MYSQL_TYPE_STRING);
	bind_tiny(&b[10], &r->tls);
	bind_str(&b[11], r->mid, strlen(r->mid), MYSQL_TYPE_STRING);
	bind_str(&b[12], r->reply, strlen(r->reply), MYSQL_TYPE_STRING);
	bind_str(&b[13], r->sender, strlen(r->sender), MYSQL_TYPE_STRING);
	if (np > 14)
		bind_tiny(&b[14], &r->attach);
}

/* exec_rows - one INSERT of k rows; 0 or -1 with e */
static int exec_rows(struct sqlp *s, struct row *rows, size_t k,
                     struct err *e)
{
	MYSQL_STMT *st;
	MYSQL_BIND *b;
	unsigned long pc;
	size_t np, i;
	int own, res = -1;

	st = statement(s, k, &own, e);
	if (!st)
		return -1;
	pc = mysql_stmt_param_count(st);
	np = pc / k;
	if (pc % k || (np != 14 && np != 15)) {
		e->cls = SQL_E_SCHEMA;
		e->no = 0;
		snprintf(e->text, sizeof(e->text),
			 "MySQL %s: sql_values has %zu placeholders, want 14 "
			 "(go-guerrilla's values) or 15 (has_attach last)",
			 s->where, np);
		goto out;
	}
	b = calloc(k * np, sizeof(*b));
	if (!b) {
		e->cls = SQL_E_TEMP;
		snprintf(e->text, sizeof(e->text), "MySQL: out of memory");
		goto out;
	}
	for (i = 0; i < k; i++)
		bind_row(b + i * np, &rows[i], np);
	if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st))
		set_err(e, mysql_stmt_errno(st), "INSERT", mysql_stmt_error(st),
			s);
	else
		res = 0;
	free(b);
out:
	if (own)
		mysql_stmt_close(st);
	else if (res < 0 && e->cls != SQL_E_DUP && e->cls != SQL_E_DATA) {
		/* a statement that failed may be unusable: prepare it again */
		s->cache[k - 1] = NULL;
		mysql_stmt_close(st);
	}
	return res;
}

/* exec_msgs - every row of m[0..n) in as few statements as the limits
 * allow; 0 or -1 with e */
static int exec_msgs(struct sqlp *s, struct msg **m, size_t n,
                     struct err *e)
{
	struct row *rows = NULL;
	size_t total = 0, j, i, k = 0, bytes = 0;
	int res = 0;

	for (j = 0; j < n; j++)
		total += m[j]->env.nrcpts;
	rows = calloc(total < ROWS_MAX ? total : ROWS_MAX, sizeof(*rows));
	if (!rows) {
		e->cls = SQL_E_TEMP;
		snprintf(e->text, sizeof(e->text), "MySQL: out of memory");
		return -1;
	}
	for (j = 0; j < n && res == 0; j++)
		for (i = 0; i < m[j]->env.nrcpts && res == 0; i++) {
			if (fill(s, m[j], i, &rows[k]) < 0) {
				e->cls = SQL_E_TEMP;
				snprintf(e->text, sizeof(e->text),
					 "MySQL: message: %s", strerror(errno));
				res = -1;
				break;
			}
			bytes += rows[k].mail_len + 1024;
			k++;
			if (k == ROWS_MAX || bytes >= BYTES_MAX ||
			    (j == n - 1 && i == m[j]->env.nrcpts - 1)) {
				res = exec_rows(s, rows, k, e);
				while (k)
					free(rows[--k].mail);
				bytes = 0;
			}
		}
	while (k)
		free(rows[--k].mail);
	free(rows);
	return res;
}

/* outcome - what one message alone gets for error e, why its reason */
static enum proc_res outcome(struct msg *m, const struct err *e, char *why,
                             size_t wl)
{
	switch (e->cls) {
	case SQL_E_DUP:
		return PROC_OK;
	case SQL_E_DATA:
		snprintf(why, wl, "%s", e->text);
		return PROC_PERM;
	case SQL_E_SCHEMA:
		if (m->attempts + 1 >= SCHEMA_ATTEMPTS) {
			snprintf(why, wl, "%s (after %u attempts)", e->text,
				 m->attempts + 1);
			return PROC_PERM;
		}
		break;
	default:
		break;
	}
	snprintf(why, wl, "%s", e->text);
	return PROC_TEMP;
}

/* run - store m[0..n): once more on a fresh connection when a reused
 * one broke; alone, one by one, when a value or key was refused */
static void run(struct sqlp *s, struct msg **m, size_t n, enum proc_res *res,
                char **why, size_t wl)
{
	struct err e;
	size_t j;
	int fresh, tries;

	for (tries = 0; tries < 2; tries++) {
		memset(&e, 0, sizeof(e));
		if (ensure(s, &fresh, &e) < 0)
			break;
		if (exec_msgs(s, m, n, &e) == 0) {
			for (j = 0; j < n; j++)
				res[j] = PROC_OK;
			return;
		}
		if (e.cls != SQL_E_CONN)
			break;
		drop(s);
		if (fresh)
			break;
	}
	if (n > 1 && (e.cls == SQL_E_DUP || e.cls == SQL_E_DATA)) {
		for (j = 0; j < n; j++)
			run(s, &m[j], 1, &res[j], &why[j], wl);
		return;
	}
	for (j = 0; j < n; j++)
		res[j] = outcome(m[j], &e, why[j], wl);
	if (n == 1 && e.cls == SQL_E_DUP)
		log_info("%s MySQL: rows already stored (%s)", m[0]->name,
			 e.text);
}

static void deliver_batch(void *state, struct msg **m, size_t n,
                          enum proc_res *res, char **why, size_t wl)
{
	struct sqlp *s = state;
	size_t j, k = 0;
	struct msg **ok = malloc(n * sizeof(*ok));
	enum proc_res *r = malloc(n * sizeof(*r));
	size_t *idx = malloc(n * sizeof(*idx));
	char **okwhy = malloc(n * sizeof(*okwhy));

	if (!ok || !r || !idx || !okwhy) {
		for (j = 0; j < n; j++) {
			res[j] = PROC_TEMP;
			snprintf(why[j], wl, "MySQL: out of memory");
		}
		goto out;
	}
	for (j = 0; j < n; j++) {
		res[j] = PROC_OK;
		if (m[j]->env.nrcpts == 0)
			continue;
		if (!m[j]->rcpt || !msg_hash(m[j], 0)[0]) {
			res[j] = PROC_TEMP;
			snprintf(why[j], wl, "MySQL: no hash (Hasher must run "
				 "before MySQL)");
			continue;
		}
		idx[k] = j;
		okwhy[k] = why[j];
		ok[k++] = m[j];
	}
	if (k)
		run(s, ok, k, r, okwhy, wl);
	for (j = 0; j < k; j++) {
		size_t i;

		res[idx[j]] = r[j];
		for (i = 0; r[j] == PROC_OK && i < ok[j]->env.nrcpts; i++)
			msg_dest(ok[j], i, "mysql:%s", s->cfg->backend.mail_table);
	}
out:
	free(ok);
	free(r);
	free(idx);
	free(okwhy);
}

static enum proc_res deliver(void *state, struct msg *m, char *why,
                             size_t n)
{
	enum proc_res res;

	why[0] = '\0';
	deliver_batch(state, &m, 1, &res, &why, n);
	return res;
}

/* check - connect and prepare the INSERT: the table and every column
 * exist and we may write them */
static int check(const struct cfg *cfg, char *err, size_t n)
{
	struct sqlp s;
	struct err e;
	MYSQL_STMT *st;
	char why[300];
	int own, res = -1;

	if (setup(cfg, &s, err, n) < 0) {
		free(s.head);
		return -1;
	}
	memset(&e, 0, sizeof(e));
	s.my = sql_connect(&s.dsn, s.timeout, why, sizeof(why));
	if (!s.my) {
		snprintf(e.text, sizeof(e.text), "MySQL %s: connect: %s",
			 s.where, why);
	} else {
		st = statement(&s, 1, &own, &e);
		if (st) {
			unsigned long pc = mysql_stmt_param_count(st);

			if (pc == 14 || pc == 15)
				res = 0;
			else
				snprintf(e.text, sizeof(e.text),
					 "MySQL %s: sql_values has %lu "
					 "placeholders, want 14 or 15",
					 s.where, pc);
		}
	}
	if (res < 0) {
		if (e.no == ER_NO_SUCH_TABLE)
			snprintf(err, n, "%s (mail_table \"%.100s\"; see "
				 "conf/sql/)", e.text,
				 cfg->backend.mail_table);
		else if (e.no == ER_TABLEACCESS_DENIED_ERROR)
			snprintf(err, n, "%s (does mail_table \"%.100s\" "
				 "exist, may the user INSERT and UPDATE it?)",
				 e.text, cfg->backend.mail_table);
		else
			snprintf(err, n, "%s", e.text);
	}
	drop(&s);
	free(s.head);
	return res;
}

/* go-guerrilla's name for it, and the generic one: the same processor */
#define SQL_PROC_OPS(nm)                                                       \
	{                                                                      \
		.name = nm, .available = 1, .stores = 1, .init = init,         \
		.deliver = deliver, .fini = fini,                              \
		.deliver_batch = deliver_batch, .check = check,                \
		.needs = PROV_HASH,                                            \
	}
const struct proc_ops proc_mysql = SQL_PROC_OPS("MySQL");
const struct proc_ops proc_sql = SQL_PROC_OPS("SQL");
