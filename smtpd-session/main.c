/*
 * main.c - smtpd-session: one SMTP session on fd 0 / fd 1.
 *
 * Started once per connection by systemd (Accept=yes), xinetd, tcpserver
 * or anything UCSPI-like; a plain pipe works too (peer "unknown"). Before
 * the banner it only loads the config, picks the servers[] entry by the
 * socket's local address, looks up the peer and opens the spool dirs.
 * Exit status: 0 after a session, 78 (EX_CONFIG) on a bad config, 64 on
 * bad usage.
 *
 * With --listen ADDR:PORT, or sockets passed by systemd (LISTEN_FDS,
 * Accept=no), it runs the accept mode instead (accept.c): one parent that
 * prepares everything once and forks one child per connection. Both
 * modes share the session itself (serve.c).
 */
#include "cfg.h"
#include "io.h"
#include "slots.h"
#include "log.h"
#include "accept.h"
#include "serve.h"
#include "spool.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "smtpd-session"
#define MAX_DIAGS 32

struct diags {
	char msg[MAX_DIAGS][512];
	int is_error[MAX_DIAGS];
	int n;
};

/* keep_diag - hold config messages until we know where to log */
static void keep_diag(void *arg, int is_error, const char *msg)
{
	struct diags *d = arg;

	if (d->n < MAX_DIAGS) {
		snprintf(d->msg[d->n], sizeof(d->msg[0]), "%s", msg);
		d->is_error[d->n++] = is_error;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " [-c FILE] [-s NAME] "
			"[--check-config] [--version]\n"
			"       " PROG " [-c FILE] [--listen ADDR:PORT]... "
			"[--stop-timeout SECS]\n");
	exit(64);
}

/* endpoint - local (which=0) or peer address of fd 0, else tcpserver's
 * environment; "unknown" on a pipe */
static void endpoint(int peer, char *ip, size_t size, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *eip, *eport;
	unsigned long p = 0;
	int r;

	memset(&ss, 0, sizeof(ss));
	r = peer ? getpeername(0, (struct sockaddr *)&ss, &sl)
		 : getsockname(0, (struct sockaddr *)&ss, &sl);
	if (r == 0 && serve_sockaddr_text(&ss, ip, size, port) == 0)
		return;
	eip = getenv(peer ? "TCPREMOTEIP" : "TCPLOCALIP");
	eport = getenv(peer ? "TCPREMOTEPORT" : "TCPLOCALPORT");
	if (eip && entry_field_ok(eip, strlen(eip)) && strlen(eip) < size &&
	    !strchr(eip, ' ')) {
		snprintf(ip, size, "%s", eip);
		if (!strncmp(ip, "::ffff:", 7) && strchr(ip, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
		if (eport)
			util_parse_ulong(eport, strlen(eport), 65535, &p);
		*port = (unsigned)p;
		return;
	}
	snprintf(ip, size, "unknown");
	*port = 0;
}

int main(int argc, char **argv)
{
	const char *path = CFG_DEFAULT_PATH, *name = NULL;
	static struct diags diags;
	const struct cfg_server *srv;
	char lip[64], pip[64];
	unsigned lport, pport;
	const char *listen[ACCEPT_MAX_LISTEN];
	struct serve_conn conn;
	struct timespec t0;
	struct spool sp;
	struct cfg *cfg;
	enum slots_result lim;
	enum cfg_pick pick;
	unsigned long stop = ACCEPT_STOP_TIMEOUT;
	int check = 0, nlisten = 0, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf(PROG " " SMTPD_VERSION "\n");
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			check = 1;
		else if (!strcmp(argv[i], "--listen") && i + 1 < argc &&
			 nlisten < ACCEPT_MAX_LISTEN)
			listen[nlisten++] = argv[++i];
		else if (!strcmp(argv[i], "--stop-timeout") && i + 1 < argc &&
			 util_parse_ulong(argv[i + 1], strlen(argv[i + 1]),
					  86400, &stop) == 0)
			i++;
		else
			usage();
	}
	/* the accept mode: our own listeners, or systemd's (Accept=no) */
	if (!check && (nlisten > 0 || accept_have_listen_fds()))
		return accept_main(path, listen, nlisten, (long)stop);
	if (check) {
		char *dump;
		int errors = 0;
		size_t k;

		cfg = cfg_load_file_as(path, CFG_SESSION, cfg_diag_stderr,
				       PROG);
		if (!cfg)
			return EX_CONFIG_;
		errors += cfg_check_runtime(cfg, cfg_diag_stderr, PROG);
		for (k = 0; k < cfg->nservers; k++) {
			char prefix[48];

			snprintf(prefix, sizeof(prefix), "servers[%zu].tls", k);
			if (cfg->servers[k].is_enabled)
				errors += tls_check(&cfg->servers[k], prefix,
						    cfg_diag_stderr, PROG);
		}
		if (errors) {
			cfg_free(cfg);
			return EX_CONFIG_;
		}
		dump = cfg_dump(cfg);
		cfg_free(cfg);
		if (!dump) {
			fprintf(stderr, PROG ": out of memory\n");
			return 71;
		}
		printf("%s\n", dump);
		free(dump);
		return 0;
	}

	cfg = cfg_load_file_as(path, CFG_SESSION, keep_diag, &diags);
	if (!cfg) {
		/* fd 2 may be the client: log_open checks */
		log_open(PROG, "stderr", "info", 0);
		for (i = 0; i < diags.n; i++)
			log_msg(diags.is_error[i] ? LOG_L_ERROR : LOG_L_WARN,
				"config %s: %s",
				diags.is_error[i] ? "error" : "warning",
				diags.msg[i]);
		serve_refuse(R_INTERNAL);
		return EX_CONFIG_;
	}
	endpoint(0, lip, sizeof(lip), &lport);
	endpoint(1, pip, sizeof(pip), &pport);
	srv = cfg_server_pick(cfg, strcmp(lip, "unknown") ? lip : NULL, lport,
			      name, &pick);
	log_open(PROG, srv && srv->log_file ? srv->log_file : cfg->log_file,
		 cfg->log_level, 0);
	/* warnings are not logged per connection: spoolerd logs them once
	 * per change of the file, --check-config shows them */
	if (!srv) {
		/* refused before any TLS or SMTP: never serve a port with
		 * another entry's settings */
		if (pick == PICK_UNKNOWN_NAME)
			log_error("-s %s: no servers[] entry of that name in %s",
				  name, path);
		else if (pick == PICK_DISABLED)
			log_error("refused %s port %u: the servers[] entry for "
				  "%s port %u is disabled (is_enabled false)",
				  pip, pport, name ? name : lip, lport);
		else if (pick == PICK_NO_MATCH)
			log_error("refused %s port %u: no servers[] entry "
				  "listens on %s port %u",
				  pip, pport, lip, lport);
		else
			log_error("no enabled server in %s", path);
		serve_refuse(R_INTERNAL);
		cfg_free(cfg);
		return pick == PICK_UNKNOWN_NAME ? 64 : EX_CONFIG_;
	}
	/* the whole-session timer starts before anything that may wait */
	serve_signals(srv->max_session_time);
	/* a proxy's own address is not a client: per-IP slots are taken
	 * for the clients it hands over, once known (serve.c) */
	lim = slots_take(cfg, srv,
			 serve_proxied_peer(srv, pip) ? "unknown" : pip);
	if (lim != SLOTS_OK) {
		log_info("refused %s port %u: %s reached", pip, pport,
			 lim == SLOTS_IP_FULL ? "max_clients_per_ip"
					    : "max_clients");
		stats_refused(cfg, srv, pip);
		serve_refuse(R_FULL);
		cfg_free(cfg);
		return 0;
	}
	spool_init(&sp);
	conn.lip = lip;
	conn.lport = lport;
	conn.pip = pip;
	conn.pport = pport;
	conn.t0 = t0;
	i = serve_session(cfg, srv, &sp, &conn);
	if (i != 0)
		return i;
	cfg_free(cfg);
	log_close();
	return 0;
}
