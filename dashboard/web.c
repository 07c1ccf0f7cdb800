/*
 * web.c - the dashboard's HTTPS listener (libmicrohttpd, GnuTLS).
 *
 *   GET  /login         the login form
 *   POST /login         password=...: checked against the yescrypt hash
 *                       (crypt_r); right: a session cookie (Secure;
 *                       HttpOnly; SameSite=Strict), 303 to /. Wrong:
 *                       logged, 403; login_max_failures per address and
 *                       minute, then 429 without looking at the password
 *   GET  /              the page (a login cookie, else 303 to /login)
 *   GET  /stats.json    the current frame (a login cookie)
 *   GET  /ws            WebSocket (RFC 6455): a login cookie and an Origin
 *                       equal to https://<Host>, else 403
 *   GET  /metrics       Prometheus: peers in metrics_allow, or HTTP basic
 *                       auth with the dashboard password
 *
 * The listening socket is ours, so a changed key or certificate starts a
 * new daemon on it (MHD_quiesce_daemon hands the socket over) without a
 * moment with nobody listening. WebSockets are upgraded connections: MHD
 * relays TLS through a socket pair whose end we own; the main loop polls
 * those ends and pushes a frame every tick (web_ws_push).
 */
#include "web.h"
#include "log.h"
#include "util.h"
#include "ws.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COOKIE "smtpd_dash"
#define MAX_LOGINS 64
#define MAX_WS 64
#define MAX_FAIL_IPS 256
#define MAX_BODY 4096

extern const char page_html[], login_html[];

struct login {
	char token[65];
	time_t expires;
};

struct failure {
	char ip[64];
	time_t start;
	unsigned n;
};

struct wsconn {
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	uint8_t in[1024];
	size_t inlen;
};

static struct {
	const struct cfg *cfg;
	struct collect *col;
	struct MHD_Daemon *d;
	int lfd;
	char *key, *crt; /* loaded PEM */
	struct timespec key_mt, crt_mt;
	pthread_mutex_t lock; /* logins, failures, ws */
	struct login logins[MAX_LOGINS];
	struct failure fails[MAX_FAIL_IPS];
	struct wsconn ws[MAX_WS];
	size_t nws;
} W = {.lfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

struct req {
	char body[MAX_BODY + 1];
	size_t len;
	int toolong;
};

/* read_file - a whole small file, NUL-terminated, malloc'd; mt its
 * mtime */
static char *read_file(const char *path, struct timespec *mt)
{
	struct stat st;
	char *b;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size > (1 << 20)) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	b = malloc((size_t)st.st_size + 1);
	while (b && got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (b)
		b[got] = '\0';
	if (mt)
		*mt = st.st_mtim;
	return b;
}

/* peer_ip - the client's address as text */
static void peer_ip(struct MHD_Connection *conn, char *ip, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(ip, size, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  ip, (socklen_t)size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
			  (socklen_t)size);
}

int web_cidr_match(const struct cfg_strlist *l, const char *ip)
{
	unsigned char a[16], n[16];
	size_t i;
	int fa = inet_pton(AF_INET, ip, a) == 1 ? AF_INET : 0, alen;

	if (!fa && inet_pton(AF_INET6, ip, a) == 1)
		fa = AF_INET6;
	if (!fa)
		return 0;
	alen = fa == AF_INET ? 32 : 128;
	for (i = 0; i < l->n; i++) {
		char net[64];
		const char *slash = strchr(l->v[i], '/');
		size_t hl = slash ? (size_t)(slash - l->v[i])
				  : strlen(l->v[i]);
		unsigned long bits = (unsigned long)alen;
		int b;

		if (hl >= sizeof(net))
			continue;
		memcpy(net, l->v[i], hl);
		net[hl] = '\0';
		if (inet_pton(fa, net, n) != 1)
			continue;
		if (slash && util_parse_ulong(slash + 1, strlen(slash + 1),
					      (unsigned long)alen, &bits) < 0)
			continue;
		for (b = 0; b < (int)bits; b++)
			if ((a[b / 8] ^ n[b / 8]) & (0x80 >> (b % 8)))
				break;
		if (b == (int)bits)
			return 1;
	}
	return 0;
}

/* password_ok - pw against the configured yescrypt hash (the _file is
 * read each time, so a new hash needs no restart) */
static int password_ok(const char *pw, size_t len)
{
	const struct cfg_dashboard *d = &W.cfg->dashboard;
	struct crypt_data cd;
	char *hash = NULL, pwz[512];
	const char *h = d->password_hash, *out;
	int ok;

	if (len >= sizeof(pwz))
		return 0;
	memcpy(pwz, pw, len);
	pwz[len] = '\0';
	if (!h && d->password_hash_file) {
		hash = read_file(d->password_hash_file, NULL);
		if (!hash) {
			log_warnx("dashboard.password_hash_file %s: %s",
				  d->password_hash_file, strerror(errno));
			return 0;
		}
		hash[strcspn(hash, "\r\n")] = '\0';
		h = hash;
	}
	if (!h || !h[0]) {
		free(hash);
		return 0;
	}
	memset(&cd, 0, sizeof(cd));
	out = crypt_r(pwz, h, &cd);
	ok = out && out[0] != '*' && strlen(out) == strlen(h) &&
	     !memcmp(out, h, strlen(h));
	explicit_bzero(pwz, sizeof(pwz));
	free(hash);
	return ok;
}

/* fail_slot - the failure counter of ip (the oldest reused) */
static struct failure *fail_slot(const char *ip, time_t now)
{
	struct failure *old = &W.fails[0];
	size_t i;

	for (i = 0; i < MAX_FAIL_IPS; i++) {
		if (!strcmp(W.fails[i].ip, ip)) {
			if (now - W.fails[i].start >= 60) {
				W.fails[i].start = now;
				W.fails[i].n = 0;
			}
			return &W.fails[i];
		}
		if (W.fails[i].start < old->start)
			old = &W.fails[i];
	}
	snprintf(old->ip, sizeof(old->ip), "%s", ip);
	old->start = now;
	old->n = 0;
	return old;
}

/* logged_in - does the request carry a live session cookie? */
static int logged_in(struct MHD_Connection *conn)
{
	const char *tok =
		MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
	time_t now = time(NULL);
	size_t i;
	int ok = 0;

	if (!tok || strlen(tok) != 64)
		return 0;
	pthread_mutex_lock(&W.lock);
	for (i = 0; i < MAX_LOGINS; i++)
		if (W.logins[i].expires > now &&
		    !memcmp(W.logins[i].token, tok, 64))
			ok = 1;
	pthread_mutex_unlock(&W.lock);
	return ok;
}

/* reply - a response from memory, copied */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
                             const char *type, const char *body,
                             size_t len, const char *h1, const char *v1)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result res;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; "
				"script-src 'unsafe-inline'; "
				"style-src 'unsafe-inline'; "
				"connect-src 'self'");
	MHD_add_response_header(r, "Strict-Transport-Security",
				"max-age=31536000");
	if (h1)
		MHD_add_response_header(r, h1, v1);
	res = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return res;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned code,
                            const char *s)
{
	return reply(conn, code, "text/plain; charset=utf-8", s, strlen(s),
		     NULL, NULL);
}

/* form_password - the urlencoded password= field of a body into pw */
static long form_password(const char *body, char *pw, size_t size)
{
	const char *p = body;
	size_t o = 0;

	while (p && *p) {
		if (!strncmp(p, "password=", 9)) {
			p += 9;
			while (*p && *p != '&' && o + 1 < size) {
				if (*p == '+') {
					pw[o++] = ' ';
					p++;
				} else if (*p == '%') {
					int hi = util_hexval(p[1]), lo;

					lo = hi < 0 ? -1 : util_hexval(p[2]);
					if (lo < 0)
						return -1;
					pw[o++] = (char)(hi * 16 + lo);
					p += 3;
				} else {
					pw[o++] = *p++;
				}
			}
			pw[o] = '\0';
			return (long)o;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return -1;
}

/* do_login - POST /login */
static enum MHD_Result do_login(struct MHD_Connection *conn, struct req *rq)
{
	char ip[64], pw[512], cookie[200], tok[65];
	unsigned char rnd[32];
	time_t now = time(NULL);
	struct failure *f;
	long len;
	size_t i, best = 0;

	peer_ip(conn, ip, sizeof(ip));
	pthread_mutex_lock(&W.lock);
	f = fail_slot(ip, now);
	if (f->n >= (unsigned)W.cfg->dashboard.login_max_failures) {
		f->n++;
		pthread_mutex_unlock(&W.lock);
		log_warnx("dashboard login from %s refused: %u failures in "
			  "the last minute (login_max_failures)",
			  ip, f->n);
		return text(conn, 429,
			    "too many failed logins, wait a minute\n");
	}
	pthread_mutex_unlock(&W.lock);
	len = rq->toolong ? -1 : form_password(rq->body, pw, sizeof(pw));
	if (len < 0 || !password_ok(pw, (size_t)len)) {
		explicit_bzero(pw, sizeof(pw));
		pthread_mutex_lock(&W.lock);
		f = fail_slot(ip, now);
		f->n++;
		pthread_mutex_unlock(&W.lock);
		log_warnx("dashboard login from %s failed: wrong password",
			  ip);
		return reply(conn, 403, "text/html; charset=utf-8", login_html,
			     strlen(login_html), NULL, NULL);
	}
	explicit_bzero(pw, sizeof(pw));
	if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd)) < 0)
		return text(conn, 500, "no random numbers\n");
	for (i = 0; i < 32; i++)
		snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
	pthread_mutex_lock(&W.lock);
	for (i = 0; i < MAX_LOGINS; i++)
		if (W.logins[i].expires < W.logins[best].expires)
			best = i;
	memcpy(W.logins[best].token, tok, 65);
	W.logins[best].expires =
		now + (time_t)(W.cfg->dashboard.session_lifetime / 1000);
	pthread_mutex_unlock(&W.lock);
	log_info("dashboard login from %s", ip);
	snprintf(cookie, sizeof(cookie),
		 COOKIE "=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; "
			"SameSite=Strict",
		 tok, W.cfg->dashboard.session_lifetime / 1000);
	{
		struct MHD_Response *r = MHD_create_response_from_buffer(
			0, (void *)"", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result res;

		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Set-Cookie", cookie);
		MHD_add_response_header(r, "Location", "/");
		res = MHD_queue_response(conn, 303, r);
		MHD_destroy_response(r);
		return res;
	}
}

/* metrics_ok - metrics_allow, or basic auth with the password */
static int metrics_ok(struct MHD_Connection *conn)
{
	const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    "Authorization");
	char ip[64];
	uint8_t dec[600];
	long n;
	const char *colon;

	peer_ip(conn, ip, sizeof(ip));
	if (web_cidr_match(&W.cfg->dashboard.metrics_allow, ip))
		return 1;
	if (!a || strncasecmp(a, "Basic ", 6))
		return 0;
	a += 6;
	n = ws_unbase64(a, strlen(a), dec, sizeof(dec) - 1);
	if (n < 0)
		return 0;
	dec[n] = '\0';
	colon = memchr(dec, ':', (size_t)n);
	if (!colon)
		return 0;
	/* any user name: there is one password */
	return password_ok(colon + 1,
			   (size_t)n - (size_t)(colon + 1 - (char *)dec));
}

/* on_upgrade - the connection is a WebSocket now: keep its socket */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *rc,
                       const char *extra, size_t extra_len, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
	(void)cls;
	(void)conn;
	(void)rc;
	pthread_mutex_lock(&W.lock);
	if (W.nws == MAX_WS) {
		pthread_mutex_unlock(&W.lock);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	W.ws[W.nws].fd = sock;
	W.ws[W.nws].urh = urh;
	W.ws[W.nws].inlen = extra_len < sizeof(W.ws[0].in) ? extra_len : 0;
	if (W.ws[W.nws].inlen)
		memcpy(W.ws[W.nws].in, extra, extra_len);
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	W.nws++;
	pthread_mutex_unlock(&W.lock);
}

/* do_ws - GET /ws: the handshake (RFC 6455 4.2) */
static enum MHD_Result do_ws(struct MHD_Connection *conn)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       "Host"),
		   *origin = MHD_lookup_connection_value(
			   conn, MHD_HEADER_KIND, "Origin"),
		   *key = MHD_lookup_connection_value(
			   conn, MHD_HEADER_KIND, "Sec-WebSocket-Key"),
		   *ver = MHD_lookup_connection_value(
			   conn, MHD_HEADER_KIND, "Sec-WebSocket-Version"),
		   *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     "Upgrade");
	char want[300], acc[40], ip[64];
	struct MHD_Response *r;
	enum MHD_Result res;

	peer_ip(conn, ip, sizeof(ip));
	snprintf(want, sizeof(want), "https://%s", host ? host : "");
	if (!host || !origin || strcmp(origin, want)) {
		log_warnx("dashboard WebSocket from %s refused: Origin %.100s "
			  "is not %.100s",
			  ip, origin ? origin : "(none)", want);
		return text(conn, 403, "foreign origin\n");
	}
	if (!logged_in(conn))
		return text(conn, 403, "log in first\n");
	if (!up || strcasecmp(up, "websocket") || !ver || strcmp(ver, "13") ||
	    !key || ws_accept_key(key, acc, sizeof(acc)) < 0)
		return text(conn, 400, "not a WebSocket handshake\n");
	r = MHD_create_response_for_upgrade(on_upgrade, NULL);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", acc);
	res = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return res;
}

/* handle - every request */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
	struct req *rq = *req_cls;

	(void)cls;
	(void)version;
	if (!strcmp(method, "POST")) {
		if (!rq) {
			rq = calloc(1, sizeof(*rq));
			if (!rq)
				return MHD_NO;
			*req_cls = rq;
			return MHD_YES;
		}
		if (*upload_size) {
			if (rq->len + *upload_size > MAX_BODY)
				rq->toolong = 1;
			else
				memcpy(rq->body + rq->len, upload,
				       *upload_size);
			if (!rq->toolong)
				rq->len += *upload_size;
			rq->body[rq->len] = '\0';
			*upload_size = 0;
			return MHD_YES;
		}
		if (!strcmp(url, "/login"))
			return do_login(conn, rq);
		return text(conn, 404, "not found\n");
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return text(conn, 405, "method not allowed\n");
	if (!strcmp(url, "/login"))
		return reply(conn, 200, "text/html; charset=utf-8", login_html,
			     strlen(login_html), NULL, NULL);
	if (!strcmp(url, "/metrics")) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f;
		enum MHD_Result res;

		if (!metrics_ok(conn))
			return reply(conn, 401, "text/plain", "password\n", 9,
				     "WWW-Authenticate",
				     "Basic realm=\"smtpd-dashboard\"");
		f = open_memstream(&buf, &len);
		if (!f)
			return MHD_NO;
		pthread_mutex_lock(&W.col->lock);
		collect_metrics(W.col, f);
		pthread_mutex_unlock(&W.col->lock);
		fclose(f);
		res = reply(conn, 200, "text/plain; version=0.0.4", buf, len,
			    NULL, NULL);
		free(buf);
		return res;
	}
	if (!strcmp(url, "/ws"))
		return do_ws(conn);
	if (!logged_in(conn)) {
		if (strcmp(url, "/"))
			return text(conn, 403, "log in first\n");
		return reply(conn, 303, "text/plain", "", 0, "Location",
			     "/login");
	}
	if (!strcmp(url, "/"))
		return reply(conn, 200, "text/html; charset=utf-8", page_html,
			     strlen(page_html), NULL, NULL);
	if (!strcmp(url, "/stats.json")) {
		struct timespec ts;
		enum MHD_Result res;
		char *j;

		clock_gettime(CLOCK_REALTIME, &ts);
		pthread_mutex_lock(&W.col->lock);
		j = collect_json(W.col, (long long)ts.tv_sec * 1000 +
						ts.tv_nsec / 1000000);
		pthread_mutex_unlock(&W.col->lock);
		if (!j)
			return MHD_NO;
		res = reply(conn, 200, "application/json", j, strlen(j), NULL,
			    NULL);
		free(j);
		return res;
	}
	return text(conn, 404, "not found\n");
}

/* done - a request is over: free its body */
static void done(void *cls, struct MHD_Connection *conn, void **req_cls,
                 enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	free(*req_cls);
	*req_cls = NULL;
}

/* start_daemon - a daemon on W.lfd with key and crt */
static struct MHD_Daemon *start_daemon(const char *key, const char *crt)
{
	return MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
			MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			MHD_USE_POLL,
		0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, W.lfd,
		MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, crt,
		MHD_OPTION_HTTPS_PRIORITIES,
		"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
		MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
}

/* load_tls - both PEM files; 0 or -1 (logged) */
static int load_tls(char **key, char **crt, struct timespec *kmt,
                    struct timespec *cmt)
{
	const struct cfg_dashboard *d = &W.cfg->dashboard;

	if (!d->private_key_file || !d->public_key_file) {
		log_error("dashboard.tls.private_key_file and public_key_file "
			  "are required: the dashboard is HTTPS only");
		return -1;
	}
	*key = read_file(d->private_key_file, kmt);
	if (!*key) {
		log_warnx("dashboard.tls.private_key_file %s: %s",
			  d->private_key_file, strerror(errno));
		return -1;
	}
	*crt = read_file(d->public_key_file, cmt);
	if (!*crt) {
		log_warnx("dashboard.tls.public_key_file %s: %s",
			  d->public_key_file, strerror(errno));
		free(*key);
		return -1;
	}
	return 0;
}

int web_start(const struct cfg *cfg, struct collect *c)
{
	char host[128];
	unsigned port;
	const char *why;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	W.cfg = cfg;
	W.col = c;
	if (load_tls(&W.key, &W.crt, &W.key_mt, &W.crt_mt) < 0)
		return -1;
	if (util_parse_hostport(cfg->dashboard.listen_interface,
				strlen(cfg->dashboard.listen_interface), 0,
				host, sizeof(host), &port, &why) < 0) {
		log_error("dashboard.listen_interface: %s", why);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (host[0] && strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto badaddr;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (host[0] && strcmp(host, "localhost") &&
		    inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto badaddr;
		if (!strcmp(host, "localhost"))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	W.lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (W.lfd < 0 ||
	    setsockopt(W.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
		    0 ||
	    bind(W.lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(W.lfd, 64) < 0) {
		log_warnx("dashboard.listen_interface %s: %s",
			  cfg->dashboard.listen_interface, strerror(errno));
		return -1;
	}
	W.d = start_daemon(W.key, W.crt);
	if (!W.d) {
		log_error("dashboard: cannot start HTTPS (bad key or "
			  "certificate in %s, %s?)",
			  cfg->dashboard.private_key_file,
			  cfg->dashboard.public_key_file);
		return -1;
	}
	log_info("dashboard on https://%s", cfg->dashboard.listen_interface);
	return 0;
badaddr:
	log_error("dashboard.listen_interface: %s is not an IP address", host);
	return -1;
}

/* ws_close - drop WebSocket i (lock held) */
static void ws_close(size_t i)
{
	MHD_upgrade_action(W.ws[i].urh, MHD_UPGRADE_ACTION_CLOSE);
	W.ws[i] = W.ws[--W.nws];
}

void web_reload_tls(void)
{
	const struct cfg_dashboard *d = &W.cfg->dashboard;
	struct timespec kmt, cmt;
	struct MHD_Daemon *nd;
	struct stat a, b;
	char *key, *crt;

	if (!W.d || stat(d->private_key_file, &a) < 0 ||
	    stat(d->public_key_file, &b) < 0)
		return;
	if (!memcmp(&a.st_mtim, &W.key_mt, sizeof(a.st_mtim)) &&
	    !memcmp(&b.st_mtim, &W.crt_mt, sizeof(b.st_mtim)))
		return;
	if (load_tls(&key, &crt, &kmt, &cmt) < 0)
		return;
	/* the old daemon stops accepting, the new one takes the socket */
	MHD_quiesce_daemon(W.d);
	nd = start_daemon(key, crt);
	if (!nd) {
		log_error("dashboard: new key or certificate refused, keeping "
			  "the old ones until they change again");
		free(key);
		free(crt);
		W.key_mt = kmt;
		W.crt_mt = cmt;
		nd = start_daemon(W.key, W.crt);
		if (!nd)
			return;
	} else {
		free(W.key);
		free(W.crt);
		W.key = key;
		W.crt = crt;
		W.key_mt = kmt;
		W.crt_mt = cmt;
		log_info("dashboard: key and certificate reloaded");
	}
	pthread_mutex_lock(&W.lock);
	while (W.nws)
		ws_close(0);
	pthread_mutex_unlock(&W.lock);
	MHD_stop_daemon(W.d);
	W.d = nd;
}

size_t web_ws_fds(int *fds, size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&W.lock);
	for (i = 0; i < W.nws && n < max; i++)
		fds[n++] = W.ws[i].fd;
	pthread_mutex_unlock(&W.lock);
	return n;
}

/* ws_send - one frame, whole or not at all; 0 or -1 */
static int ws_send(int fd, int op, const void *p, size_t len)
{
	uint8_t hdr[14];
	size_t hl = ws_frame_header(hdr, op, len);
	struct iovec iov[2] = {{hdr, hl}, {(void *)p, len}};
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n == (ssize_t)(hl + len) ? 0 : -1;
}

void web_ws_input(int fd)
{
	size_t i;

	pthread_mutex_lock(&W.lock);
	for (i = 0; i < W.nws; i++)
		if (W.ws[i].fd == fd)
			break;
	if (i < W.nws) {
		struct wsconn *w = &W.ws[i];
		ssize_t n = recv(fd, w->in + w->inlen,
				 sizeof(w->in) - w->inlen, MSG_DONTWAIT);
		struct ws_frame f;
		int st, drop = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			drop = 1;
		if (n > 0)
			w->inlen += (size_t)n;
		while (!drop && (st = ws_frame_parse(w->in, w->inlen,
						     sizeof(w->in) - 14,
						     &f)) != 0) {
			uint8_t *pl = w->in + f.hdrlen;

			if (st < 0) {
				drop = 1; /* protocol error (7.4.1 1002) */
				break;
			}
			ws_unmask(pl, f.len, f.mask);
			if (f.op == 0x8) {
				ws_send(fd, 0x8, pl, f.len < 2 ? 0 : 2);
				drop = 1;
			} else if (f.op == 0x9) {
				ws_send(fd, 0xA, pl, f.len);
			}
			memmove(w->in, pl + f.len,
				w->inlen - f.hdrlen - f.len);
			w->inlen -= f.hdrlen + f.len;
		}
		if (drop)
			ws_close(i);
	}
	pthread_mutex_unlock(&W.lock);
}

void web_ws_push(const char *t)
{
	size_t i;

	pthread_mutex_lock(&W.lock);
	for (i = 0; i < W.nws;) {
		if (ws_send(W.ws[i].fd, 0x1, t, strlen(t)) < 0)
			ws_close(i); /* too slow or gone: it reconnects */
		else
			i++;
	}
	pthread_mutex_unlock(&W.lock);
}

void web_stop(void)
{
	pthread_mutex_lock(&W.lock);
	while (W.nws)
		ws_close(0);
	pthread_mutex_unlock(&W.lock);
	if (W.d)
		MHD_stop_daemon(W.d);
	W.d = NULL;
	free(W.key);
	free(W.crt);
	W.key = W.crt = NULL;
}
