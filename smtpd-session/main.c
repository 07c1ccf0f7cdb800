/*
 * main.c - smtpd-session: one SMTP session on fd 0 / fd 1.
 *
 * Started once per connection by systemd (Accept=yes), xinetd, tcpserver
 * or anything UCSPI-like; a plain pipe works too (peer "unknown"). Before
 * the banner it only loads the config, picks the servers[] entry by the
 * socket's local address, looks up the peer and opens the spool dirs.
 * Exit status: 0 after a session, 78 (EX_CONFIG) on a bad config, 64 on
 * bad usage.
 */
#include "cfg.h"
#include "io.h"
#include "slots.h"
#include "log.h"
#include "run.h"
#include "session.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

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
			"[--check-config]\n");
	exit(64);
}

/* sockaddr_text - IP text and port of a socket address; 0 or -1 */
static int sockaddr_text(const struct sockaddr_storage *ss, char *ip,
                         size_t size, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)size);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip,
				  (socklen_t)size);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, ip,
				  (socklen_t)size);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return -1;
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
	if (r == 0 && sockaddr_text(&ss, ip, size, port) == 0)
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

/* refuse - one reply from the table before the session starts (no
 * greeting), written straight to the client */
static void refuse(enum reply_id id)
{
	struct buf b = {NULL, 0, 0, 256};

	if (reply_add(&b, id) == 0)
		util_write_all(1, b.p, b.len);
	buf_free(&b);
}

static void on_stop(int sig)
{
	(void)sig;
	io_stop = 1;
}

static void setup_signals(long max_session_time)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_stop; /* no SA_RESTART: waits end with EINTR */
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	alarm((unsigned)max_session_time);
}

static const char *end_names[] = {"none",     "quit",     "eof",
				  "timeout",  "errors",   "io-error",
				  "internal", "tls-failed"};

/* log_summary - the one line per connection (Postfix's disconnect) */
static void log_summary(const struct session *s, double secs)
{
	char helo[120], cmds[400], tls[128];
	size_t n = 0, i;

	/* "TLS1.3 TLS_AES_256_GCM_SHA384" -> one key=value token */
	snprintf(tls, sizeof(tls), "%s", s->tls_on ? s->tls_desc : "no");
	for (i = 0; tls[i]; i++)
		if (tls[i] == ' ')
			tls[i] = '/';

	util_printable(helo, sizeof(helo), s->helo, strlen(s->helo), 100);
	cmds[0] = '\0';
	for (i = 0; i < SESSION_NCMDS && n < sizeof(cmds); i++) {
		int w;

		if (!s->cmd_count[i])
			continue;
		w = snprintf(cmds + n, sizeof(cmds) - n, " %s=%u",
			     session_cmd_name(i), s->cmd_count[i]);
		if (w > 0)
			n += (size_t)w;
	}
	log_info("disconnect from %s port %u helo=%s tls=%s messages=%lu "
		 "rcpts=%lu bytes=%llu rejected=%lu result=%s duration=%.3fs"
		 "%s",
		 s->peer_ip, s->peer_port, helo[0] ? helo : "-",
		 tls, s->messages, s->rcpts_total,
		 s->bytes, s->rejected, end_names[s->end], secs, cmds);
}

int main(int argc, char **argv)
{
	const char *path = CFG_DEFAULT_PATH, *name = NULL;
	static struct diags diags;
	const struct cfg_server *srv;
	char lip[64], pip[64];
	unsigned lport, pport;
	struct timespec t0, t1;
	struct session s;
	struct spool sp;
	struct io io;
	struct run r;
	struct cfg *cfg;
	enum slots_result lim;
	int check = 0, i;
	size_t cap;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			check = 1;
		else
			usage();
	}
	if (check) {
		char *dump;
		int errors = 0;
		size_t k;

		cfg = cfg_load_file(path, cfg_diag_stderr, PROG);
		if (!cfg)
			return EX_CONFIG_;
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

	cfg = cfg_load_file(path, keep_diag, &diags);
	if (!cfg) {
		/* fd 2 may be the client: log_open checks */
		log_open(PROG, "stderr", "info", 0);
		for (i = 0; i < diags.n; i++)
			log_msg(diags.is_error[i] ? LOG_L_ERROR : LOG_L_WARN,
				"config %s: %s",
				diags.is_error[i] ? "error" : "warning",
				diags.msg[i]);
		refuse(R_INTERNAL);
		return EX_CONFIG_;
	}
	endpoint(0, lip, sizeof(lip), &lport);
	endpoint(1, pip, sizeof(pip), &pport);
	srv = cfg_server_pick(cfg, strcmp(lip, "unknown") ? lip : NULL, lport,
			      name);
	log_open(PROG, srv && srv->log_file ? srv->log_file : cfg->log_file,
		 cfg->log_level, 0);
	for (i = 0; i < diags.n; i++)
		log_warnx("config warning: %s", diags.msg[i]);
	if (!srv) {
		log_error("no enabled server in %s", path);
		refuse(R_INTERNAL);
		return EX_CONFIG_;
	}
	/* the whole-session timer starts before anything that may wait */
	setup_signals(srv->max_session_time);
	lim = slots_take(cfg, srv, pip);
	if (lim != SLOTS_OK) {
		log_info("refused %s port %u: %s reached", pip, pport,
			 lim == SLOTS_IP_FULL ? "max_clients_per_ip"
					    : "max_clients");
		refuse(R_FULL);
		cfg_free(cfg);
		return 0;
	}
	spool_init(&sp);
	if (spool_open_dirs(&sp, cfg->spool_dir) < 0)
		log_error("spool %s: %s (will retry at DATA)", cfg->spool_dir,
			  strerror(errno));
	cap = (size_t)srv->max_line_length > 16384
		      ? (size_t)srv->max_line_length
		      : 16384;
	if (io_init(&io, 0, 1, cap, (int)srv->timeout * 1000) < 0) {
		log_error("out of memory");
		return 71;
	}
	session_init(&s, cfg, srv, pip, pport);
	memset(&r, 0, sizeof(r));
	r.s = &s;
	r.io = &io;
	r.sp = &sp;
	r.spool_dir = cfg->spool_dir;
	log_debug("connect from %s port %u to %s port %u", pip, pport, lip,
		  lport);
	if (tls_configured(srv) && !srv->tls.tls_always_on &&
	    srv->tls.start_tls_on) {
		s.tls_offer = 1;
		r.starttls = tls_starttls;
	}
	if (!srv->tls.tls_always_on || tls_implicit(&r) == 0)
		run_session(&r);
	else if (s.end == END_NONE)
		s.end = END_TLS;
	tls_end(&r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_summary(&s, (double)(t1.tv_sec - t0.tv_sec) +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	session_free(&s);
	spool_close(&sp);
	io_free(&io);
	cfg_free(cfg);
	log_close();
	return 0;
}
