/* cfg.h - the one JSON config file of smtpd-session and spoolerd */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>

#define CFG_DEFAULT_PATH "/etc/smtpd/smtpd.json"
#define EX_CONFIG_ 78 /* sysexits EX_CONFIG */

struct cfg_strlist {
	char **v;
	size_t n;
};

struct cfg_tls {
	int start_tls_on;
	int tls_always_on;
	struct cfg_strlist private_key_file; /* a string or a list */
	struct cfg_strlist public_key_file;
	char *root_cas_file;
	struct cfg_strlist protocols;
	struct cfg_strlist ciphers;
	struct cfg_strlist curves;
	char *client_auth_type;
	char *priority;
	long handshake_timeout; /* seconds */
};

struct cfg_server {
	char *name;
	int is_enabled;
	char *host_name;
	long max_size;
	long timeout; /* seconds, idle and per chunk */
	char *listen_interface;
	long max_clients;
	long max_clients_per_ip;
	char *log_file;
	long max_recipients;
	long max_unrecognized_commands;
	long max_line_length;
	long max_session_time; /* seconds, whole connection */
	long spool_min_free;   /* bytes free needed before DATA */
	struct cfg_tls tls;
};

struct cfg_backend {
	char *save_process;
	long save_workers_size;
	char *primary_mail_host;
	int log_received_mails;
	long long gw_save_timeout; /* ms */
	char *maildir_path;
	char *mbox_path;
	long long retry_first;
	long long retry_max;
	long long max_queue_lifetime;
	long long rescan_interval;
	int keep_done;
	char *redis_interface;
	long redis_expire_seconds;
	char *redis_password;
	long redis_db;
	char *redis_key_prefix;
	long long redis_connect_timeout;
	long long redis_timeout;
	long compress_level;
	char *mail_table;
	char *sql_driver;
	char *sql_dsn;
	char *sql_insert;
	char *sql_values;
	long long sql_max_conn_lifetime;
	long sql_batch_size;
	char *mysql_host;
	char *mysql_user;
	char *mysql_pass;
	char *mysql_db;
};

struct cfg {
	struct cfg_strlist allowed_hosts;
	char *pid_file;
	char *log_file;
	char *log_level;
	char *backend_name;
	char *primary_mail_host; /* seed: top level */
	char *spool_dir;
	struct cfg_backend backend;
	struct cfg_server *servers;
	size_t nservers;
};

/* cfg_diag_fn - called once per warning or error with a full message */
typedef void (*cfg_diag_fn)(void *arg, int is_error, const char *msg);

/* cfg_load_file - read, strip comments, parse, validate. Returns a new
 * config, or NULL after reporting every error through diag. */
struct cfg *cfg_load_file(const char *path, cfg_diag_fn diag, void *arg);

/* cfg_load_buf - same from memory (tests, fuzzing); buf is NUL-terminated */
struct cfg *cfg_load_buf(const char *buf, cfg_diag_fn diag, void *arg);

/* cfg_free - release everything cfg_load_* allocated */
void cfg_free(struct cfg *c);

/* cfg_dump - the effective config (defaults filled in) as JSON text,
 * malloc'd; NULL on allocation failure */
char *cfg_dump(const struct cfg *c);

/* cfg_host_allowed - is domain (no brackets for names) in allowed_hosts?
 * case-insensitive; "*" matches any, "*.example.com" any subdomain. */
int cfg_host_allowed(const struct cfg *c, const char *domain, size_t len);

/* cfg_server_pick - the entry whose listen_interface matches the local
 * address (ip text, port), or the one named, else the first enabled one;
 * NULL when none is enabled. */
const struct cfg_server *cfg_server_pick(const struct cfg *c, const char *ip,
                                         unsigned port, const char *name);

/* cfg_diag_stderr - a diag callback printing "smtpd: config ..." on fd 2 */
void cfg_diag_stderr(void *arg, int is_error, const char *msg);

#endif
