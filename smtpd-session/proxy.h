/* proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) in front of a connection from a trusted proxy */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

#define PROXY_V1_MIN 15   /* "PROXY UNKNOWN\r\n" */
#define PROXY_V1_MAX 107  /* the spec's longest line, CRLF included */
#define PROXY_V2_FIXED 16 /* signature, ver/cmd, family, length */
#define PROXY_V2_MAX 4096 /* the most we take: 16 + addresses + TLVs */

enum proxy_res {
	PROXY_MORE, /* read exactly *need more bytes, then call again */
	PROXY_DONE, /* a whole, valid header */
	PROXY_BAD,  /* malformed: close the connection */
};

struct proxy_hdr {
	int version;   /* 1 or 2 */
	int local;     /* no client address in it (v1 UNKNOWN, v2 LOCAL,
			  v2 UNSPEC or AF_UNIX): the connection's own is
			  the client's */
	const char *kind; /* "TCP4", "TCP6", "UNKNOWN", "LOCAL", "UNIX",
			     "UNSPEC" */
	char src_ip[64], dst_ip[64]; /* text, set unless local */
	unsigned src_port, dst_port;
	size_t len; /* bytes of the header */
	size_t ntlv; /* v2 TLVs seen (framing checked, values ignored) */
};

/* proxy_scan - look at the connection's first n bytes p[0..n). Pure.
 * PROXY_MORE: *need (> 0) more bytes are needed, and reading exactly
 * that many never reads past the header into the SMTP stream, whatever
 * the proxy sent. PROXY_DONE: the header is p[0..h->len), h filled
 * (h->len == n when the caller read as told). PROXY_BAD: *why says
 * what is wrong (a constant string). Every prefix is judged as early as
 * it can be: a wrong first byte is refused at n == 1. */
enum proxy_res proxy_scan(const unsigned char *p, size_t n, size_t *need,
                          struct proxy_hdr *h, const char **why);

/* proxy_read - read the header from fd byte-exact (never a byte past
 * it), all of it within timeout_ms. 0 with h filled; -1 with *why
 * (malformed, EOF, I/O error, timeout, or the session's stop signal) */
int proxy_read(int fd, long long timeout_ms, struct proxy_hdr *h,
               const char **why);

/* proxy_again - do the unread bytes p[0..n) at a command line's start
 * open another PROXY header ("PROXY " or v2's signature)? 1 or 0 */
int proxy_again(const char *p, size_t n);

#endif
