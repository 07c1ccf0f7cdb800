/*
 * listen.c - the two systemd protocols the accept mode speaks, by hand,
 * and its own listeners.
 *
 * LISTEN_FDS/LISTEN_PID (sd_listen_fds(3)) are three environment
 * variables and sd_notify(3) is one datagram to NOTIFY_SOCKET: parsing
 * them here keeps libsystemd out of smtpd-session, whose inetd mode pays
 * every linked library's start-up on every connection. Both variables are
 * removed from the environment once read, so no session inherits them.
 */
#include "listen.h"
#include "accept.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

void listen_notify_open(void)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!ns || (ns[0] != '/' && ns[0] != '@'))
		return;
	n = strlen(ns);
	if (n >= sizeof(notify_addr.sun_path))
		return;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, ns, n);
	if (ns[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsetenv("NOTIFY_SOCKET");
}

void listen_notify(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(msg))
		sendto(notify_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
		       (struct sockaddr *)&notify_addr, notify_len);
}

int listen_fds_count(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long p, n;

	if (!pid || !fds ||
	    util_parse_ulong(pid, strlen(pid), 4194304, &p) < 0 ||
	    (pid_t)p != getpid() ||
	    util_parse_ulong(fds, strlen(fds), ACCEPT_MAX_LISTEN, &n) < 0)
		return 0;
	return (int)n;
}

int listen_take_fds(int *fds, int max)
{
	int n = listen_fds_count(), i;

	if (n > max)
		n = max;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (i = 0; i < n; i++) {
		int fd = 3 + i, on = 0, fl;
		socklen_t ol = sizeof(on);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) < 0 ||
		    !on) {
			log_error("LISTEN_FDS: fd %d is not a listening "
				  "socket (use Accept=no)",
				  fd);
			return -1;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return -1;
		fds[i] = fd;
	}
	return n;
}

int listen_bind(const char *spec)
{
	char host[128];
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hl;
	struct addrinfo hints, *ai = NULL;
	int fd, on = 1, r;

	if (!colon || !colon[1])
		goto bad;
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h = spec + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	r = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (r != 0) {
		log_error("--listen %s: %s", spec, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* as deep as net.core.somaxconn allows (4096 by default, as
	 * systemd's Backlog=): a burst the parent has not accepted yet
	 * waits there rather than having its SYNs dropped and resent 1, 3,
	 * 7, 15, 31 s later */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		close(fd);
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	log_error("--listen %s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	return -1;
bad:
	log_error("--listen %s: expected ADDR:PORT, [ADDR]:PORT or :PORT",
		  spec);
	return -1;
}

void listen_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
