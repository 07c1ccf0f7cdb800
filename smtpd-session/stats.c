/*
 * stats.c - what a session tells the statistics collector.
 *
 * One datagram per event (common/statsmsg.c) to dashboard.stats_socket,
 * sent with MSG_DONTWAIT: with the collector down or slow the datagram
 * is dropped and counted (the disconnect line's stats_dropped=), and the
 * session goes on as if nothing happened. Nothing is sent unless
 * dashboard.is_enabled; the socket is made in stats_begin, before the
 * sandbox, and the events carry only what the session logs anyway.
 * State is file-global: one process serves one connection.
 */
#include "stats.h"
#include "statsmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	int fd;
	int on;
	char path[108];
	char server[STATSMSG_FIELD + 1];
	char ip[64];
	unsigned long dropped;
} S = {-1, 0, "", "", "", 0};

void stats_begin(const struct cfg *cfg, const struct cfg_server *srv,
                 const char *peer_ip)
{
	const char *label = "-";

	if (!cfg->dashboard.is_enabled || !cfg->dashboard.stats_socket ||
	    strlen(cfg->dashboard.stats_socket) >= sizeof(S.path))
		return;
	if (S.fd < 0)
		S.fd = statsmsg_open(cfg->dashboard.stats_socket);
	S.on = 1;
	S.dropped = 0; /* a forked child counts its own */
	snprintf(S.path, sizeof(S.path), "%s", cfg->dashboard.stats_socket);
	if (srv)
		label = srv->name ? srv->name : srv->listen_interface;
	snprintf(S.server, sizeof(S.server), "%s", label);
	snprintf(S.ip, sizeof(S.ip), "%s", peer_ip ? peer_ip : "unknown");
}

/* send - one event with the server and client in front */
static void send_ev(enum statsmsg_type t, const char *a, const char *b,
                    const char *c)
{
	const char *f[5] = {S.server, S.ip, a, b, c};
	size_t nf = t == SM_HELO || t == SM_REJ ? 3 : t == SM_CONN ? 4 : 5;

	if (!S.on)
		return;
	statsmsg_send(S.fd, S.path, t, f, nf, 0, &S.dropped);
}

void stats_peer(const char *peer_ip)
{
	snprintf(S.ip, sizeof(S.ip), "%s", peer_ip);
}

void stats_connect(const char *result)
{
	/* tcpserver -h sets the client's reverse name when it has one */
	const char *rdns = getenv("TCPREMOTEHOST");

	send_ev(SM_CONN, result, rdns ? rdns : "", NULL);
}

void stats_refused(const struct cfg *cfg, const struct cfg_server *srv,
                   const char *peer_ip)
{
	stats_begin(cfg, srv, peer_ip);
	stats_connect("refused");
}

void stats_helo(const char *name)
{
	send_ev(SM_HELO, name, NULL, NULL);
}

void stats_message(long long size, size_t nrcpt, int tls)
{
	char a[32], b[32];

	snprintf(a, sizeof(a), "%lld", size);
	snprintf(b, sizeof(b), "%zu", nrcpt);
	send_ev(SM_MSG, a, b, tls ? "1" : "0");
}

void stats_refusal(int code)
{
	char a[16];

	snprintf(a, sizeof(a), "%d", code);
	send_ev(SM_REJ, a, NULL, NULL);
}

void stats_end(int tls, const char *result, double secs)
{
	char a[32];

	snprintf(a, sizeof(a), "%.3f", secs);
	send_ev(SM_END, tls ? "1" : "0", result, a);
}

unsigned long stats_dropped(void)
{
	return S.dropped;
}
