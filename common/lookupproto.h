/* lookupproto.h - the recipient-lookup line protocol between a session
 * and spoolerd (Postfix proxymap's role), and the rcpt_check table
 * names both sides check */
#ifndef LOOKUPPROTO_H
#define LOOKUPPROTO_H

#include <stddef.h>

#define LOOKUP_SOCKET_DIR "lookup"    /* under spool_dir */
#define LOOKUP_SOCKET_NAME "socket"   /* in that directory */
#define LOOKUP_TABLE_MAX 1024         /* a table name, decoded */
#define LOOKUP_ADDR_MAX 256           /* an address, decoded */
#define LOOKUP_REASON_MAX 200         /* the text of a TEMP reply */
#define LOOKUP_LINE_MAX 4096          /* a request line with its LF */
#define LOOKUP_ID_MAX 4294967295UL

enum lookup_type { LK_NONE = -1, LK_FILE, LK_REDIS, LK_SQL };

enum lookup_status { LK_FOUND, LK_NOTFOUND, LK_TEMP };

struct lookup_req {
	unsigned long id;
	char table[LOOKUP_TABLE_MAX + 1];
	char addr[LOOKUP_ADDR_MAX + 1];
};

struct lookup_reply {
	unsigned long id;
	enum lookup_status status;
	char reason[LOOKUP_REASON_MAX + 1]; /* LK_TEMP only, else "" */
};

/* lookup_spec_type - the type of an rcpt_check value ("file:/path",
 * "redis:KEY", "sql:QUERY"); LK_NONE with the reason in *why */
enum lookup_type lookup_spec_type(const char *spec, const char **why);

/* lookup_spec_name - the part after "type:" */
const char *lookup_spec_name(const char *spec);

/* lookup_request_format - "ID TABLE ADDR\n" into out; its length, or -1
 * when a part is too long or does not fit */
int lookup_request_format(char *out, size_t cap, unsigned long id,
                          const char *table, const char *addr, size_t alen);

/* lookup_request_parse - one request line (without its LF); 0, or -1
 * when it is malformed */
int lookup_request_parse(const char *line, size_t len, struct lookup_req *r);

/* lookup_reply_format - "ID OK\n", "ID NOTFOUND\n" or "ID TEMP text\n"
 * (text made printable and cut); its length, or -1 */
int lookup_reply_format(char *out, size_t cap, unsigned long id,
                        enum lookup_status st, const char *reason);

/* lookup_reply_parse - one reply line (without its LF); 0 or -1 */
int lookup_reply_parse(const char *line, size_t len, struct lookup_reply *r);

/* lookup_fold - the lookup key of an address, in place: ASCII letters
 * lowered (local part and domain, as Postfix folds table keys), other
 * bytes kept */
void lookup_fold(char *s);

#endif
