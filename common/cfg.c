/*
 * cfg.c - load the JSON config shared by smtpd-session and spoolerd.
 *
 * The file is go-guerrilla's goguerrilla.conf.json (v1.6) with our keys
 * added; the older shape (backend_name, TLS keys flat on the server,
 * mysql_* keys) loads too. Comments (line and block) are blanked out by
 * strip_comments, not cJSON_Minify: cJSON 1.7.15 takes the closing quote
 * of a string ending in an escaped backslash ("a\\") for an escaped one,
 * and then drops every '/' and treats "//" as a comment inside the
 * strings that follow.
 *
 * One table per JSON object drives everything: parsing, type and range
 * checks, defaults and the --check-config dump. Unknown keys warn, and
 * so do go-guerrilla keys accepted but not acted on (KF_NOEFFECT); bad
 * types or values are errors naming the full key path ("servers[1].tls.
 * protocols[0]"); the caller exits with EX_CONFIG on NULL.
 *
 * Invariant: a returned struct cfg has every field set (defaults filled),
 * every string NUL-terminated and at most CFG_MAX_STR bytes.
 */
#include "cfg.h"
#include "cidr.h"
#include "lookupproto.h"
#include "util.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_STR 4096
#define CFG_MAX_FILE (1024 * 1024)
#define CFG_MAX_LIST 10000
#define CFG_MAX_SERVERS 64

/* K_PAIRS: a list of {"public_key_file", "private_key_file"} objects */
enum ktype {
	K_BOOL, K_INT, K_STR, K_LIST, K_DUR, K_OBJ, K_PAIRS, K_IGNORE,
	K_RATIO /* a double in min..max */
};

#define KF_ALIAS 1 /* another spelling of a key: no default, no dump */
/* a go-guerrilla key nothing here acts on (K_IGNORE): warn when present,
 * so it does not look live; not dumped */
#define KF_NOEFFECT 2
/* a secret: --check-config prints "********" for it */
#define KF_SECRET 4
/* not a session's: a session neither reads nor checks it (spoolerd's
 * and the dashboard's keys) */
#define KF_SPOOLERD 8

struct key {
	const char *name;
	enum ktype t;
	size_t off;
	long long idef; /* K_BOOL, K_INT, K_DUR (ms) */
	const char *sdef;
	long long min, max;
	const struct key *sub; /* K_OBJ */
	int flags;
};

#define TLSOFF(f) (offsetof(struct cfg_server, tls) + offsetof(struct cfg_tls, f))

static const struct key tls_keys[] = {
	{"start_tls_on", K_BOOL, offsetof(struct cfg_tls, start_tls_on), 0, 0,
	 0, 1, 0, 0},
	{"tls_always_on", K_BOOL, offsetof(struct cfg_tls, tls_always_on), 0,
	 0, 0, 1, 0, 0},
	{"private_key_file", K_LIST, offsetof(struct cfg_tls, private_key_file),
	 0, 0, 0, 0, 0, 0},
	{"public_key_file", K_LIST, offsetof(struct cfg_tls, public_key_file),
	 0, 0, 0, 0, 0, 0},
	{"root_cas_file", K_STR, offsetof(struct cfg_tls, root_cas_file), 0, 0,
	 0, 0, 0, 0},
	{"protocols", K_LIST, offsetof(struct cfg_tls, protocols), 0,
	 "tls1.2,tls1.3", 0, 0, 0, 0},
	{"ciphers", K_LIST, offsetof(struct cfg_tls, ciphers), 0, 0, 0, 0, 0,
	 0},
	{"curves", K_LIST, offsetof(struct cfg_tls, curves), 0, 0, 0, 0, 0, 0},
	{"client_auth_type", K_STR, offsetof(struct cfg_tls, client_auth_type),
	 0, "NoClientCert", 0, 0, 0, 0},
	{"priority", K_STR, offsetof(struct cfg_tls, priority), 0, 0, 0, 0, 0,
	 0},
	{"handshake_timeout", K_INT, offsetof(struct cfg_tls, handshake_timeout),
	 30, 0, 1, 3600, 0, 0},
	{"certificates", K_PAIRS, offsetof(struct cfg_tls, certificates), 0, 0,
	 0, 0, 0, 0},
	{"session_tickets", K_BOOL, offsetof(struct cfg_tls, session_tickets),
	 1, 0, 0, 1, 0, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

#define SOFF(f) offsetof(struct cfg_server, f)
static const struct key server_keys[] = {
	{"name", K_STR, SOFF(name), 0, 0, 0, 0, 0, 0},
	{"is_enabled", K_BOOL, SOFF(is_enabled), 1, 0, 0, 1, 0, 0},
	{"host_name", K_STR, SOFF(host_name), 0, 0, 0, 0, 0, 0},
	{"max_size", K_INT, SOFF(max_size), 10485760, 0, 1, 1L << 40, 0, 0},
	{"timeout", K_INT, SOFF(timeout), 30, 0, 1, 86400, 0, 0},
	{"listen_interface", K_STR, SOFF(listen_interface), 0,
	 "127.0.0.1:2525", 0, 0, 0, 0},
	{"max_clients", K_INT, SOFF(max_clients), 100, 0, 0, 1000000, 0, 0},
	{"max_clients_per_ip", K_INT, SOFF(max_clients_per_ip), 0, 0, 0,
	 1000000, 0, 0},
	{"log_file", K_STR, SOFF(log_file), 0, 0, 0, 0, 0, 0},
	{"xclient_on", K_BOOL, SOFF(xclient_on), 0, 0, 0, 1, 0, 0},
	{"xclient_trusted", K_LIST, SOFF(xclient_trusted), 0, 0, 0, 0, 0, 0},
	{"proxy_protocol", K_BOOL, SOFF(proxy_protocol), 0, 0, 0, 1, 0, 0},
	{"proxy_trusted", K_LIST, SOFF(proxy_trusted), 0, 0, 0, 0, 0, 0},
	{"proxy_timeout", K_DUR, SOFF(proxy_timeout), 5000, 0, 100, 300000, 0,
	 0},
	{"max_recipients", K_INT, SOFF(max_recipients), 100, 0, 1, 100000, 0,
	 0},
	{"max_unrecognized_commands", K_INT, SOFF(max_unrecognized_commands),
	 5, 0, 1, 1000, 0, 0},
	/* Postfix's smtpd_hard_error_limit, smtpd_soft_error_limit,
	 * smtpd_error_sleep_time and smtpd_junk_command_limit */
	{"max_errors", K_INT, SOFF(max_errors), 20, 0, 1, 100000, 0, 0},
	{"soft_error_limit", K_INT, SOFF(soft_error_limit), 10, 0, 0, 100000,
	 0, 0},
	{"error_sleep_time", K_DUR, SOFF(error_sleep_time), 1000, 0, 0, 60000,
	 0, 0},
	{"max_junk_commands", K_INT, SOFF(max_junk_commands), 100, 0, 0,
	 1000000, 0, 0},
	{"max_line_length", K_INT, SOFF(max_line_length), 1024, 0, 512, 65536,
	 0, 0},
	{"max_session_time", K_INT, SOFF(max_session_time), 3600, 0, 1,
	 864000, 0, 0},
	{"spool_min_free", K_INT, SOFF(spool_min_free), 10485760, 0, 0,
	 1L << 50, 0, 0},
	/* RFC 6531; HELO/EHLO syntax (helo.c); DATA deadline (run.c) */
	{"smtputf8", K_BOOL, SOFF(smtputf8), 1, 0, 0, 1, 0, 0},
	{"helo_strict", K_BOOL, SOFF(helo_strict), 1, 0, 0, 1, 0, 0},
	{"min_data_rate", K_INT, SOFF(min_data_rate), 500, 0, 0, 1L << 40, 0,
	 0},
	/* recipient checks at RCPT (lookupproto.c, smtpd-session/
	 * rcptcheck.c, spoolerd/lookup.c) */
	{"rcpt_check", K_STR, SOFF(rcpt_check), 0, 0, 0, 0, 0, 0},
	{"rcpt_check_cache", K_DUR, SOFF(rcpt_check_cache), 60000, 0, 0,
	 86400000, 0, 0},
	{"rcpt_check_timeout", K_DUR, SOFF(rcpt_check_timeout), 2000, 0, 10,
	 60000, 0, 0},
	{"rcpt_check_on_error", K_STR, SOFF(rcpt_check_on_error), 0,
	 "tempfail", 0, 0, 0, 0},
	{"tls", K_OBJ, SOFF(tls), 0, 0, 0, 0, tls_keys, 0},
	/* the seed (go-guerrilla before 1.6) kept these flat on the server */
	{"start_tls_on", K_BOOL, TLSOFF(start_tls_on), 0, 0, 0, 1, 0, KF_ALIAS},
	{"tls_always_on", K_BOOL, TLSOFF(tls_always_on), 0, 0, 0, 1, 0,
	 KF_ALIAS},
	{"private_key_file", K_LIST, TLSOFF(private_key_file), 0, 0, 0, 0, 0,
	 KF_ALIAS},
	{"public_key_file", K_LIST, TLSOFF(public_key_file), 0, 0, 0, 0, 0,
	 KF_ALIAS},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

#define BOFF(f) offsetof(struct cfg_backend, f)
static const struct key backend_keys[] = {
	{"save_process", K_STR, BOFF(save_process), 0, 0, 0, 0, 0, 0},
	/* each copy costs two fsyncs, so throughput comes from parallel
	 * workers: 16 drain faster than sessions fill (README) */
	{"save_workers_size", K_INT, BOFF(save_workers_size), 16, 0, 1, 256,
	 0, 0},
	{"primary_mail_host", K_STR, BOFF(primary_mail_host), 0, 0, 0, 0, 0,
	 0},
	{"log_received_mails", K_BOOL, BOFF(log_received_mails), 0, 0, 0, 1, 0,
	 0},
	{"gw_save_timeout", K_DUR, BOFF(gw_save_timeout), 30000, 0, 1,
	 86400000, 0, 0},
	/* a worker on one batch longer than this is stuck: the watchdog
	 * pings stop and systemd restarts spoolerd */
	{"worker_stuck_timeout", K_DUR, BOFF(worker_stuck_timeout), 300000, 0,
	 1000, 86400000, 0, 0},
	/* go-guerrilla's recipient check: there is none to time or chain */
	{"gw_val_rcpt_timeout", K_IGNORE, 0, 0, 0, 0, 0, 0, KF_NOEFFECT},
	{"validate_process", K_IGNORE, 0, 0, 0, 0, 0, 0, KF_NOEFFECT},
	{"maildir_path", K_STR, BOFF(maildir_path), 0,
	 "/var/mail/{domain}/{user}/Maildir", 0, 0, 0, 0},
	{"mbox_path", K_STR, BOFF(mbox_path), 0, "/var/mail/{domain}/{user}",
	 0, 0, 0, 0},
	/* Maildir copies end lines in LF as the maildir convention wants
	 * (mutt, grep, Dovecot); true keeps the wire's CRLF */
	{"maildir_crlf", K_BOOL, BOFF(maildir_crlf), 0, 0, 0, 1, 0, 0},
	/* Pipe: argv (no shell), per message or per recipient, LF unless
	 * pipe_crlf, killed past pipe_timeout, as pipe_user under root */
	{"pipe_command", K_LIST, BOFF(pipe_command), 0, 0, 0, 0, 0, 0},
	{"pipe_per_recipient", K_BOOL, BOFF(pipe_per_recipient), 0, 0, 0, 1,
	 0, 0},
	{"pipe_crlf", K_BOOL, BOFF(pipe_crlf), 0, 0, 0, 1, 0, 0},
	{"pipe_timeout", K_DUR, BOFF(pipe_timeout), 120000, 0, 100, 86400000,
	 0, 0},
	{"pipe_user", K_STR, BOFF(pipe_user), 0, 0, 0, 0, 0, 0},
	{"retry_first", K_DUR, BOFF(retry_first), 300000, 0, 1, 86400000, 0,
	 0},
	{"retry_max", K_DUR, BOFF(retry_max), 3600000, 0, 1, 86400000LL * 30,
	 0, 0},
	{"max_queue_lifetime", K_DUR, BOFF(max_queue_lifetime), 432000000, 0,
	 1, 86400000LL * 365, 0, 0},
	{"rescan_interval", K_DUR, BOFF(rescan_interval), 60000, 0, 100,
	 86400000, 0, 0},
	{"keep_done", K_BOOL, BOFF(keep_done), 0, 0, 0, 1, 0, 0},
	{"redis_interface", K_STR, BOFF(redis_interface), 0, "127.0.0.1:6379",
	 0, 0, 0, 0},
	{"redis_expire_seconds", K_INT, BOFF(redis_expire_seconds), 7200, 0, 1,
	 1L << 31, 0, 0},
	{"redis_password", K_STR, BOFF(redis_password), 0, 0, 0, 0, 0,
	 KF_SECRET},
	{"redis_password_file", K_STR, BOFF(redis_password_file), 0, 0, 0, 0,
	 0, 0},
	{"redis_db", K_INT, BOFF(redis_db), 0, 0, 0, 1 << 20, 0, 0},
	{"redis_key_prefix", K_STR, BOFF(redis_key_prefix), 0, 0, 0, 0, 0, 0},
	{"redis_connect_timeout", K_DUR, BOFF(redis_connect_timeout), 5000, 0,
	 1, 3600000, 0, 0},
	{"redis_timeout", K_DUR, BOFF(redis_timeout), 10000, 0, 1, 3600000, 0,
	 0},
	{"compress_level", K_INT, BOFF(compress_level), 9, 0, 0, 9, 0, 0},
	{"mail_table", K_STR, BOFF(mail_table), 0, "new_mail", 0, 0, 0, 0},
	{"sql_driver", K_STR, BOFF(sql_driver), 0, "mysql", 0, 0, 0, 0},
	{"sql_dsn", K_STR, BOFF(sql_dsn), 0, 0, 0, 0, 0, KF_SECRET},
	{"sql_dsn_file", K_STR, BOFF(sql_dsn_file), 0, 0, 0, 0, 0, 0},
	{"sql_insert", K_STR, BOFF(sql_insert), 0, 0, 0, 0, 0, 0},
	{"sql_values", K_STR, BOFF(sql_values), 0, 0, 0, 0, 0, 0},
	/* a Go database/sql pool; ours is one connection per worker */
	{"sql_max_open_conns", K_IGNORE, 0, 0, 0, 0, 0, 0, KF_NOEFFECT},
	{"sql_max_idle_conns", K_IGNORE, 0, 0, 0, 0, 0, 0, KF_NOEFFECT},
	{"sql_max_conn_lifetime", K_DUR, BOFF(sql_max_conn_lifetime), 0, 0, 0,
	 86400000LL * 365, 0, 0},
	{"sql_batch_size", K_INT, BOFF(sql_batch_size), 50, 0, 1, 10000, 0, 0},
	{"mysql_host", K_STR, BOFF(mysql_host), 0, 0, 0, 0, 0, 0},
	{"mysql_user", K_STR, BOFF(mysql_user), 0, 0, 0, 0, 0, 0},
	{"mysql_pass", K_STR, BOFF(mysql_pass), 0, 0, 0, 0, 0, KF_SECRET},
	{"mysql_pass_file", K_STR, BOFF(mysql_pass_file), 0, 0, 0, 0, 0, 0},
	{"mysql_db", K_STR, BOFF(mysql_db), 0, 0, 0, 0, 0, 0},
	/* Webhook (spoolerd/proc_webhook.c) */
	{"webhook_url", K_STR, BOFF(webhook_url), 0, 0, 0, 0, 0, 0},
	{"webhook_format", K_STR, BOFF(webhook_format), 0, "raw", 0, 0, 0, 0},
	{"webhook_timeout", K_DUR, BOFF(webhook_timeout), 30000, 0, 1,
	 3600000, 0, 0},
	{"webhook_ca_file", K_STR, BOFF(webhook_ca_file), 0, 0, 0, 0, 0, 0},
	{"webhook_auth_header", K_STR, BOFF(webhook_auth_header), 0, 0, 0, 0,
	 0, KF_SECRET},
	{"webhook_auth_header_file", K_STR, BOFF(webhook_auth_header_file), 0,
	 0, 0, 0, 0, 0},
	/* NATS JetStream (spoolerd/proc_nats.c); the password only from a
	 * file */
	{"nats_url", K_LIST, BOFF(nats_url), 0, "nats://127.0.0.1:4222", 0, 0,
	 0, 0},
	{"nats_stream", K_STR, BOFF(nats_stream), 0, 0, 0, 0, 0, 0},
	{"nats_subject", K_STR, BOFF(nats_subject), 0, "mail.{domain}", 0, 0,
	 0, 0},
	{"nats_per_recipient", K_BOOL, BOFF(nats_per_recipient), 0, 0, 0, 1,
	 0, 0},
	{"nats_creds_file", K_STR, BOFF(nats_creds_file), 0, 0, 0, 0, 0, 0},
	{"nats_user", K_STR, BOFF(nats_user), 0, 0, 0, 0, 0, 0},
	{"nats_password_file", K_STR, BOFF(nats_password_file), 0, 0, 0, 0, 0,
	 0},
	{"nats_tls_ca_file", K_STR, BOFF(nats_tls_ca_file), 0, 0, 0, 0, 0, 0},
	{"nats_timeout", K_DUR, BOFF(nats_timeout), 5000, 0, 10, 600000, 0,
	 0},
	/* AMQP (spoolerd/proc_amqp.c) */
	{"amqp_url", K_STR, BOFF(amqp_url), 0, 0, 0, 0, 0, 0},
	{"amqp_user", K_STR, BOFF(amqp_user), 0, "guest", 0, 0, 0, 0},
	{"amqp_password", K_STR, BOFF(amqp_password), 0, 0, 0, 0, 0,
	 KF_SECRET},
	{"amqp_password_file", K_STR, BOFF(amqp_password_file), 0, 0, 0, 0, 0,
	 0},
	{"amqp_exchange", K_STR, BOFF(amqp_exchange), 0, "", 0, 0, 0, 0},
	{"amqp_routing_key", K_STR, BOFF(amqp_routing_key), 0, "mail", 0, 0,
	 0, 0},
	{"amqp_per_recipient", K_BOOL, BOFF(amqp_per_recipient), 0, 0, 0, 1,
	 0, 0},
	{"amqp_tls_ca_file", K_STR, BOFF(amqp_tls_ca_file), 0, 0, 0, 0, 0, 0},
	{"amqp_timeout", K_DUR, BOFF(amqp_timeout), 30000, 0, 100, 3600000,
	 0, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

#define DOFF(f) offsetof(struct cfg_dashboard, f)
static const struct key dash_tls_keys[] = {
	{"private_key_file", K_STR, 0, 0, 0, 0, 0, 0, 0},
	{"public_key_file", K_STR, DOFF(public_key_file) -
	 DOFF(private_key_file), 0, 0, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* go-guerrilla's dashboard keys and ours (smtpd-dashboard(8)); a session
 * reads is_enabled and stats_socket only */
static const struct key dashboard_keys[] = {
	{"is_enabled", K_BOOL, DOFF(is_enabled), 0, 0, 0, 1, 0, 0},
	{"stats_socket", K_STR, DOFF(stats_socket), 0,
	 "/run/smtpd/stats.sock", 0, 0, 0, 0},
	{"listen_interface", K_STR, DOFF(listen_interface), 0,
	 "127.0.0.1:8081", 0, 0, 0, KF_SPOOLERD},
	{"tick_interval", K_DUR, DOFF(tick_interval), 5000, 0, 100, 3600000,
	 0, KF_SPOOLERD},
	{"max_window", K_DUR, DOFF(max_window), 86400000, 0, 60000,
	 86400000LL * 31, 0, KF_SPOOLERD},
	{"ranking_aggregation_interval", K_DUR,
	 DOFF(ranking_aggregation_interval), 21600000, 0, 1000,
	 86400000LL * 31, 0, KF_SPOOLERD},
	{"unique_helo_ratio", K_RATIO, DOFF(unique_helo_ratio), 0, "0.8", 0,
	 1, 0, KF_SPOOLERD},
	{"tls", K_OBJ, DOFF(private_key_file), 0, 0, 0, 0, dash_tls_keys,
	 KF_SPOOLERD},
	{"password_hash", K_STR, DOFF(password_hash), 0, 0, 0, 0, 0,
	 KF_SECRET | KF_SPOOLERD},
	{"password_hash_file", K_STR, DOFF(password_hash_file), 0, 0, 0, 0, 0,
	 KF_SPOOLERD},
	{"metrics_allow", K_LIST, DOFF(metrics_allow), 0, 0, 0, 0, 0,
	 KF_SPOOLERD},
	{"state_file", K_STR, DOFF(state_file), 0,
	 "/var/lib/smtpd-dashboard/state.json", 0, 0, 0, KF_SPOOLERD},
	{"memory_cgroup", K_STR, DOFF(memory_cgroup), 0, 0, 0, 0, 0,
	 KF_SPOOLERD},
	{"session_lifetime", K_DUR, DOFF(session_lifetime), 43200000, 0,
	 60000, 86400000LL * 31, 0, KF_SPOOLERD},
	{"login_max_failures", K_INT, DOFF(login_max_failures), 5, 0, 1, 1000,
	 0, KF_SPOOLERD},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

#define COFF(f) offsetof(struct cfg, f)
static const struct key top_keys[] = {
	{"allowed_hosts", K_LIST, COFF(allowed_hosts), 0, 0, 0, 0, 0, 0},
	{"pid_file", K_STR, COFF(pid_file), 0, 0, 0, 0, 0, 0},
	{"log_file", K_STR, COFF(log_file), 0, "stderr", 0, 0, 0, 0},
	{"log_level", K_STR, COFF(log_level), 0, "info", 0, 0, 0, 0},
	{"backend_name", K_STR, COFF(backend_name), 0, 0, 0, 0, 0, 0},
	{"primary_mail_host", K_STR, COFF(primary_mail_host), 0, 0, 0, 0, 0,
	 KF_ALIAS},
	{"spool_dir", K_STR, COFF(spool_dir), 0, "/var/spool/smtpd", 0, 0, 0,
	 0},
	{"tls_ticket_key_file", K_STR, COFF(tls_ticket_key_file), 0, 0, 0, 0,
	 0, 0},
	{"tls_ticket_rotate", K_DUR, COFF(tls_ticket_rotate), 43200000, 0,
	 1000, 30LL * 86400000, 0, 0},
	{"backend_config", K_OBJ, COFF(backend), 0, 0, 0, 0, backend_keys,
	 KF_SPOOLERD},
	/* go-guerrilla's web dashboard: smtpd-dashboard(8) */
	{"dashboard", K_OBJ, COFF(dashboard), 0, 0, 0, 0, dashboard_keys, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0},
};

struct loader {
	cfg_diag_fn diag;
	void *arg;
	int errors;
	enum cfg_reader who;
};

static void say(struct loader *l, int is_error, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* say - format one diagnostic "KEY: problem" and pass it on */
static void say(struct loader *l, int is_error, const char *path,
                const char *fmt, ...)
{
	char msg[512], text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (path && *path)
		snprintf(msg, sizeof(msg), "%s: %s", path, text);
	else
		snprintf(msg, sizeof(msg), "%s", text);
	if (is_error)
		l->errors++;
	if (l->diag)
		l->diag(l->arg, is_error, msg);
}

static const char *jtype(const cJSON *j)
{
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsArray(j))
		return "a list";
	if (cJSON_IsObject(j))
		return "an object";
	return "null";
}

/* str_dup_checked - copy a JSON string, refusing NUL-free overlong ones */
static char *str_dup_checked(struct loader *l, const char *path,
                             const char *s)
{
	size_t n = strlen(s);
	char *d;

	if (n > CFG_MAX_STR) {
		say(l, 1, path, "string longer than %d bytes", CFG_MAX_STR);
		return NULL;
	}
	d = malloc(n + 1);
	if (!d) {
		say(l, 1, path, "out of memory");
		return NULL;
	}
	memcpy(d, s, n + 1);
	return d;
}

static void list_free(struct cfg_strlist *sl)
{
	size_t i;

	for (i = 0; i < sl->n; i++)
		free(sl->v[i]);
	free(sl->v);
	sl->v = NULL;
	sl->n = 0;
}

/* list_add - append a copy of s[0..len) */
static int list_add(struct cfg_strlist *sl, const char *s, size_t len)
{
	char **nv = realloc(sl->v, (sl->n + 1) * sizeof(*nv));
	char *d;

	if (!nv)
		return -1;
	sl->v = nv;
	d = malloc(len + 1);
	if (!d)
		return -1;
	memcpy(d, s, len);
	d[len] = '\0';
	sl->v[sl->n++] = d;
	return 0;
}

/* list_from_csv - "a,b, c" -> list (seed style and defaults) */
static int list_from_csv(struct cfg_strlist *sl, const char *s)
{
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		const char *b = s;
		size_t bl = len;

		while (bl && (*b == ' ' || *b == '\t')) {
			b++;
			bl--;
		}
		while (bl && (b[bl - 1] == ' ' || b[bl - 1] == '\t'))
			bl--;
		if (bl && list_add(sl, b, bl) < 0)
			return -1;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* pair_member - one string member of a certificates[] object */
static const char *pair_member(struct loader *l, const cJSON *e,
                               const char *name, const char *path)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, name);
	char p[300];

	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (!m || !cJSON_IsString(m) || !m->valuestring[0]) {
		say(l, 1, p, "expected a file name");
		return NULL;
	}
	if (strlen(m->valuestring) > CFG_MAX_STR) {
		say(l, 1, p, "string longer than %d bytes", CFG_MAX_STR);
		return NULL;
	}
	return m->valuestring;
}

/* load_pairs - tls.certificates: [{"public_key_file": ...,
 * "private_key_file": ...}, ...] into two parallel lists */
static void load_pairs(struct loader *l, struct cfg_certpairs *cp,
                       const cJSON *j, const char *path)
{
	const cJSON *e, *m;
	size_t i = 0;

	list_free(&cp->pub);
	list_free(&cp->key);
	if (!cJSON_IsArray(j)) {
		say(l, 1, path, "expected a list of objects, got %s",
		    jtype(j));
		return;
	}
	cJSON_ArrayForEach(e, j)
	{
		const char *pub, *key;
		char p[256];

		snprintf(p, sizeof(p), "%s[%zu]", path, i++);
		if (i > CFG_MAX_SERVERS) {
			say(l, 1, path, "more than %d entries",
			    CFG_MAX_SERVERS);
			return;
		}
		if (!cJSON_IsObject(e)) {
			say(l, 1, p, "expected an object, got %s", jtype(e));
			continue;
		}
		cJSON_ArrayForEach(m, e)
		{
			char q[300];

			if (!strcmp(m->string, "public_key_file") ||
			    !strcmp(m->string, "private_key_file"))
				continue;
			snprintf(q, sizeof(q), "%s.%s", p, m->string);
			say(l, 0, q, "unknown key, ignored");
		}
		pub = pair_member(l, e, "public_key_file", p);
		key = pair_member(l, e, "private_key_file", p);
		if (!pub || !key)
			continue;
		if (list_add(&cp->pub, pub, strlen(pub)) < 0 ||
		    list_add(&cp->key, key, strlen(key)) < 0)
			say(l, 1, p, "out of memory");
	}
}

/* get_int - a JSON number, or a string of digits (seed configs quote
 * numbers), as a whole number */
static int get_int(const cJSON *j, long long *v)
{
	unsigned long u;

	if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;

		if (d != d || d < -9e15 || d > 9e15 || d != (double)(long long)d)
			return -1;
		*v = (long long)d;
		return 0;
	}
	if (cJSON_IsString(j) &&
	    util_parse_ulong(j->valuestring, strlen(j->valuestring),
			     (unsigned long)1 << 62, &u) == 0) {
		*v = (long long)u;
		return 0;
	}
	return -1;
}

static void load_obj(struct loader *l, const struct key *tab, void *base,
                     const cJSON *obj, const char *path);

/* load_key - one value into its slot, checking type and range */
static void load_key(struct loader *l, const struct key *k, void *base,
                     const cJSON *j, const char *path)
{
	char *slot = (char *)base + k->off;
	long long v;

	switch (k->t) {
	case K_BOOL:
		if (cJSON_IsBool(j)) {
			*(int *)slot = cJSON_IsTrue(j) ? 1 : 0;
		} else if (cJSON_IsString(j) &&
			   (!strcasecmp(j->valuestring, "true") ||
			    !strcasecmp(j->valuestring, "false"))) {
			*(int *)slot = !strcasecmp(j->valuestring, "true");
		} else {
			say(l, 1, path, "expected true or false, got %s",
			    jtype(j));
		}
		break;
	case K_INT:
		if (get_int(j, &v) < 0) {
			say(l, 1, path, "expected a whole number, got %s",
			    jtype(j));
		} else if (v < k->min || v > k->max) {
			say(l, 1, path, "%lld is out of range (%lld..%lld)", v,
			    k->min, k->max);
		} else {
			*(long *)slot = (long)v;
		}
		break;
	case K_DUR:
		if (cJSON_IsString(j)) {
			if (util_parse_duration(j->valuestring, &v) < 0) {
				say(l, 1, path,
				    "not a duration (like \"30s\", \"5m\", "
				    "\"1h\")");
				break;
			}
		} else if (get_int(j, &v) == 0) {
			v *= 1000; /* a bare number is seconds */
		} else {
			say(l, 1, path, "expected a duration string, got %s",
			    jtype(j));
			break;
		}
		if (v < k->min || v > k->max) {
			char a[32], b[32];

			util_format_duration(k->min, a, sizeof(a));
			util_format_duration(k->max, b, sizeof(b));
			say(l, 1, path, "duration out of range (%s..%s)", a, b);
			break;
		}
		*(long long *)slot = v;
		break;
	case K_STR: {
		char *s;

		if (!cJSON_IsString(j)) {
			say(l, 1, path, "expected a string, got %s", jtype(j));
			break;
		}
		s = str_dup_checked(l, path, j->valuestring);
		if (s) {
			free(*(char **)slot);
			*(char **)slot = s;
		}
		break;
	}
	case K_LIST: {
		struct cfg_strlist *sl = (struct cfg_strlist *)slot;
		const cJSON *e;
		size_t i = 0;

		list_free(sl);
		if (cJSON_IsString(j)) {
			if (strlen(j->valuestring) > CFG_MAX_STR)
				say(l, 1, path, "string longer than %d bytes",
				    CFG_MAX_STR);
			else if (list_from_csv(sl, j->valuestring) < 0)
				say(l, 1, path, "out of memory");
			break;
		}
		if (!cJSON_IsArray(j)) {
			say(l, 1, path, "expected a list of strings, got %s",
			    jtype(j));
			break;
		}
		cJSON_ArrayForEach(e, j)
		{
			char p[256];

			snprintf(p, sizeof(p), "%s[%zu]", path, i++);
			if (i > CFG_MAX_LIST) {
				say(l, 1, path, "more than %d entries",
				    CFG_MAX_LIST);
				break;
			}
			if (!cJSON_IsString(e)) {
				say(l, 1, p, "expected a string, got %s",
				    jtype(e));
				continue;
			}
			if (strlen(e->valuestring) > CFG_MAX_STR) {
				say(l, 1, p, "string longer than %d bytes",
				    CFG_MAX_STR);
				continue;
			}
			if (list_add(sl, e->valuestring,
				     strlen(e->valuestring)) < 0)
				say(l, 1, p, "out of memory");
		}
		break;
	}
	case K_OBJ:
		if (!cJSON_IsObject(j)) {
			say(l, 1, path, "expected an object, got %s", jtype(j));
			break;
		}
		load_obj(l, k->sub, slot, j, path);
		break;
	case K_PAIRS:
		load_pairs(l, (struct cfg_certpairs *)slot, j, path);
		break;
	case K_RATIO:
		if (!cJSON_IsNumber(j) || j->valuedouble != j->valuedouble ||
		    j->valuedouble < (double)k->min ||
		    j->valuedouble > (double)k->max)
			say(l, 1, path, "expected a number from %lld to %lld",
			    k->min, k->max);
		else
			memcpy(slot, &j->valuedouble, sizeof(double));
		break;
	case K_IGNORE:
		break;
	}
}

/* load_obj - every member of obj through the table; unknown ones warn */
/* edit_distance - Levenshtein distance of a and b, capped: both are key
 * names, shorter than 64 bytes, else "far" */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[64];

	if (la >= 64 || lb >= 64)
		return 64;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* closest_key - the known key of tab nearest to name (case and a few
 * typed letters apart), or NULL when none is near enough to suggest */
static const char *closest_key(const struct key *tab, const char *name)
{
	const struct key *k;
	const char *best = NULL;
	size_t bd = 64, limit = strlen(name) / 3 + 1;

	if (limit > 3)
		limit = 3;
	for (k = tab; k->name; k++) {
		size_t d = edit_distance(name, k->name);

		if (!strcasecmp(name, k->name))
			d = 0;
		if (d < bd) {
			bd = d;
			best = k->name;
		}
	}
	if (tab == top_keys && edit_distance(name, "servers") < bd) {
		bd = edit_distance(name, "servers");
		best = "servers";
	}
	return bd <= limit ? best : NULL;
}

static void load_obj(struct loader *l, const struct key *tab, void *base,
                     const cJSON *obj, const char *path)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj)
	{
		const struct key *k;
		char p[256];

		if (*path)
			snprintf(p, sizeof(p), "%s.%s", path, m->string);
		else
			snprintf(p, sizeof(p), "%s", m->string);
		for (k = tab; k->name; k++)
			if (!strcmp(k->name, m->string))
				break;
		if (!k->name) {
			if (tab == top_keys && !strcmp(m->string, "servers"))
				continue; /* handled by the caller */
			const char *near = closest_key(tab, m->string);

			if (near)
				say(l, 0, p, "unknown key, ignored (did you "
				    "mean \"%s\"?)", near);
			else
				say(l, 0, p, "unknown key, ignored");
			continue;
		}
		if ((k->flags & KF_SPOOLERD) && l->who == CFG_SESSION)
			continue; /* not ours to read: secrets live there */
		if (k->flags & KF_NOEFFECT) {
			say(l, 0, p,
			    "accepted for compatibility, has no effect");
			continue;
		}
		if (cJSON_IsNull(m))
			continue; /* null: keep the default */
		load_key(l, k, base, m, p);
	}
}

/* set_defaults - fill every slot of a table from its default */
static int set_defaults(const struct key *tab, void *base)
{
	const struct key *k;

	for (k = tab; k->name; k++) {
		char *slot = (char *)base + k->off;

		if (k->flags & KF_ALIAS)
			continue;
		switch (k->t) {
		case K_BOOL:
			*(int *)slot = (int)k->idef;
			break;
		case K_INT:
			*(long *)slot = (long)k->idef;
			break;
		case K_DUR:
			*(long long *)slot = k->idef;
			break;
		case K_STR:
			if (k->sdef) {
				*(char **)slot = strdup(k->sdef);
				if (!*(char **)slot)
					return -1;
			}
			break;
		case K_LIST:
			if (k->sdef &&
			    list_from_csv((struct cfg_strlist *)slot,
					  k->sdef) < 0)
				return -1;
			break;
		case K_OBJ:
			if (set_defaults(k->sub, slot) < 0)
				return -1;
			break;
		case K_RATIO:
		{
			double d = strtod(k->sdef, NULL);

			memcpy(slot, &d, sizeof(d));
			break;
		}
		case K_PAIRS:
		case K_IGNORE:
			break;
		}
	}
	return 0;
}

static void free_tab(const struct key *tab, void *base)
{
	const struct key *k;

	for (k = tab; k->name; k++) {
		char *slot = (char *)base + k->off;

		if (k->flags & KF_ALIAS)
			continue;
		if (k->t == K_STR) {
			free(*(char **)slot);
			*(char **)slot = NULL;
		} else if (k->t == K_LIST) {
			list_free((struct cfg_strlist *)slot);
		} else if (k->t == K_OBJ) {
			free_tab(k->sub, slot);
		} else if (k->t == K_PAIRS) {
			list_free(&((struct cfg_certpairs *)slot)->pub);
			list_free(&((struct cfg_certpairs *)slot)->key);
		}
	}
}

/* iface_parse - "host:port", "[v6]:port", ":port" into parts; 0 or -1
 * with the reason in *why. host is left empty for "any". Names other
 * than localhost are refused: a session must not resolve names. */
static int iface_parse(const char *s, char *host, size_t hsize,
                       unsigned *port, const char **why)
{
	unsigned char tmp[16];

	if (util_parse_hostport(s, strlen(s), 0, host, hsize, port, why) < 0)
		return -1;
	if (!strcmp(host, "localhost"))
		return 0;
	if (host[0] && inet_pton(AF_INET, host, tmp) != 1 &&
	    inet_pton(AF_INET6, host, tmp) != 1) {
		*why = "not an IP address (a session does not resolve names)";
		return -1;
	}
	return 0;
}

/* weak_ciphers - drop from a server's tls.ciphers the suites this
 * server never offers (RC4, 3DES, DES, NULL, export and anonymous ones):
 * go-guerrilla's sample lists RC4 suites, and its config must load. A
 * warning names each; a list left empty is an error (TLS 1.2 would have
 * no suite). */
static void weak_ciphers(struct loader *l, struct cfg_strlist *cl,
                         size_t srv)
{
	static const struct {
		const char *part, *why;
	} weak[] = {
		{"_RC4_", "RC4 is broken: RFC 7465"},
		{"_3DES_", "3DES has 64-bit blocks (Sweet32)"},
		{"_DES_", "DES is broken"},
		{"_DES40_", "DES is broken"},
		{"_NULL_", "it does not encrypt"},
		{"_EXPORT", "export suites are broken"},
		{"_anon_", "it does not authenticate the server"},
		{"_RC2_", "RC2 is broken"},
		{"_IDEA_", "IDEA is obsolete: RFC 5469"},
	};
	size_t i, k, kept = 0, had = cl->n;

	for (i = 0; i < cl->n; i++) {
		char p[64];

		for (k = 0; k < sizeof(weak) / sizeof(weak[0]); k++)
			if (strstr(cl->v[i], weak[k].part))
				break;
		if (k == sizeof(weak) / sizeof(weak[0])) {
			cl->v[kept++] = cl->v[i];
			continue;
		}
		snprintf(p, sizeof(p), "servers[%zu].tls.ciphers[%zu]", srv,
			 i);
		say(l, 0, p, "%s is not offered (%s), ignored", cl->v[i],
		    weak[k].why);
		free(cl->v[i]);
	}
	cl->n = kept;
	if (had && !kept) {
		char p[64];

		snprintf(p, sizeof(p), "servers[%zu].tls.ciphers", srv);
		say(l, 1, p, "none of the listed suites is offered; list "
		    "strong ones or leave the key out for the default");
	}
}

/* trusted_check - every entry of servers[i].key is an address or a
 * CIDR block (cidr.c) */
static void trusted_check(struct loader *l, const struct cfg_strlist *sl,
                          size_t i, const char *key)
{
	size_t k;

	for (k = 0; k < sl->n; k++) {
		const char *why;
		char p[80];

		if (cidr_check(sl->v[k], &why) == 0)
			continue;
		snprintf(p, sizeof(p), "servers[%zu].%s[%zu]", i, key, k);
		say(l, 1, p, "%s (expected like \"10.0.0.0/8\" or "
			     "\"::1\")", why);
	}
}

/* rcpt_check_check - rcpt_check names a table of a known type;
 * rcpt_check_on_error is tempfail or accept */
static void rcpt_check_check(struct loader *l, const struct cfg_server *s,
                             size_t i)
{
	const char *why;
	char p[64];

	snprintf(p, sizeof(p), "servers[%zu].rcpt_check", i);
	if (s->rcpt_check && s->rcpt_check[0] &&
	    lookup_spec_type(s->rcpt_check, &why) == LK_NONE)
		say(l, 1, p, "%s", why);
	snprintf(p, sizeof(p), "servers[%zu].rcpt_check_on_error", i);
	if (strcmp(s->rcpt_check_on_error, "tempfail") &&
	    strcmp(s->rcpt_check_on_error, "accept"))
		say(l, 1, p, "must be \"tempfail\" or \"accept\"");
}

/* validate - checks across keys, after types are known good */
static void validate(struct loader *l, struct cfg *c)
{
	static const char *levels[] = {"debug", "info", "warn", "warning",
				       "error", "fatal", "panic", NULL};
	static const char *auths[] = {"NoClientCert",
				      "RequestClientCert",
				      "RequireAnyClientCert",
				      "VerifyClientCertIfGiven",
				      "RequireAndVerifyClientCert",
				      NULL};
	size_t i;
	int ok = 0;

	for (i = 0; levels[i]; i++)
		if (!strcasecmp(c->log_level, levels[i]))
			ok = 1;
	if (!ok)
		say(l, 1, "log_level",
		    "must be one of debug, info, warn, error, fatal, panic");
	if (c->spool_dir[0] == '\0')
		say(l, 1, "spool_dir", "must not be empty");
	if (c->backend_name && strcasecmp(c->backend_name, "dummy") &&
	    strcasecmp(c->backend_name, "guerrilla-db-redis") &&
	    strcasecmp(c->backend_name, "guerrilla-redis-db"))
		say(l, 1, "backend_name",
		    "must be \"dummy\" or \"guerrilla-db-redis\"");
	for (i = 0; i < c->nservers; i++) {
		struct cfg_server *s = &c->servers[i];
		char p[64], host[128];
		const char *why;
		unsigned port;
		size_t k;

		snprintf(p, sizeof(p), "servers[%zu].listen_interface", i);
		if (iface_parse(s->listen_interface, host, sizeof(host),
				&port, &why) < 0)
			say(l, 1, p,
			    "expected \"ip:port\", \"[ipv6]:port\" or "
			    "\":port\": %s",
			    why);
		ok = 0;
		for (k = 0; auths[k]; k++)
			if (!strcasecmp(s->tls.client_auth_type, auths[k]))
				ok = 1;
		if (!ok) {
			snprintf(p, sizeof(p), "servers[%zu].tls.client_auth_type",
				 i);
			say(l, 1, p, "unknown value");
		}
		weak_ciphers(l, &s->tls.ciphers, i);
		trusted_check(l, &s->proxy_trusted, i, "proxy_trusted");
		trusted_check(l, &s->xclient_trusted, i, "xclient_trusted");
		rcpt_check_check(l, s, i);
		if (s->tls.private_key_file.n != s->tls.public_key_file.n) {
			snprintf(p, sizeof(p), "servers[%zu].tls.private_key_file",
				 i);
			say(l, 1, p,
			    "needs one entry per public_key_file entry");
		}
		if (s->tls.certificates.pub.n && !s->tls.public_key_file.n) {
			snprintf(p, sizeof(p), "servers[%zu].tls.certificates",
				 i);
			say(l, 1, p,
			    "needs a default public_key_file and "
			    "private_key_file beside it");
		}
	}
}

/* strip_comments - blank out line and block comments outside strings,
 * in place; inside a string a backslash and the byte after it go as a
 * pair, so "a\\" ends where JSON says */
static void strip_comments(char *s)
{
	int in_str = 0;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_str = 0;
		} else if (*s == '"') {
			in_str = 1;
		} else if (s[0] == '/' && s[1] == '/') {
			size_t n = strcspn(s, "\n");

			memset(s, ' ', n);
			s += n - 1;
		} else if (s[0] == '/' && s[1] == '*') {
			char *e = strstr(s + 2, "*/");
			size_t n = e ? (size_t)(e + 2 - s) : strlen(s);

			memset(s, ' ', n);
			s += n - 1;
		}
	}
}

/* fill_host_names - default host_name is this machine's name */
static int fill_host_names(struct cfg *c)
{
	char hn[256];
	size_t i;

	if (gethostname(hn, sizeof(hn)) < 0)
		hn[0] = '\0';
	hn[sizeof(hn) - 1] = '\0';
	if (!hn[0])
		memcpy(hn, "localhost", 10);
	for (i = 0; i < c->nservers; i++) {
		if (c->servers[i].host_name)
			continue;
		c->servers[i].host_name = strdup(hn);
		if (!c->servers[i].host_name)
			return -1;
	}
	if (!c->backend.primary_mail_host) {
		const char *src = c->primary_mail_host ? c->primary_mail_host
						       : hn;

		c->backend.primary_mail_host = strdup(src);
		if (!c->backend.primary_mail_host)
			return -1;
	}
	return 0;
}

/* read_secret - the first line of a secret file into *val; the error
 * names key. Relative names are systemd credentials. */
static void read_secret(struct loader *l, const char *key, const char *file,
                        char **val, const char *valkey)
{
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	char path[4096], buf[CFG_MAX_STR + 2];
	ssize_t n;
	size_t len;
	int fd;

	if (*val) {
		say(l, 1, key, "give %s or %s, not both", valkey, key);
		return;
	}
	if (file[0] != '/' && cred && cred[0])
		snprintf(path, sizeof(path), "%s/%s", cred, file);
	else
		snprintf(path, sizeof(path), "%s", file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		say(l, 1, key, "%s: %s", path, strerror(errno));
		return;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		say(l, 1, key, "%s: %s", path, strerror(errno));
		return;
	}
	len = (size_t)n;
	buf[len] = '\0';
	len = strcspn(buf, "\r\n"); /* the first line, without its end */
	buf[len] = '\0';
	if (len == 0 || len > CFG_MAX_STR || memchr(buf, '\0', len)) {
		say(l, 1, key, "%s: empty, or not one line of at most %d bytes",
		    path, CFG_MAX_STR);
		return;
	}
	*val = strdup(buf);
	if (!*val)
		say(l, 1, key, "out of memory");
}

/* read_secrets - the _file keys of backend_config (spoolerd only) */
static void read_secrets(struct loader *l, struct cfg_backend *b)
{
	if (b->redis_password_file)
		read_secret(l, "backend_config.redis_password_file",
			    b->redis_password_file, &b->redis_password,
			    "redis_password");
	if (b->sql_dsn_file)
		read_secret(l, "backend_config.sql_dsn_file", b->sql_dsn_file,
			    &b->sql_dsn, "sql_dsn");
	if (b->mysql_pass_file)
		read_secret(l, "backend_config.mysql_pass_file",
			    b->mysql_pass_file, &b->mysql_pass, "mysql_pass");
	if (b->webhook_auth_header_file)
		read_secret(l, "backend_config.webhook_auth_header_file",
			    b->webhook_auth_header_file, &b->webhook_auth_header,
			    "webhook_auth_header");
	if (b->nats_password_file)
		read_secret(l, "backend_config.nats_password_file",
			    b->nats_password_file, &b->nats_password,
			    "nats_password");
	if (b->amqp_password_file)
		read_secret(l, "backend_config.amqp_password_file",
			    b->amqp_password_file, &b->amqp_password,
			    "amqp_password");
}

struct cfg *cfg_load_buf(const char *buf, cfg_diag_fn diag, void *arg)
{
	return cfg_load_buf_as(buf, CFG_SPOOLERD, diag, arg);
}

struct cfg *cfg_load_buf_as(const char *buf, enum cfg_reader who,
                            cfg_diag_fn diag, void *arg)
{
	struct loader l = {diag, arg, 0, who};
	struct cfg *c = calloc(1, sizeof(*c));
	const cJSON *servers;
	char *text = NULL;
	cJSON *root = NULL;
	size_t len = strlen(buf);

	if (!c || set_defaults(top_keys, c) < 0)
		goto oom;
	text = malloc(len + 1);
	if (!text)
		goto oom;
	memcpy(text, buf, len + 1);
	strip_comments(text);
	root = cJSON_Parse(text);
	if (!root) {
		const char *e = cJSON_GetErrorPtr(), *q;
		unsigned line = 1, col = 1;
		char ctx[48];

		/* comments were blanked in place, so lines still count */
		for (q = text; e && e >= text && q < e && *q; q++) {
			col = *q == '\n' ? 1 : col + 1;
			line += *q == '\n';
		}
		util_printable(ctx, sizeof(ctx), e ? e : "", e ? strlen(e) : 0,
			       20);
		say(&l, 1, NULL,
		    "not valid JSON at line %u, column %u (near \"%s\")",
		    line, col, ctx);
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		say(&l, 1, NULL, "the top level must be an object");
		goto fail;
	}
	load_obj(&l, top_keys, c, root, "");
	servers = cJSON_GetObjectItemCaseSensitive(root, "servers");
	if (servers && !cJSON_IsArray(servers)) {
		say(&l, 1, "servers", "expected a list of objects, got %s",
		    jtype(servers));
	} else if (servers && cJSON_GetArraySize(servers) > CFG_MAX_SERVERS) {
		say(&l, 1, "servers", "more than %d entries", CFG_MAX_SERVERS);
	} else {
		size_t n = servers ? (size_t)cJSON_GetArraySize(servers) : 0;
		const cJSON *e;
		size_t i = 0;

		c->servers = calloc(n ? n : 1, sizeof(*c->servers));
		if (!c->servers)
			goto oom;
		/* each server is counted before its defaults are set, so
		 * cfg_free frees what a failing set_defaults left behind */
		if (n == 0) {
			c->nservers = 1;
			if (set_defaults(server_keys, &c->servers[0]) < 0)
				goto oom;
		}
		cJSON_ArrayForEach(e, servers)
		{
			char p[64];

			snprintf(p, sizeof(p), "servers[%zu]", i);
			c->nservers = ++i;
			if (set_defaults(server_keys, &c->servers[i - 1]) < 0)
				goto oom;
			if (!cJSON_IsObject(e)) {
				say(&l, 1, p, "expected an object, got %s",
				    jtype(e));
				continue;
			}
			load_obj(&l, server_keys, &c->servers[i - 1], e, p);
		}
	}
	if (fill_host_names(c) < 0)
		goto oom;
	c->who = who;
	if (!l.errors && who == CFG_SPOOLERD)
		read_secrets(&l, &c->backend);
	if (!l.errors)
		validate(&l, c);
	if (l.errors)
		goto fail;
	cJSON_Delete(root);
	free(text);
	return c;
oom:
	say(&l, 1, NULL, "out of memory");
fail:
	cJSON_Delete(root);
	free(text);
	cfg_free(c);
	return NULL;
}

struct cfg *cfg_load_file(const char *path, cfg_diag_fn diag, void *arg)
{
	return cfg_load_file_as(path, CFG_SPOOLERD, diag, arg);
}

struct cfg *cfg_load_file_as(const char *path, enum cfg_reader who,
                             cfg_diag_fn diag, void *arg)
{
	struct loader l = {diag, arg, 0, who};
	struct stat st;
	struct cfg *c;
	char *buf;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say(&l, 1, path, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CFG_MAX_FILE) {
		say(&l, 1, path, "not a regular file of at most %d bytes",
		    CFG_MAX_FILE);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		say(&l, 1, path, "out of memory");
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (memchr(buf, '\0', got)) {
		say(&l, 1, path, "contains a NUL byte");
		free(buf);
		return NULL;
	}
	c = cfg_load_buf_as(buf, who, diag, arg);
	free(buf);
	return c;
}

void cfg_free(struct cfg *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nservers; i++)
		free_tab(server_keys, &c->servers[i]);
	free(c->servers);
	free_tab(top_keys, c);
	free(c->primary_mail_host);
	free(c->backend.nats_password); /* no key of its own: files only */
	free(c);
}

/* from_file - does secret key k come from its _file key (the next row
 * of the table, "<name>_file")? */
static int from_file(const struct key *k, const void *base)
{
	size_t n = strlen(k->name);
	const struct key *f = k + 1;

	return f->name && !strncmp(f->name, k->name, n) &&
	       !strcmp(f->name + n, "_file") &&
	       *(char *const *)((const char *)base + f->off) != NULL;
}

/* dump_pairs - tls.certificates as a list of objects; NULL when out of
 * memory */
static cJSON *dump_pairs(const struct cfg_certpairs *cp)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < cp->pub.n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
		/* o belongs to a now */
		if (!cJSON_AddStringToObject(o, "public_key_file",
					     cp->pub.v[i]) ||
		    !cJSON_AddStringToObject(o, "private_key_file",
					     cp->key.v[i])) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

/* dump_tab - the table's slots as members of obj */
static int dump_tab(const struct key *tab, const void *base, cJSON *obj,
                    enum cfg_reader who)
{
	const struct key *k;

	for (k = tab; k->name; k++) {
		const char *slot = (const char *)base + k->off;
		cJSON *v = NULL;

		if (k->flags & KF_ALIAS || k->t == K_IGNORE)
			continue;
		if ((k->flags & KF_SPOOLERD) && who == CFG_SESSION)
			continue;
		if ((k->flags & KF_SECRET) && *(char *const *)slot) {
			v = from_file(k, base) ? cJSON_CreateNull()
					       : cJSON_CreateString("********");
			if (!v || !cJSON_AddItemToObject(obj, k->name, v)) {
				cJSON_Delete(v);
				return -1;
			}
			continue;
		}
		switch (k->t) {
		case K_BOOL:
			v = cJSON_CreateBool(*(const int *)slot);
			break;
		case K_INT:
			v = cJSON_CreateNumber((double)*(const long *)slot);
			break;
		case K_DUR: {
			char d[48];

			util_format_duration(*(const long long *)slot, d,
					     sizeof(d));
			v = cJSON_CreateString(d);
			break;
		}
		case K_STR:
			v = *(char *const *)slot
				? cJSON_CreateString(*(char *const *)slot)
				: cJSON_CreateNull();
			break;
		case K_LIST: {
			const struct cfg_strlist *sl =
				(const struct cfg_strlist *)slot;

			/* cJSON refuses a NULL array even for 0 items */
			v = sl->n ? cJSON_CreateStringArray(
					    (const char *const *)sl->v,
					    (int)sl->n)
				  : cJSON_CreateArray();
			break;
		}
		case K_OBJ:
			v = cJSON_CreateObject();
			if (v && dump_tab(k->sub, slot, v, who) < 0) {
				cJSON_Delete(v);
				v = NULL;
			}
			break;
		case K_PAIRS:
			v = dump_pairs((const struct cfg_certpairs *)slot);
			break;
		case K_RATIO:
		{
			double d;

			memcpy(&d, slot, sizeof(d));
			v = cJSON_CreateNumber(d);
			break;
		}
		case K_IGNORE:
			break;
		}
		if (!v || !cJSON_AddItemToObject(obj, k->name, v)) {
			cJSON_Delete(v);
			return -1;
		}
	}
	return 0;
}

char *cfg_dump(const struct cfg *c)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *out = NULL;
	size_t i;

	if (!root || dump_tab(top_keys, c, root, c->who) < 0)
		goto done;
	arr = cJSON_AddArrayToObject(root, "servers");
	if (!arr)
		goto done;
	for (i = 0; i < c->nservers; i++) {
		cJSON *s = cJSON_CreateObject();

		if (!s || dump_tab(server_keys, &c->servers[i], s, c->who) < 0 ||
		    !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto done;
		}
	}
	out = cJSON_Print(root);
done:
	cJSON_Delete(root);
	return out;
}

/* host_match - one allowed_hosts pattern against a lower-case domain */
static int host_match(const char *pat, const char *d, size_t len)
{
	size_t pl = strlen(pat);

	if (pl == 1 && pat[0] == '*')
		return 1;
	if (pl > 2 && pat[0] == '*' && pat[1] == '.') {
		/* "*.example.com": any name ending in ".example.com" */
		return len > pl - 1 &&
		       !strncasecmp(d + len - (pl - 1), pat + 1, pl - 1);
	}
	return pl == len && !strncasecmp(pat, d, len);
}

int cfg_host_allowed(const struct cfg *c, const char *domain, size_t len)
{
	size_t i;

	if (len && domain[len - 1] == '.')
		len--; /* "example.com." is example.com */
	for (i = 0; i < c->allowed_hosts.n; i++)
		if (host_match(c->allowed_hosts.v[i], domain, len))
			return 1;
	return 0;
}

/* addr_equal - compare two IP texts as addresses (:: forms differ) */
static int addr_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (!strcmp(a, "localhost"))
		return !strcmp(b, "127.0.0.1") || !strcmp(b, "::1");
	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && !memcmp(x, y, 16);
	return 0;
}

const struct cfg_server *cfg_server_pick(const struct cfg *c, const char *ip,
                                         unsigned port, const char *name,
                                         enum cfg_pick *why)
{
	/* best[0]: exact address, enabled; [1] exact, disabled; [2] any
	 * address, enabled; [3] any address, disabled */
	const struct cfg_server *best[4] = {NULL, NULL, NULL, NULL};
	int port_seen = 0, k;
	size_t i;

	*why = PICK_OK;
	if (name) {
		for (i = 0; i < c->nservers; i++) {
			const struct cfg_server *s = &c->servers[i];

			if ((s->name && !strcmp(s->name, name)) ||
			    !strcmp(s->listen_interface, name) ||
			    !strcmp(s->host_name, name)) {
				if (s->is_enabled)
					return s;
				*why = PICK_DISABLED;
				return NULL;
			}
		}
		*why = PICK_UNKNOWN_NAME;
		return NULL;
	}
	for (i = 0; ip && i < c->nservers; i++) {
		const struct cfg_server *s = &c->servers[i];
		char host[128];
		const char *perr;
		unsigned p;
		int slot;

		if (iface_parse(s->listen_interface, host, sizeof(host), &p,
				&perr) < 0 ||
		    p != port)
			continue;
		port_seen = 1;
		if (addr_equal(host, ip))
			slot = 0;
		else if (!host[0] || !strcmp(host, "0.0.0.0") ||
			 !strcmp(host, "::"))
			slot = 2;
		else
			continue;
		slot += !s->is_enabled;
		if (!best[slot])
			best[slot] = s;
	}
	for (k = 0; k < 4; k++) {
		if (!best[k])
			continue;
		if (k % 2 == 0)
			return best[k];
		*why = PICK_DISABLED; /* never plaintext on a port whose
				       * entry is switched off */
		return NULL;
	}
	if (port_seen) {
		*why = PICK_NO_MATCH;
		return NULL;
	}
	for (i = 0; i < c->nservers; i++)
		if (c->servers[i].is_enabled)
			return &c->servers[i];
	*why = PICK_NONE_ENABLED;
	return NULL;
}

int cfg_ticket_key_path(const struct cfg *c, char *buf, size_t size)
{
	int n;

	if (c->tls_ticket_key_file && c->tls_ticket_key_file[0])
		n = snprintf(buf, size, "%s", c->tls_ticket_key_file);
	else
		n = snprintf(buf, size, "%s/tls/ticket.key", c->spool_dir);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* spool_dir_ok - 0, or -1 with the problem in why: dir and each of
 * subs must be directories this process may write to */
static int spool_dir_ok(const char *dir, const char *const *subs,
                        char *why, size_t n)
{
	struct stat st;
	char p[4200];
	size_t i;

	if (stat(dir, &st) < 0) {
		snprintf(why, n, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "%s: not a directory", dir);
		return -1;
	}
	for (i = 0; subs[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		if (stat(p, &st) < 0) {
			snprintf(why, n, "%s: %s", p, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, n, "%s: not a directory", p);
			return -1;
		}
		if (access(p, W_OK | X_OK) < 0) {
			snprintf(why, n, "%s: not writable by uid %u: %s", p,
				 (unsigned)getuid(), strerror(errno));
			return -1;
		}
	}
	return 0;
}

int cfg_check_runtime(const struct cfg *c, cfg_diag_fn diag, void *arg)
{
	static const char *const session_subs[] = {"tmp", "new", NULL};
	char why[4400], msg[4500];
	int errors = 0;
	size_t i;

	for (i = 0; i < c->nservers; i++)
		if (c->servers[i].is_enabled)
			break;
	if (i == c->nservers) {
		diag(arg, 1, "servers: no entry has is_enabled true: a session "
			     "would refuse every connection");
		errors++;
	}
	if (c->who == CFG_SESSION) {
		if (spool_dir_ok(c->spool_dir, session_subs, why,
				 sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg),
				 "spool_dir: %s (a session cannot queue "
				 "mail; spoolerd creates the spool at its "
				 "start)",
				 why);
			diag(arg, 1, msg);
			errors++;
		}
	} else {
		struct stat st;

		/* spoolerd makes a missing spool_dir and its subdirectories;
		 * one that exists must be a directory it can write */
		why[0] = '\0';
		if (stat(c->spool_dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				snprintf(why, sizeof(why), "%s: not a directory",
					 c->spool_dir);
			else if (access(c->spool_dir, W_OK | X_OK) < 0)
				snprintf(why, sizeof(why),
					 "%s: not writable by uid %u: %s",
					 c->spool_dir, (unsigned)getuid(),
					 strerror(errno));
		}
		if (why[0]) {
			snprintf(msg, sizeof(msg), "spool_dir: %s", why);
			diag(arg, 1, msg);
			errors++;
		}
	}
	return errors;
}

void cfg_diag_stderr(void *arg, int is_error, const char *msg)
{
	const char *prog = arg ? (const char *)arg : "smtpd";

	fprintf(stderr, "%s: config %s: %s\n", prog,
		is_error ? "error" : "warning", msg);
}
