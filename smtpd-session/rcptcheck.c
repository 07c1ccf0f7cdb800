/*
 * rcptcheck.c - the session's half of rcpt_check: it asks spoolerd,
 * which holds the database credentials a session must never see
 * (README, "Trust model"), whether a recipient exists.
 *
 * The socket is spool_dir/lookup/socket (0660 spoolerd:smtpd-spool, in a
 * 2750 directory): only the spool group reaches it. It is connected at
 * the first recipient that needs a check, never before, so a session of
 * a server without rcpt_check never has it; connect(2) is not among the
 * calls the sandbox denies (sandbox.c), so this works after the filter
 * is on, in both launch modes. One connection serves the session's
 * lookups; a reused one that turns out closed (spoolerd restarted, or
 * dropped us as idle) is made again once.
 *
 * Every wait is bounded: the connect is non-blocking, and the whole
 * lookup has min(rcpt_check_timeout, timeout) from the start; io_stop
 * (SIGALRM at max_session_time, SIGTERM) ends it at once. A lookup that
 * ran out of time closes the socket, so that its late reply cannot be
 * read as another's; replies carry the request's id as well.
 *
 * The key sent is the address with its domain in A-label form (as
 * allowed_hosts): "jörg@bücher.example" is asked as
 * "jörg@xn--bcher-kva.example"; spoolerd folds ASCII case.
 */
#include "rcptcheck.h"
#include "io.h"
#include "lookupproto.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct {
	const struct cfg *cfg;
	const struct cfg_server *srv;
	int fd;
	unsigned long id;
	char in[LOOKUP_LINE_MAX];
	size_t inlen;
} rc = {NULL, NULL, -1, 0, {0}, 0};

void rcptcheck_init(const struct cfg *cfg, const struct cfg_server *srv)
{
	rc.cfg = cfg;
	rc.srv = srv;
}

int rcptcheck_fd(void)
{
	return rc.fd;
}

/* drop - close the connection and forget what was read on it */
static void drop(void)
{
	if (rc.fd >= 0)
		close(rc.fd);
	rc.fd = -1;
	rc.inlen = 0;
}

/* wait_fd - poll fd for ev until deadline (monotonic ms); 1 ready, 0
 * timed out, -1 stopped or failed */
static int wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd p;
	long long left;
	int r;

	for (;;) {
		if (io_stop)
			return -1;
		left = deadline - util_mono_ms();
		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = ev;
		p.revents = 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* open_socket - a connection to spool_dir/lookup/socket; 0, or -1 with
 * why */
static int open_socket(long long deadline, char *why, size_t wsize)
{
	struct sockaddr_un sa;
	int fd, w, err = 0;
	socklen_t el = sizeof(err);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s",
		     rc.cfg->spool_dir, LOOKUP_SOCKET_DIR, LOOKUP_SOCKET_NAME);
	if (w < 0 || (size_t)w >= sizeof(sa.sun_path)) {
		snprintf(why, wsize, "lookup socket path too long");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, wsize, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			snprintf(why, wsize, "connect %s: %s", sa.sun_path,
				 strerror(errno));
			close(fd);
			return -1;
		}
		if (wait_fd(fd, POLLOUT, deadline) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
		    err) {
			snprintf(why, wsize, "connect %s: %s", sa.sun_path,
				 err ? strerror(err) : "timed out");
			close(fd);
			return -1;
		}
	}
	rc.fd = fd;
	rc.inlen = 0;
	return 0;
}

/* send_all - the request, non-blocking, before deadline; 0 or -1 */
static int send_all(const char *p, size_t n, long long deadline)
{
	while (n) {
		ssize_t w = send(rc.fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN &&
		    wait_fd(rc.fd, POLLOUT, deadline) == 1)
			continue;
		return -1;
	}
	return 0;
}

/* take_line - the first complete line in rc.in into r (consumed); 1 one
 * parsed, 0 none yet, -1 malformed */
static int take_line(struct lookup_reply *r)
{
	char *lf = memchr(rc.in, '\n', rc.inlen);
	size_t n;
	int ok;

	if (!lf)
		return rc.inlen >= sizeof(rc.in) ? -1 : 0;
	n = (size_t)(lf - rc.in);
	ok = lookup_reply_parse(rc.in, n, r);
	memmove(rc.in, lf + 1, rc.inlen - n - 1);
	rc.inlen -= n + 1;
	return ok < 0 ? -1 : 1;
}

/* ask - one request and its reply on the open socket; the status, or
 * -1 (why set; -2: the connection was closed before any reply byte, a
 * reused connection may be retried) */
static int ask(const char *req, size_t n, unsigned long id,
               long long deadline, char *why, size_t wsize)
{
	struct lookup_reply r;
	int got = 0;

	if (send_all(req, n, deadline) < 0) {
		snprintf(why, wsize, "lookup socket: send: %s",
			 strerror(errno));
		return -2;
	}
	for (;;) {
		int t = take_line(&r);
		ssize_t k;

		if (t < 0) {
			snprintf(why, wsize, "malformed reply from spoolerd");
			return -1;
		}
		if (t > 0) {
			if (r.id != id)
				continue; /* a late answer to an earlier one */
			if (r.status == LK_TEMP)
				snprintf(why, wsize, "spoolerd: %s", r.reason);
			return (int)r.status;
		}
		t = wait_fd(rc.fd, POLLIN, deadline);
		if (t <= 0) {
			snprintf(why, wsize, "%s",
				 t == 0 ? "lookup timed out" : "interrupted");
			return -1;
		}
		k = read(rc.fd, rc.in + rc.inlen, sizeof(rc.in) - rc.inlen);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			snprintf(why, wsize, "spoolerd closed the lookup "
					     "socket");
			return got ? -1 : -2;
		}
		got = 1;
		rc.inlen += (size_t)k;
	}
}

int rcptcheck_lookup(void *arg, const char *addr, size_t len, char *why,
                     size_t wsize)
{
	char key[LOOKUP_ADDR_MAX + 1], req[LOOKUP_LINE_MAX + 1];
	const char *at = memchr(addr, '@', len);
	long long t, deadline;
	size_t lp;
	int n, r = -1, tries, fresh;

	(void)arg;
	why[0] = '\0';
	if (!rc.srv || !rc.srv->rcpt_check || !at) {
		snprintf(why, wsize, "no rcpt_check");
		return RC_ERROR;
	}
	/* the domain as allowed_hosts has it: A-labels */
	lp = (size_t)(at - addr);
	if (lp + 1 > sizeof(key)) {
		snprintf(why, wsize, "address too long");
		return RC_ERROR;
	}
	memcpy(key, addr, lp + 1);
	if (utf8_has_8bit(at + 1, len - lp - 1)) {
		char ace[256];

		n = utf8_domain_to_ascii(at + 1, len - lp - 1, ace,
					 sizeof(ace));
		if (n < 0 || lp + 1 + (size_t)n >= sizeof(key)) {
			snprintf(why, wsize, "domain has no A-label form");
			return RC_ERROR;
		}
		memcpy(key + lp + 1, ace, (size_t)n);
		n += (int)lp + 1;
	} else {
		if (len >= sizeof(key)) {
			snprintf(why, wsize, "address too long");
			return RC_ERROR;
		}
		memcpy(key, addr, len);
		n = (int)len;
	}
	key[n] = '\0';
	t = rc.srv->rcpt_check_timeout;
	if (t > rc.srv->timeout * 1000)
		t = rc.srv->timeout * 1000;
	deadline = util_mono_ms() + t;
	if (++rc.id > LOOKUP_ID_MAX)
		rc.id = 1;
	n = lookup_request_format(req, sizeof(req), rc.id, rc.srv->rcpt_check,
				  key, (size_t)n);
	if (n < 0) {
		snprintf(why, wsize, "request too long");
		return RC_ERROR;
	}
	for (tries = 0; tries < 2; tries++) {
		fresh = rc.fd < 0;
		if (fresh && open_socket(deadline, why, wsize) < 0)
			return RC_ERROR;
		r = ask(req, (size_t)n, rc.id, deadline, why, wsize);
		if (r >= 0)
			break;
		drop();
		if (r == -1 || fresh)
			return RC_ERROR;
	}
	if (r == LK_FOUND)
		return RC_KNOWN;
	if (r == LK_NOTFOUND)
		return RC_UNKNOWN;
	return RC_ERROR;
}
