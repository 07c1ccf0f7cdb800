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

/* tls.certificates: extra certificate/key pairs, picked by SNI */
struct cfg_certpairs {
	struct cfg_strlist pub, key; /* one entry of each per pair */
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
	struct cfg_certpairs certificates;
	int session_tickets; /* TLS session resumption with tickets */
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
	long max_errors;       /* 4xx/5xx replies before 421 and close */
	long soft_error_limit; /* past it each error reply is delayed */
	long long error_sleep_time; /* ms, that delay */
	long max_junk_commands; /* NOOP VRFY RSET HELP before they count */
	long max_line_length;
	long max_session_time; /* seconds, whole connection */
	long spool_min_free;   /* bytes free needed before DATA */
	int smtputf8;          /* advertise and accept SMTPUTF8 */
	int helo_strict;       /* HELO/EHLO: a domain or address literal */
	long min_data_rate;    /* bytes/s that extend the DATA deadline */
	int proxy_protocol;    /* a PROXY v1/v2 header opens every connection */
	struct cfg_strlist proxy_trusted;   /* who may send it (cidr.h) */
	long long proxy_timeout; /* ms, for the whole header */
	int xclient_on;        /* XCLIENT from xclient_trusted peers */
	struct cfg_strlist xclient_trusted;
	/* recipient checks at RCPT through spoolerd (lookupproto.h) */
	char *rcpt_check;          /* "file:/path", "redis:KEY", "sql:..." */
	long long rcpt_check_cache;   /* ms spoolerd keeps an answer */
	long long rcpt_check_timeout; /* ms a session waits for one */
	char *rcpt_check_on_error;    /* "tempfail" or "accept" */
	struct cfg_tls tls;
};

struct cfg_backend {
	char *save_process;
	long save_workers_size;
	char *primary_mail_host;
	int log_received_mails;
	long long gw_save_timeout; /* ms */
	long long worker_stuck_timeout; /* ms */
	char *maildir_path;
	char *mbox_path;
	int maildir_crlf;
	struct cfg_strlist pipe_command; /* Pipe: argv, no shell */
	int pipe_per_recipient;
	int pipe_crlf;
	long long pipe_timeout; /* ms */
	char *pipe_user;        /* "user" or "user:group", under root */
	long long retry_first;
	long long retry_max;
	long long max_queue_lifetime;
	long long rescan_interval;
	int keep_done;
	char *redis_interface;
	long redis_expire_seconds;
	char *redis_password;      /* inline, or read from ... */
	char *redis_password_file; /* ... this file (spoolerd only) */
	long redis_db;
	char *redis_key_prefix;
	long long redis_connect_timeout;
	long long redis_timeout;
	long compress_level;
	char *mail_table;
	char *sql_driver;
	char *sql_dsn;
	char *sql_dsn_file;
	char *sql_insert;
	char *sql_values;
	long long sql_max_conn_lifetime;
	long sql_batch_size;
	char *mysql_host;
	char *mysql_user;
	char *mysql_pass;
	char *mysql_pass_file;
	char *mysql_db;
	char *webhook_url;
	char *webhook_format;  /* "raw" or "json" */
	long long webhook_timeout; /* ms */
	char *webhook_ca_file;
	char *webhook_auth_header;      /* an Authorization value, or ... */
	char *webhook_auth_header_file; /* ... its file (spoolerd only) */
	struct cfg_strlist nats_url; /* NATS: nats:// or tls:// URLs */
	char *nats_stream;
	char *nats_subject;          /* template: {domain} {user} ... */
	int nats_per_recipient;
	char *nats_creds_file;
	char *nats_user;
	char *nats_password;         /* read from nats_password_file */
	char *nats_password_file;
	char *nats_tls_ca_file;
	long long nats_timeout;      /* ms, for the connect and the ack */
	char *amqp_url;           /* amqp://host:port/vhost, amqps:// */
	char *amqp_user;
	char *amqp_password;      /* inline, or read from ... */
	char *amqp_password_file; /* ... this file (spoolerd only) */
	char *amqp_exchange;      /* templates: {user} {domain} ... */
	char *amqp_routing_key;
	int amqp_per_recipient;
	char *amqp_tls_ca_file;
	long long amqp_timeout; /* ms */
};

/* dashboard: the statistics collector smtpd-dashboard; a session reads
 * only is_enabled and stats_socket */
struct cfg_dashboard {
	int is_enabled;
	char *stats_socket;
	char *listen_interface;
	long long tick_interval;                /* ms */
	long long max_window;                   /* ms */
	long long ranking_aggregation_interval; /* ms */
	double unique_helo_ratio;
	char *private_key_file; /* dashboard.tls.* */
	char *public_key_file;
	char *password_hash;
	char *password_hash_file;
	struct cfg_strlist metrics_allow;
	char *state_file;
	char *memory_cgroup;
	long long session_lifetime; /* ms, a login */
	long login_max_failures;    /* per client address and minute */
};

/* who loads the file: a session skips backend_config altogether (it holds
 * spoolerd's settings and secrets), spoolerd reads everything; the
 * dashboard reads everything but spoolerd's secret files */
enum cfg_reader { CFG_SPOOLERD, CFG_SESSION, CFG_DASHBOARD };

struct cfg {
	enum cfg_reader who;
	struct cfg_strlist allowed_hosts;
	char *pid_file;
	char *log_file;
	char *log_level;
	char *backend_name;
	char *primary_mail_host; /* seed: top level */
	char *spool_dir;
	char *tls_ticket_key_file; /* NULL: spool_dir/tls/ticket.key */
	long long tls_ticket_rotate; /* ms between two master keys */
	struct cfg_backend backend;
	struct cfg_dashboard dashboard;
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

/* cfg_load_file_as / cfg_load_buf_as - the same for a reader: with
 * CFG_SESSION, backend_config is neither parsed nor checked (its values
 * stay the defaults) and no secret file is read; cfg_load_file and
 * cfg_load_buf are CFG_SPOOLERD, which also reads redis_password_file,
 * sql_dsn_file and mysql_pass_file (relative names under
 * $CREDENTIALS_DIRECTORY when it is set) */
struct cfg *cfg_load_file_as(const char *path, enum cfg_reader who,
                             cfg_diag_fn diag, void *arg);
struct cfg *cfg_load_buf_as(const char *buf, enum cfg_reader who,
                            cfg_diag_fn diag, void *arg);

/* cfg_free - release everything cfg_load_* allocated */
void cfg_free(struct cfg *c);

/* cfg_dump - the effective config (defaults filled in) as JSON text,
 * malloc'd; NULL on allocation failure. Secrets show as "********" (or
 * null when they come from their _file key); a session's config has no
 * backend_config. */
char *cfg_dump(const struct cfg *c);

/* cfg_host_allowed - is domain (no brackets for names) in allowed_hosts?
 * case-insensitive; "*" matches any, "*.example.com" any subdomain. */
int cfg_host_allowed(const struct cfg *c, const char *domain, size_t len);

enum cfg_pick {
	PICK_OK,
	PICK_DISABLED,     /* the matching entry has is_enabled false */
	PICK_NO_MATCH,     /* entries use this port, none this address */
	PICK_UNKNOWN_NAME, /* -s NAME names no entry */
	PICK_NONE_ENABLED, /* no entry is enabled */
};

/* cfg_server_pick - the servers[] entry for a connection. With name (-s):
 * the entry of that name, listen_interface or host_name. Else with the
 * local address (ip text, port): the entry on that exact address, else
 * one on the port's wildcard (":25", "0.0.0.0:25", "[::]:25"); enabled
 * entries win over disabled ones at the same rank. A disabled match, or
 * a port that entries use but none on this address, is refused (NULL,
 * *why says which): a disabled implicit-TLS entry must never be served
 * by another, plaintext one. A port no entry mentions, and a pipe (ip
 * NULL), get the first enabled entry. */
const struct cfg_server *cfg_server_pick(const struct cfg *c, const char *ip,
                                         unsigned port, const char *name,
                                         enum cfg_pick *why);

/* cfg_ticket_key_path - the session-ticket key file spoolerd writes and
 * inetd-mode sessions read (tls_ticket_key_file, else
 * spool_dir/tls/ticket.key); 0, or -1 when it does not fit */
int cfg_ticket_key_path(const struct cfg *c, char *buf, size_t size);

/* cfg_diag_stderr - a diag callback printing "smtpd: config ..." on fd 2 */
void cfg_diag_stderr(void *arg, int is_error, const char *msg);

/* cfg_check_runtime - what --check-config adds to loading: the checks of
 * things outside the file that would make the program refuse to work
 * (no enabled servers[] entry; a spool_dir the reader cannot use: for a
 * session tmp/ and new/ must exist and be writable, for spoolerd an
 * existing spool_dir must be a writable directory). Each problem goes to
 * diag as an error naming its key; returns their count. */
int cfg_check_runtime(const struct cfg *c, cfg_diag_fn diag, void *arg);

#endif
