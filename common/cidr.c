/*
 * cidr.c - address lists for the keys that name trusted peers
 * (proxy_trusted, xclient_trusted).
 *
 * An entry is an IPv4 or IPv6 address, alone (a /32 or /128) or with a
 * prefix length ("10.0.0.0/8", "fd00::/8"). IPv4 entries match IPv4
 * peers, and IPv6 peers written as IPv4-mapped addresses
 * (::ffff:192.0.2.1), which the sessions show as IPv4 anyway; IPv6
 * entries match IPv6 peers. Bits past the prefix in an entry are
 * ignored, as in most CIDR tools. The lists are short and checked once
 * per connection, so entries are parsed on each match: there is no
 * second, binary copy of the config to keep in step.
 */
#include "cidr.h"
#include "util.h"

#include <arpa/inet.h>
#include <string.h>

struct net {
	int v6;
	unsigned char a[16];
	unsigned bits;
};

/* parse_addr - ip text to 4 or 16 bytes; IPv4-mapped IPv6 becomes IPv4.
 * 0 or -1 */
static int parse_addr(const char *s, struct net *n)
{
	if (inet_pton(AF_INET, s, n->a) == 1) {
		n->v6 = 0;
		n->bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, n->a) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
							 0, 0, 0, 0, 0xff, 0xff};

		if (!memcmp(n->a, mapped, 12)) {
			memmove(n->a, n->a + 12, 4);
			n->v6 = 0;
			n->bits = 32;
			return 0;
		}
		n->v6 = 1;
		n->bits = 128;
		return 0;
	}
	return -1;
}

/* parse_net - "addr" or "addr/len" into n; 0, or -1 with *why */
static int parse_net(const char *s, struct net *n, const char **why)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len;

	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "not an IP address";
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (parse_addr(addr, n) < 0 || (strchr(addr, ':') && !n->v6 &&
					slash)) {
		/* "::ffff:10.0.0.0/104" would mean another length: refuse */
		*why = "not an IP address";
		return -1;
	}
	if (!slash)
		return 0;
	if (util_parse_ulong(slash + 1, strlen(slash + 1), n->v6 ? 128 : 32,
			     &len) < 0) {
		*why = n->v6 ? "prefix length must be 0..128"
			     : "prefix length must be 0..32";
		return -1;
	}
	n->bits = (unsigned)len;
	return 0;
}

int cidr_check(const char *s, const char **why)
{
	struct net n;

	return parse_net(s, &n, why);
}

/* in_net - do the first n->bits bits of a equal n's? */
static int in_net(const struct net *n, const unsigned char *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (memcmp(n->a, a, full))
		return 0;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((n->a[full] & mask) != (a[full] & mask))
			return 0;
	}
	return 1;
}

int cidr_match(const struct cfg_strlist *list, const char *ip)
{
	struct net peer, n;
	const char *why;
	size_t i;

	if (!ip || parse_addr(ip, &peer) < 0)
		return 0;
	for (i = 0; i < list->n; i++) {
		if (parse_net(list->v[i], &n, &why) < 0 || n.v6 != peer.v6)
			continue;
		if (in_net(&n, peer.a))
			return 1;
	}
	return 0;
}
