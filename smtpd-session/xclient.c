/*
 * xclient.c - XCLIENT (Postfix's XCLIENT_README), as nginx's mail proxy
 * sends it with "xclient on": "XCLIENT ADDR=192.0.2.1 LOGIN=u
 * NAME=[UNAVAILABLE]" and the like, before it replays the client's
 * EHLO, MAIL and RCPT.
 *
 * Who may: only a session whose servers[] entry has xclient_on and
 * whose peer (the connection's, or a PROXY header's client) is in
 * xclient_trusted (s->xclient_ok, set once at connect: a later XCLIENT
 * is still judged by the real peer, as in Postfix). Others get 550
 * 5.7.0, and never see XCLIENT in the EHLO reply. Not inside a mail
 * transaction (503 5.5.1).
 *
 * Attributes (names without case): NAME, ADDR, PORT, PROTO, HELO, LOGIN;
 * values are xtext (RFC 3461: "+XX" for a byte); "[UNAVAILABLE]" and
 * "[TEMPUNAVAIL]" mean not known. ADDR is IPv4, or IPv6 after "IPV6:";
 * PORT 0..65535; PROTO SMTP or ESMTP; NAME, HELO and LOGIN printable
 * ASCII without spaces, at most 255 bytes. Anything else, an attribute
 * without "=", or a value out of its syntax: 501 5.5.4, and nothing is
 * changed (the whole command is checked before any of it is applied).
 * An attribute not given keeps its value, but HELO and PROTO: the
 * session starts again as after connect, greeted only if HELO= said.
 *
 * What it changes: the client address and port (limits, envelope,
 * Received, logs), the name in Received, the HELO name and protocol
 * (as if HELO or EHLO had been given when HELO= is), the login (logged
 * only: this server takes no submission, so it grants nothing). The
 * envelope records the peer that sent XCLIENT as X-Spool-Proxy "... via
 * XCLIENT". The caller then answers with the 220 greeting, as Postfix.
 */
#include "xclient.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct xc {
	int has_addr, has_port, has_name, has_helo, has_proto, has_login;
	char addr[64];
	unsigned port;
	char name[256], helo[256], login[256];
	int esmtp;
};

int xclient_xtext(const char *in, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = util_hexval(in[i + 1]);
			lo = util_hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '=') {
			return -1;
		}
		if (c <= 0x20 || c >= 0x7f || o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* unavailable - "[UNAVAILABLE]" or "[TEMPUNAVAIL]" */
static int unavailable(const char *v)
{
	return !strcasecmp(v, "[UNAVAILABLE]") ||
	       !strcasecmp(v, "[TEMPUNAVAIL]");
}

/* parse_addr - ADDR's value into text as the session shows addresses */
static int parse_addr(const char *v, char *out, size_t size)
{
	unsigned char a[16];

	if (!strncasecmp(v, "IPV6:", 5)) {
		if (inet_pton(AF_INET6, v + 5, a) != 1)
			return -1;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a))
			return inet_ntop(AF_INET, a + 12, out,
					 (socklen_t)size)
				       ? 0
				       : -1;
		return inet_ntop(AF_INET6, a, out, (socklen_t)size) ? 0 : -1;
	}
	if (inet_pton(AF_INET, v, a) != 1)
		return -1;
	return inet_ntop(AF_INET, a, out, (socklen_t)size) ? 0 : -1;
}

/* one_attr - NAME=value (value already xtext-decoded) into x; 0 or -1 */
static int one_attr(struct xc *x, const char *k, size_t kl, const char *v)
{
	int un = unavailable(v);

#define KEY(s) (kl == sizeof(s) - 1 && !strncasecmp(k, s, kl))
	if (KEY("ADDR")) {
		x->has_addr = 1;
		if (un) {
			snprintf(x->addr, sizeof(x->addr), "unknown");
			return 0;
		}
		return parse_addr(v, x->addr, sizeof(x->addr));
	}
	if (KEY("PORT")) {
		unsigned long p = 0;

		x->has_port = 1;
		if (!un && util_parse_ulong(v, strlen(v), 65535, &p) < 0)
			return -1;
		x->port = (unsigned)p;
		return 0;
	}
	if (KEY("PROTO")) {
		x->has_proto = 1;
		if (un)
			x->esmtp = 0;
		else if (!strcasecmp(v, "ESMTP"))
			x->esmtp = 1;
		else if (!strcasecmp(v, "SMTP"))
			x->esmtp = 0;
		else
			return -1;
		return 0;
	}
	if (KEY("NAME")) {
		x->has_name = 1;
		snprintf(x->name, sizeof(x->name), "%s", un ? "" : v);
		return 0;
	}
	if (KEY("HELO")) {
		x->has_helo = 1;
		snprintf(x->helo, sizeof(x->helo), "%s", un ? "" : v);
		return 0;
	}
	if (KEY("LOGIN")) {
		x->has_login = 1;
		snprintf(x->login, sizeof(x->login), "%s", un ? "" : v);
		return 0;
	}
#undef KEY
	return -1;
}

/* parse - every attribute of the command into x; 0 or -1 */
static int parse(struct xc *x, const char *arg, size_t alen)
{
	size_t i = 0;
	int count = 0;

	memset(x, 0, sizeof(*x));
	while (i < alen) {
		const char *a, *eq;
		size_t n;
		char v[256];

		while (i < alen && arg[i] == ' ')
			i++;
		if (i == alen)
			break;
		a = arg + i;
		while (i < alen && arg[i] != ' ')
			i++;
		n = (size_t)(arg + i - a);
		eq = memchr(a, '=', n);
		if (!eq || eq == a)
			return -1;
		if (xclient_xtext(eq + 1, (size_t)(a + n - eq - 1), v,
				  sizeof(v)) < 0)
			return -1;
		if (one_attr(x, a, (size_t)(eq - a), v) < 0)
			return -1;
		count++;
	}
	return count ? 0 : -1;
}

enum reply_id xclient_apply(struct session *s, const char *arg,
                            size_t alen)
{
	char was[64], login[120];
	unsigned was_port = s->peer_port;
	struct xc x;

	if (!s->xclient_ok) {
		log_info("XCLIENT from %s refused: not in xclient_trusted",
			 s->peer_ip);
		return R_XCLIENT_DENY;
	}
	if (s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_BDAT)
		return R_XCLIENT_TX;
	if (parse(&x, arg, alen) < 0)
		return R_XCLIENT_SYNTAX;
	snprintf(was, sizeof(was), "%s", s->peer_ip);
	if (x.has_addr && strcmp(x.addr, s->peer_ip) && s->claim_ip &&
	    s->claim_ip(s->claim_arg, x.addr) < 0) {
		log_info("XCLIENT from %s: client %s refused: "
			 "max_clients_per_ip reached",
			 was, x.addr);
		return R_FULL;
	}
	if (x.has_addr) {
		memcpy(s->peer_buf, x.addr, sizeof(s->peer_buf));
		s->peer_ip = s->peer_buf;
	}
	if (x.has_port)
		s->peer_port = x.port;
	if (x.has_name)
		memcpy(s->peer_name, x.name, sizeof(s->peer_name));
	/* back to the connection's start: the HELO name and protocol are
	 * XCLIENT's, or none until the next HELO/EHLO */
	if (x.has_helo)
		memcpy(s->helo, x.helo, sizeof(s->helo));
	else
		s->helo[0] = '\0';
	s->esmtp = x.has_proto && x.esmtp;
	/* the proxy is the peer that sent the first XCLIENT; a later one
	 * comes from the same connection */
	if (!strstr(s->proxy, " via XCLIENT"))
		snprintf(s->proxy, sizeof(s->proxy), "%s port %u via XCLIENT",
			 was, was_port);
	util_printable(login, sizeof(login), x.login, strlen(x.login), 100);
	log_info("XCLIENT from %s port %u: client %s port %u name=%s "
		 "helo=%s login=%s",
		 was, was_port, s->peer_ip, s->peer_port,
		 s->peer_name[0] ? s->peer_name : "-",
		 s->helo[0] ? s->helo : "-", login[0] ? login : "-");
	return R_OKAY;
}
