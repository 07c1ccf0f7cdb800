/* lookup.h - spoolerd's recipient-lookup service (rcpt_check): the
 * socket the sessions ask (lookup.c), the file table (lookup_file.c) and
 * the Redis and MySQL lookups of its pool threads (lookup_db.c) */
#ifndef LOOKUP_H
#define LOOKUP_H

#include "cfg.h"
#include "lookupproto.h"
#include "sql.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* a hash set of folded addresses and "@domain" entries */
struct lktab {
	char **slot;  /* open addressing, NULL empty */
	size_t cap;   /* a power of two, at least 2 * n */
	size_t n;
	char *arena;  /* the strings, one block */
};

/* lktab_load - parse a recipients file's bytes into t (empty before):
 * one address or "@domain" a line, '#' comments, blank lines, spaces
 * around; case folded. *bad counts lines that are neither (skipped),
 * *first_bad is the first one's number. 0, or -1 out of memory */
int lktab_load(struct lktab *t, const char *buf, size_t len, size_t *bad,
               size_t *first_bad);

/* lktab_has - is key (folded) in t? */
int lktab_has(const struct lktab *t, const char *key);

/* lktab_match - the rcpt_check answer for a folded address: the address
 * itself, else its "@domain" */
int lktab_match(const struct lktab *t, const char *addr);

void lktab_free(struct lktab *t);

/* a file: table, read again when its identity or mtime changes */
struct lkfile {
	char *path;
	struct lktab t;
	int loaded;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int failed_logged;
};

/* lkfile_lookup - LK_FOUND / LK_NOTFOUND, or LK_TEMP with why when the
 * file cannot be read (it is stat'ed each time, reloaded on change) */
enum lookup_status lkfile_lookup(struct lkfile *f, const char *addr,
                                 char *why, size_t n);

void lkfile_free(struct lkfile *f);

/* where the Redis and MySQL tables are (backend_config's redis_* and
 * sql_dsn / mysql_* keys): immutable once made, one per config */
struct lksrc {
	unsigned long gen;
	char redis_where[300];
	char redis_host[256];
	unsigned redis_port;
	int redis_unix;
	char *redis_pass;
	long redis_db;
	struct sql_dsn dsn;
	int dsn_ok;
	char dsn_err[256];
};

/* lksrc_init - fill s from b; 0, or -1 out of memory */
int lksrc_init(struct lksrc *s, const struct cfg_backend *b,
               unsigned long gen);
void lksrc_free(struct lksrc *s);

/* one pool thread's connections, made on first use and again after a
 * failure or when the config changed */
struct lkdb {
	unsigned long gen;
	void *redis; /* redisContext */
	MYSQL *my;
};

/* lkdb_redis - SISMEMBER key addr, then key @domain */
enum lookup_status lkdb_redis(struct lkdb *d, const struct lksrc *s,
                              const char *key, const char *addr,
                              long long timeout_ms, char *why, size_t n);

/* lkdb_sql - the query with addr bound to its ?, then @domain: found
 * when it returns a row */
enum lookup_status lkdb_sql(struct lkdb *d, const struct lksrc *s,
                            const char *query, const char *addr,
                            long long timeout_ms, char *why, size_t n);

void lkdb_close(struct lkdb *d);

/* lookup_start - serve spool_dir/lookup/socket when any servers[] entry
 * has rcpt_check (else nothing); 0, or -1 (logged) */
int lookup_start(const struct cfg *cfg);

/* lookup_reload - the new config's tables, sources and cache times; the
 * service starts if it was not running and is now needed */
void lookup_reload(const struct cfg *cfg);

/* lookup_stop - close the socket, end the threads */
void lookup_stop(void);

#endif
