/*
 * sql_conn.c - what the SQL processor needs from MariaDB Connector/C:
 * the DSN in go-guerrilla's form, a connection whose every wait is
 * bounded, and the class of an error (retry, retry a few times, fail).
 */
#include "sql.h"
#include "util.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* parse_hostport - "host", "host:port", "[v6]:port"; no host is
 * 127.0.0.1, no port 3306. key names the config key in messages. */
static int parse_hostport(struct sql_dsn *d, const char *key, const char *s,
                          size_t len, char *err, size_t n)
{
	const char *why;

	if (util_parse_hostport(s, len, 3306, d->host, sizeof(d->host),
				&d->port, &why) < 0) {
		snprintf(err, n, "%s: address \"%.*s\": %s", key,
			 (int)(len > 100 ? 100 : len), s, why);
		return -1;
	}
	if (!d->host[0])
		snprintf(d->host, sizeof(d->host), "127.0.0.1");
	return 0;
}

int sql_dsn_parse(const char *s, struct sql_dsn *d, char *err, size_t n)
{
	const char *rp = strrchr(s, ')'), *at, *slash, *q, *net;
	size_t i, plen;

	memset(d, 0, sizeof(*d));
	snprintf(d->charset, sizeof(d->charset), "utf8mb4");
	/* the database follows the first '/' after the address: after the
	 * closing parenthesis, else after the last '@' */
	at = NULL;
	for (i = rp ? (size_t)(rp - s) : strlen(s); i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	slash = strchr(rp ? rp : at ? at : s, '/');
	if (!slash) {
		snprintf(err, n, "sql_dsn: no \"/dbname\" in it");
		return -1;
	}
	if (at && at > slash)
		at = NULL;
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ul = colon ? (size_t)(colon - s) : (size_t)(at - s);

		if (copy(d->user, sizeof(d->user), s, ul) < 0 ||
		    (colon && copy(d->pass, sizeof(d->pass), colon + 1,
				   (size_t)(at - colon - 1)) < 0)) {
			snprintf(err, n, "sql_dsn: user or password too long");
			return -1;
		}
		net = at + 1;
	} else {
		net = s;
	}
	plen = (size_t)(slash - net);
	if (plen == 0 || (plen == 3 && !strncmp(net, "tcp", 3))) {
		snprintf(d->host, sizeof(d->host), "127.0.0.1");
		d->port = 3306;
	} else if (plen > 5 && !strncmp(net, "tcp(", 4) && net[plen - 1] == ')') {
		if (parse_hostport(d, "sql_dsn", net + 4, plen - 5, err, n) <
		    0)
			return -1;
	} else if (plen > 6 && !strncmp(net, "unix(", 5) &&
		   net[plen - 1] == ')') {
		if (copy(d->sock, sizeof(d->sock), net + 5, plen - 6) < 0) {
			snprintf(err, n, "sql_dsn: socket path too long");
			return -1;
		}
	} else {
		snprintf(err, n, "sql_dsn: \"%.*s\": want tcp(host:port) or "
			 "unix(/path)", (int)(plen > 100 ? 100 : plen), net);
		return -1;
	}
	q = strchr(slash, '?');
	if (copy(d->db, sizeof(d->db), slash + 1,
		 q ? (size_t)(q - slash - 1) : strlen(slash + 1)) < 0) {
		snprintf(err, n, "sql_dsn: database name too long");
		return -1;
	}
	while (q && *q) {
		const char *k = q + 1, *amp = strchr(k, '&');
		size_t kl = amp ? (size_t)(amp - k) : strlen(k);

		if (kl > 8 && !strncmp(k, "charset=", 8)) {
			size_t vl = strcspn(k + 8, ",&");

			if (copy(d->charset, sizeof(d->charset), k + 8, vl) <
			    0) {
				snprintf(err, n, "sql_dsn: charset too long");
				return -1;
			}
		}
		/* other go-sql-driver parameters (parseTime, timeouts,
		 * collation ...) have no meaning here: gw_save_timeout
		 * bounds the waits */
		q = amp;
	}
	return 0;
}

int sql_dsn_from_cfg(const struct cfg_backend *b, struct sql_dsn *d,
                     char *err, size_t n)
{
	const char *h = b->mysql_host;

	if (b->sql_driver && b->sql_driver[0] &&
	    strcmp(b->sql_driver, "mysql") && strcmp(b->sql_driver, "mariadb")) {
		snprintf(err, n, "sql_driver \"%.60s\": only \"mysql\" is "
			 "supported", b->sql_driver);
		return -1;
	}
	if (b->sql_dsn && b->sql_dsn[0])
		return sql_dsn_parse(b->sql_dsn, d, err, n);
	/* the seed's keys */
	memset(d, 0, sizeof(*d));
	snprintf(d->charset, sizeof(d->charset), "utf8mb4");
	if (copy(d->user, sizeof(d->user), b->mysql_user ? b->mysql_user : "",
		 b->mysql_user ? strlen(b->mysql_user) : 0) < 0 ||
	    copy(d->pass, sizeof(d->pass), b->mysql_pass ? b->mysql_pass : "",
		 b->mysql_pass ? strlen(b->mysql_pass) : 0) < 0 ||
	    copy(d->db, sizeof(d->db), b->mysql_db ? b->mysql_db : "",
		 b->mysql_db ? strlen(b->mysql_db) : 0) < 0) {
		snprintf(err, n, "mysql_user, mysql_pass or mysql_db too long");
		return -1;
	}
	if (!d->db[0]) {
		snprintf(err, n, "neither sql_dsn nor mysql_db is set");
		return -1;
	}
	if (h && h[0] == '/') {
		if (copy(d->sock, sizeof(d->sock), h, strlen(h)) < 0) {
			snprintf(err, n, "mysql_host: path too long");
			return -1;
		}
		return 0;
	}
	if (parse_hostport(d, "mysql_host", h ? h : "", h ? strlen(h) : 0,
			   err, n) < 0)
		return -1;
	return 0;
}

void sql_dsn_where(const struct sql_dsn *d, char *out, size_t n)
{
	if (d->sock[0])
		snprintf(out, n, "%.60s@unix(%.150s)/%.60s", d->user, d->sock,
			 d->db);
	else
		snprintf(out, n, "%.60s@%.100s:%u/%.60s", d->user, d->host,
			 d->port, d->db);
}

MYSQL *sql_connect(const struct sql_dsn *d, long long timeout_ms, char *err,
                   size_t n)
{
	unsigned int t = (unsigned int)((timeout_ms + 999) / 1000);
	MYSQL *my = mysql_init(NULL);
	my_bool off = 0;

	if (!my) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	if (t == 0)
		t = 1;
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(my, MYSQL_SET_CHARSET_NAME, d->charset);
	if (!d->sock[0]) {
		unsigned int proto = MYSQL_PROTOCOL_TCP;

		mysql_options(my, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (!mysql_real_connect(my, d->sock[0] ? NULL : d->host, d->user,
				d->pass, d->db, d->sock[0] ? 0 : d->port,
				d->sock[0] ? d->sock : NULL, 0)) {
		snprintf(err, n, "%s", mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

enum sql_class sql_classify(unsigned e)
{
	switch (e) {
	case ER_DUP_ENTRY:
		return SQL_E_DUP;
	case ER_NO_SUCH_TABLE:
	case ER_BAD_FIELD_ERROR:
	case ER_PARSE_ERROR:
	case ER_WRONG_VALUE_COUNT_ON_ROW:
	case ER_UNKNOWN_TABLE:
	case ER_WRONG_ARGUMENTS:
	case ER_BAD_TABLE_ERROR:
		return SQL_E_SCHEMA;
	case ER_DATA_TOO_LONG:
	case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
	case ER_BAD_NULL_ERROR:
	case ER_WARN_DATA_OUT_OF_RANGE:
	case ER_TRUNCATED_WRONG_VALUE:
	case WARN_DATA_TRUNCATED:
	case ER_NO_DEFAULT_FOR_FIELD:
	case ER_INVALID_CHARACTER_STRING:
	case ER_NET_PACKET_TOO_LARGE:
		return SQL_E_DATA;
	case ER_CON_COUNT_ERROR:
	case ER_TOO_MANY_USER_CONNECTIONS:
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_NEW_ABORTING_CONNECTION:
	case ER_ABORTING_CONNECTION:
	case ER_HOST_IS_BLOCKED:
	case ER_UNKNOWN_STMT_HANDLER:
		return SQL_E_CONN;
	default:
		break;
	}
	if (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR)
		return SQL_E_CONN;
	if (e == 4031) /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8) */
		return SQL_E_CONN;
	/* lock waits, deadlocks, disk or table full, read-only, denied
	 * INSERT, storage engine errors and anything unknown: retry */
	return SQL_E_TEMP;
}

int sql_ident_ok(const char *s)
{
	int dots = 0;
	const char *p;

	if (!s || !*s || strlen(s) > 128)
		return 0;
	for (p = s; *p; p++) {
		if (*p == '.') {
			if (++dots > 1 || p == s || !p[1] || p[1] == '.')
				return 0;
		} else if (!((*p >= 'a' && *p <= 'z') ||
			     (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '_' ||
			     *p == '$')) {
			return 0;
		}
	}
	return 1;
}

void sql_addr(const char *v, char *out, size_t n)
{
	const char *s, *e;

	out[0] = '\0';
	if (!v || n == 0)
		return;
	s = strchr(v, '<');
	if (s) {
		s++;
		e = strchr(s, '>');
		if (!e)
			return;
	} else {
		s = v + strspn(v, " \t");
		e = s + strcspn(s, ", \t(;");
	}
	if (e == s || !memchr(s, '@', (size_t)(e - s)))
		return;
	if ((size_t)(e - s) >= n)
		e = s + n - 1;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
}

/* utf8_len - length of the valid UTF-8 character at s (of at most
 * avail bytes), or 0 when it is not one */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	size_t len, i;
	unsigned c = s[0];
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > avail)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

size_t sql_text(const char *s, char *out, size_t lim)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0, avail = strlen((const char *)p);

	/* go-guerrilla's trimToLimit also trims blanks */
	while (avail && (*p == ' ' || *p == '\t')) {
		p++;
		avail--;
	}
	while (avail) {
		size_t l = utf8_len(p, avail);

		if (l == 0 || p[0] < 0x20 || p[0] == 0x7f) {
			if (o + 1 > lim)
				break;
			out[o++] = p[0] < 0x80 && p[0] >= 0x20 && p[0] != 0x7f
					   ? (char)p[0]
					   : (p[0] == '\t' ? ' ' : '?');
			p++;
			avail--;
			continue;
		}
		if (o + l > lim)
			break;
		memcpy(out + o, p, l);
		o += l;
		p += l;
		avail -= l;
	}
	while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return o;
}
