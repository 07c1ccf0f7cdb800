/*
 * serve.c - the part of a session both modes share: everything from the
 * spool dirs to the summary line.
 *
 * The inetd mode (main.c) reaches it after loading the config, picking
 * the servers[] entry and taking its slots; the accept mode (accept.c)
 * in each forked child, with the config, the spool dirs and the TLS
 * set-up inherited from the parent. Either way the session enters the
 * sandbox (sandbox.c) before the client's first byte, and ends by
 * returning the process's exit status: the process exit is the cleanup.
 *
 * PROXY protocol (proxy_protocol on): the header is read right after the
 * sandbox, before the greeting and before any TLS handshake (port 465
 * too), from a proxy_trusted peer only; any other peer, a bad, slow or
 * truncated header closes the connection with a log line and no reply
 * (proxy.c). The header's source is the client from then on (limits,
 * envelope, Received, logs); the proxy is recorded in X-Spool-Proxy, in
 * Received and in the summary line (proxy=).
 */
#include "serve.h"
#include "cidr.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "rcptcheck.h"
#include "run.h"
#include "sandbox.h"
#include "session.h"
#include "slots.h"
#include "stats.h"
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int serve_sockaddr_text(const struct sockaddr_storage *ss, char *ip,
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

int serve_proxied_peer(const struct cfg_server *srv, const char *ip)
{
	return (srv->proxy_protocol && cidr_match(&srv->proxy_trusted, ip)) ||
	       (srv->xclient_on && cidr_match(&srv->xclient_trusted, ip));
}

/* the client's max_clients_per_ip slot, when the session learnt the
 * client after connect (a PROXY header, XCLIENT) */
static struct {
	const struct cfg *cfg;
	const struct cfg_server *srv;
	int fd;
} ipslot = {NULL, NULL, -1};

/* claim_ip - take ip's per-IP slot, freeing the one held before; 0, or
 * -1 when ip has no free slot (the old one is kept then) */
static int claim_ip(void *arg, const char *ip)
{
	enum slots_result r;
	int fd;

	(void)arg;
	r = slots_take_ip(ipslot.cfg, ipslot.srv, ip, &fd);
	if (r != SLOTS_OK)
		return -1;
	if (ipslot.fd >= 0)
		close(ipslot.fd);
	ipslot.fd = fd;
	return 0;
}

/* take_proxy - the PROXY header from a trusted peer into ip/port (the
 * client) and via (the proxy, for the envelope); 0, or -1: the
 * connection is to be closed (logged) */
static int take_proxy(const struct cfg_server *srv,
                      const struct serve_conn *c, char *ip, size_t size,
                      unsigned *port, char *via, size_t vsize)
{
	struct proxy_hdr h;
	const char *why;

	if (!cidr_match(&srv->proxy_trusted, c->pip)) {
		log_info("refused %s port %u: proxy_protocol is on and the "
			 "peer is not in proxy_trusted",
			 c->pip, c->pport);
		return -1;
	}
	if (proxy_read(0, srv->proxy_timeout, &h, &why) < 0) {
		log_info("refused %s port %u: bad PROXY header: %s", c->pip,
			 c->pport, why);
		return -1;
	}
	snprintf(via, vsize, "%s port %u via PROXYv%d", c->pip, c->pport,
		 h.version);
	if (h.local) {
		/* no client address in it: the connection's is used */
		log_info("PROXY v%d %s from %s port %u: the connection's "
			 "address stands",
			 h.version, h.kind, c->pip, c->pport);
		return 0;
	}
	snprintf(ip, size, "%s", h.src_ip);
	*port = h.src_port;
	log_debug("PROXY v%d %s from %s port %u: client %s port %u to %s "
		  "port %u",
		  h.version, h.kind, c->pip, c->pport, h.src_ip, h.src_port,
		  h.dst_ip, h.dst_port);
	if (claim_ip(NULL, ip) < 0) {
		log_info("refused %s port %u via %s: max_clients_per_ip "
			 "reached",
			 ip, *port, c->pip);
		serve_refuse(R_FULL);
		return -1;
	}
	return 0;
}

void serve_refuse(enum reply_id id)
{
	struct buf b = {NULL, 0, 0, 256};

	if (reply_add(&b, id) == 0)
		util_write_all(1, b.p, b.len);
	buf_free(&b);
}

/* on_stop - SIGALRM and SIGTERM: every blocking wait ends (io.c) */
static void on_stop(int sig)
{
	(void)sig;
	io_stop = 1;
}

void serve_signals(long max_session_time)
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
				  "internal", "tls-failed", "http"};

/* log_summary - the one line per connection (Postfix's disconnect) */
static void log_summary(const struct session *s, double secs)
{
	char helo[120], cmds[400], tls[128], ids[440];
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
	if (s->queued_cut)
		snprintf(ids, sizeof(ids), "%s,+%lu", s->queued,
			 s->queued_cut);
	else
		snprintf(ids, sizeof(ids), "%s", s->queued[0] ? s->queued : "-");
	log_info("disconnect from %s port %u%s%s helo=%s tls=%s messages=%lu "
		 "rcpts=%lu bytes=%llu rejected=%lu result=%s duration=%.3fs"
		 " queued=%s%s",
		 s->peer_ip, s->peer_port, s->proxy[0] ? " proxy=" : "",
		 s->proxy[0] ? s->proxy : "", helo[0] ? helo : "-",
		 tls, s->messages, s->rcpts_total,
		 s->bytes, s->rejected, end_names[s->end], secs, ids, cmds);
	if (stats_dropped())
		log_info("stats: %lu datagrams dropped (collector down or "
			 "busy)",
			 stats_dropped());
}

int serve_session(struct cfg *cfg, const struct cfg_server *srv,
                  struct spool *sp, const struct serve_conn *c)
{
	char cip[64], via[128] = "";
	unsigned cport = c->pport;
	struct timespec t1;
	struct session s;
	struct io io;
	struct run r;
	size_t cap;

	if (spool_open_dirs(sp, cfg->spool_dir) < 0)
		log_error("spool %s: %s (will retry at DATA)", cfg->spool_dir,
			  strerror(errno));
	stats_begin(cfg, srv, c->pip);
	/* the last step before the client's first byte (sandbox.c) */
	if (sandbox_enter() < 0) {
		log_error("sandbox: %s", strerror(errno));
		serve_refuse(R_INTERNAL);
		return 71;
	}
	ipslot.cfg = cfg;
	ipslot.srv = srv;
	snprintf(cip, sizeof(cip), "%s", c->pip);
	if (srv->proxy_protocol &&
	    take_proxy(srv, c, cip, sizeof(cip), &cport, via, sizeof(via)) <
		    0)
		return 0;
	cap = (size_t)srv->max_line_length > 16384
		      ? (size_t)srv->max_line_length
		      : 16384;
	if (io_init(&io, 0, 1, cap, (int)srv->timeout * 1000) < 0) {
		log_error("out of memory");
		return 71;
	}
	session_init(&s, cfg, srv, cip, cport);
	stats_peer(cip); /* the client behind a PROXY header */
	stats_connect("accepted");
	snprintf(s.proxy, sizeof(s.proxy), "%s", via);
	s.xclient_ok = srv->xclient_on &&
		       cidr_match(&srv->xclient_trusted, s.peer_ip);
	s.claim_ip = claim_ip;
	if (srv->rcpt_check && srv->rcpt_check[0]) {
		/* the lookup socket opens at the first check (rcptcheck.c) */
		rcptcheck_init(cfg, srv);
		s.rcpt_check = rcptcheck_lookup;
	}
	memset(&r, 0, sizeof(r));
	r.s = &s;
	r.io = &io;
	r.sp = sp;
	r.spool_dir = cfg->spool_dir;
	log_debug("connect from %s port %u to %s port %u%s%s", cip, cport,
		  c->lip, c->lport, via[0] ? " via " : "", via);
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
	stats_end(s.tls_on, end_names[s.end],
		  (double)(t1.tv_sec - c->t0.tv_sec) +
			  (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9);
	log_summary(&s, (double)(t1.tv_sec - c->t0.tv_sec) +
				(double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9);
	session_free(&s);
	spool_close(sp);
	io_free(&io);
	return 0;
}
