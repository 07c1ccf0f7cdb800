/* sql.h - the MySQL/MariaDB connection of the SQL processor: DSN
 * parsing, connecting with bounded timeouts, error classes. Exported
 * for the unit tests. */
#ifndef SQL_H
#define SQL_H

#include "cfg.h"

#include <mysql.h>
#include <stddef.h>

struct sql_dsn {
	char user[128];
	char pass[256];
	char host[256];   /* tcp */
	unsigned port;    /* tcp, 3306 by default */
	char sock[256];   /* unix, "" for tcp */
	char db[128];
	char charset[32]; /* utf8mb4 unless ?charset= says otherwise */
};

/* sql_dsn_parse - go-guerrilla's (go-sql-driver's) form
 *   [user[:pass]@][tcp[(host[:port])]|unix(/path)]/db[?k=v&...]
 * 0, or -1 with the reason in err */
int sql_dsn_parse(const char *s, struct sql_dsn *d, char *err, size_t n);

/* sql_dsn_from_cfg - sql_dsn, else the seed's mysql_host/user/pass/db */
int sql_dsn_from_cfg(const struct cfg_backend *b, struct sql_dsn *d,
                     char *err, size_t n);

/* sql_dsn_where - "user@host:port/db" for messages (no password) */
void sql_dsn_where(const struct sql_dsn *d, char *out, size_t n);

/* sql_connect - a connection with connect/read/write timeouts of
 * timeout_ms (at least 1 s); NULL with the server's error in err */
MYSQL *sql_connect(const struct sql_dsn *d, long long timeout_ms, char *err,
                   size_t n);

enum sql_class {
	SQL_E_CONN,   /* no server or connection unusable: drop it, retry */
	SQL_E_TEMP,   /* server busy, full, read-only, lock: retry */
	SQL_E_SCHEMA, /* table or column missing, bad statement: retry a
		       * few times (an admin may be creating it), then fail */
	SQL_E_DATA,   /* a value the schema cannot take: fail the message */
	SQL_E_DUP     /* duplicate key: the row is there already */
};

/* sql_classify - the class of a client or server error number */
enum sql_class sql_classify(unsigned err);

/* sql_ident_ok - a table name we can quote: [A-Za-z0-9_$], one '.' */
int sql_ident_ok(const char *s);

/* sql_addr - the address in a header value ("Name <a@b>" -> "a@b"),
 * into out (cut at n-1); "" when there is none */
void sql_addr(const char *v, char *out, size_t n);

/* sql_text - s into out as valid UTF-8 (bad bytes become '?'), at most
 * lim bytes and never cutting a character; returns the length */
size_t sql_text(const char *s, char *out, size_t lim);

#endif
