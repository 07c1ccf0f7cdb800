/* cidr.h - address lists ("192.0.2.0/24", "2001:db8::/32", "::1") for
 * proxy_trusted and xclient_trusted */
#ifndef CIDR_H
#define CIDR_H

#include "cfg.h"

/* cidr_check - is s one address or address/prefix, IPv4 or IPv6? 0, or
 * -1 with a reason in *why (a constant string) */
int cidr_check(const char *s, const char **why);

/* cidr_match - is the address ip (text; an IPv4-mapped IPv6 address
 * counts as its IPv4 address) inside any entry of list? 1 or 0; "unknown"
 * and anything unparsable match nothing */
int cidr_match(const struct cfg_strlist *list, const char *ip);

#endif
