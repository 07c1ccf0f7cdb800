/*
 * proxy.c - the PROXY protocol header, versions 1 and 2 (HAProxy's
 * proxy-protocol.txt), read before anything else on a connection whose
 * servers[] entry has proxy_protocol on and whose peer is in
 * proxy_trusted (serve.c decides; this file only parses and reads).
 *
 * Contract: proxy_scan is pure and total: any bytes give MORE, DONE or
 * BAD, never a read outside p[0..n), never a length it has not checked.
 * It says how many bytes to read next so that the reader never takes a
 * byte past the header: the SMTP client's first command (or, on port
 * 465, its TLS ClientHello) stays in the socket for the session.
 *
 *   v1: "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN
 *       ...\r\n", at most 107 bytes; every v1 header is at least 15, so
 *       15 are read first, then 2 (no CR seen at the end) or 1 at a time
 *       until the LF. Exactly one space between fields, CRLF at the end,
 *       addresses of the family named, ports 0..65535 without leading
 *       zeros; anything else is malformed.
 *   v2: 12 signature bytes, version 2 with command LOCAL or PROXY, a
 *       family (UNSPEC, INET, INET6, UNIX) and transport (UNSPEC, STREAM,
 *       DGRAM) byte, a 16-bit length, then that many bytes: addresses of
 *       the family's size (12, 36, 216), then TLVs (type, 16-bit length,
 *       value) that must exactly fill the rest. At most PROXY_V2_MAX
 *       bytes in all. INET and INET6 must be STREAM.
 *
 * Which address the session uses: the header's source for TCP4, TCP6,
 * INET and INET6. v1 UNKNOWN, v2 LOCAL (the proxy's own health check),
 * v2 UNSPEC and AF_UNIX carry no usable client address; the spec says
 * to use the connection's real endpoints then, and so do we (h->local).
 */
#include "proxy.h"
#include "io.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static const unsigned char sig2[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* v1_port - a decimal port, no sign, no leading zero; 0 or -1 */
static int v1_port(const char *s, size_t n, unsigned *port)
{
	unsigned long v;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	if (util_parse_ulong(s, n, 65535, &v) < 0)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* v1_addr - one address of family af into out as text; 0 or -1 */
static int v1_addr(const char *s, size_t n, int af, char *out,
                   size_t size)
{
	unsigned char a[16];
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(af, tmp, a) != 1)
		return -1;
	if (af == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
		return inet_ntop(AF_INET, a + 12, out, (socklen_t)size)
			       ? 0
			       : -1;
	return inet_ntop(af, a, out, (socklen_t)size) ? 0 : -1;
}

/* v1_parse - the whole line p[0..n), CRLF included */
static enum proxy_res v1_parse(const char *p, size_t n, struct proxy_hdr *h,
                               const char **why)
{
	const char *f[6];
	size_t fl[6], i, k = 0, start = 6;
	int af;

	if (n < PROXY_V1_MIN || p[n - 2] != '\r' || p[n - 1] != '\n') {
		*why = "v1: the line does not end in CRLF";
		return PROXY_BAD;
	}
	n -= 2;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c > 0x7e) {
			*why = "v1: a control or non-ASCII byte";
			return PROXY_BAD;
		}
	}
	h->version = 1;
	if (n >= 13 && !memcmp(p + 6, "UNKNOWN", 7) &&
	    (n == 13 || p[13] == ' ')) {
		/* the rest, if any, is to be ignored (spec 2.1) */
		h->local = 1;
		h->kind = "UNKNOWN";
		return PROXY_DONE;
	}
	for (i = 6; i <= n && k < 6; i++) {
		if (i < n && p[i] != ' ')
			continue;
		f[k] = p + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (k != 5 || start != n + 1) {
		*why = "v1: not five fields after PROXY";
		return PROXY_BAD;
	}
	for (i = 0; i < 5; i++)
		if (fl[i] == 0) {
			*why = "v1: an empty field (two spaces)";
			return PROXY_BAD;
		}
	if (fl[0] == 4 && !memcmp(f[0], "TCP4", 4)) {
		af = AF_INET;
		h->kind = "TCP4";
	} else if (fl[0] == 4 && !memcmp(f[0], "TCP6", 4)) {
		af = AF_INET6;
		h->kind = "TCP6";
	} else {
		*why = "v1: protocol not TCP4, TCP6 or UNKNOWN";
		return PROXY_BAD;
	}
	if (v1_addr(f[1], fl[1], af, h->src_ip, sizeof(h->src_ip)) < 0 ||
	    v1_addr(f[2], fl[2], af, h->dst_ip, sizeof(h->dst_ip)) < 0) {
		*why = "v1: an address that is not of the family named";
		return PROXY_BAD;
	}
	if (v1_port(f[3], fl[3], &h->src_port) < 0 ||
	    v1_port(f[4], fl[4], &h->dst_port) < 0) {
		*why = "v1: a port that is not 0..65535";
		return PROXY_BAD;
	}
	return PROXY_DONE;
}

/* v1_scan - the v1 line so far */
static enum proxy_res v1_scan(const unsigned char *p, size_t n,
                              size_t *need, struct proxy_hdr *h,
                              const char **why)
{
	static const char pre[] = "PROXY ";
	const unsigned char *lf;
	size_t m = n < 6 ? n : 6;

	if (memcmp(p, pre, m)) {
		*why = "v1: does not start with \"PROXY \"";
		return PROXY_BAD;
	}
	if (n < PROXY_V1_MIN && memchr(p, '\n', n)) {
		*why = "v1: a line shorter than any header";
		return PROXY_BAD;
	}
	if (n < PROXY_V1_MIN) {
		*need = PROXY_V1_MIN - n;
		return PROXY_MORE;
	}
	lf = memchr(p, '\n', n > PROXY_V1_MAX ? PROXY_V1_MAX : n);
	if (lf) {
		h->len = (size_t)(lf - p) + 1;
		return v1_parse((const char *)p, h->len, h, why);
	}
	if (n >= PROXY_V1_MAX) {
		*why = "v1: no LF within 107 bytes";
		return PROXY_BAD;
	}
	/* a CR last: the LF may be next; else at least CR LF are to come */
	*need = p[n - 1] == '\r' ? 1 : 2;
	if (n + *need > PROXY_V1_MAX)
		*need = PROXY_V1_MAX - n;
	return PROXY_MORE;
}

/* be16 - a big-endian 16-bit number */
static unsigned be16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

/* v2_tlvs - TLVs must exactly fill p[0..n) */
static int v2_tlvs(const unsigned char *p, size_t n, size_t *count)
{
	size_t off = 0;

	*count = 0;
	while (off < n) {
		size_t vl;

		if (n - off < 3)
			return -1;
		vl = be16(p + off + 1);
		if (n - off - 3 < vl)
			return -1;
		off += 3 + vl;
		(*count)++;
	}
	return 0;
}

/* v2_parse - the whole header p[0..n), n == 16 + its length field */
static enum proxy_res v2_parse(const unsigned char *p, size_t n,
                               struct proxy_hdr *h, const char **why)
{
	unsigned cmd = p[12] & 0x0f, fam = p[13] >> 4, tr = p[13] & 0x0f;
	const unsigned char *b = p + PROXY_V2_FIXED;
	size_t bl = n - PROXY_V2_FIXED, al;

	h->version = 2;
	h->len = n;
	if (cmd == 0) {
		/* LOCAL: the proxy speaking for itself; the block is to be
		 * skipped whatever it holds (spec 2.2) */
		h->local = 1;
		h->kind = "LOCAL";
		return PROXY_DONE;
	}
	switch (fam) {
	case 0:
		h->local = 1;
		h->kind = "UNSPEC";
		return PROXY_DONE;
	case 1:
		al = 12;
		h->kind = "TCP4";
		break;
	case 2:
		al = 36;
		h->kind = "TCP6";
		break;
	case 3:
		al = 216;
		h->kind = "UNIX";
		break;
	default:
		*why = "v2: unknown address family";
		return PROXY_BAD;
	}
	if (tr > 2) {
		*why = "v2: unknown transport";
		return PROXY_BAD;
	}
	if (fam != 3 && tr != 1) {
		*why = "v2: INET or INET6 but not STREAM";
		return PROXY_BAD;
	}
	if (bl < al) {
		*why = "v2: length too short for the address family";
		return PROXY_BAD;
	}
	if (v2_tlvs(b + al, bl - al, &h->ntlv) < 0) {
		*why = "v2: a truncated TLV";
		return PROXY_BAD;
	}
	if (fam == 3) {
		h->local = 1;
		return PROXY_DONE;
	}
	if (fam == 1) {
		inet_ntop(AF_INET, b, h->src_ip, sizeof(h->src_ip));
		inet_ntop(AF_INET, b + 4, h->dst_ip, sizeof(h->dst_ip));
		h->src_port = be16(b + 8);
		h->dst_port = be16(b + 10);
	} else {
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)b))
			inet_ntop(AF_INET, b + 12, h->src_ip,
				  sizeof(h->src_ip));
		else
			inet_ntop(AF_INET6, b, h->src_ip, sizeof(h->src_ip));
		inet_ntop(AF_INET6, b + 16, h->dst_ip, sizeof(h->dst_ip));
		h->src_port = be16(b + 32);
		h->dst_port = be16(b + 34);
	}
	return PROXY_DONE;
}

/* v2_scan - the v2 header so far */
static enum proxy_res v2_scan(const unsigned char *p, size_t n,
                              size_t *need, struct proxy_hdr *h,
                              const char **why)
{
	size_t total;

	if (memcmp(p, sig2, n < 12 ? n : 12)) {
		*why = "v2: bad signature";
		return PROXY_BAD;
	}
	if (n > 12 && (p[12] >> 4) != 2) {
		*why = "v2: version is not 2";
		return PROXY_BAD;
	}
	if (n > 12 && (p[12] & 0x0f) > 1) {
		*why = "v2: command is neither LOCAL nor PROXY";
		return PROXY_BAD;
	}
	if (n < PROXY_V2_FIXED) {
		*need = PROXY_V2_FIXED - n;
		return PROXY_MORE;
	}
	total = PROXY_V2_FIXED + be16(p + 14);
	if (total > PROXY_V2_MAX) {
		*why = "v2: header longer than we take (4096 bytes)";
		return PROXY_BAD;
	}
	if (n < total) {
		*need = total - n;
		return PROXY_MORE;
	}
	return v2_parse(p, total, h, why);
}

enum proxy_res proxy_scan(const unsigned char *p, size_t n, size_t *need,
                          struct proxy_hdr *h, const char **why)
{
	memset(h, 0, sizeof(*h));
	*need = 0;
	*why = NULL;
	if (n == 0) {
		/* both versions are at least this long */
		*need = PROXY_V1_MIN;
		return PROXY_MORE;
	}
	if (p[0] == 'P')
		return v1_scan(p, n, need, h, why);
	if (p[0] == sig2[0])
		return v2_scan(p, n, need, h, why);
	*why = "not a PROXY header";
	return PROXY_BAD;
}

int proxy_read(int fd, long long timeout_ms, struct proxy_hdr *h,
               const char **why)
{
	unsigned char buf[PROXY_V2_MAX];
	long long end = util_mono_ms() + timeout_ms;
	size_t n = 0, need;

	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long long left;
		ssize_t r;
		int pr;

		if (proxy_scan(buf, n, &need, h, why) != PROXY_MORE)
			return *why ? -1 : 0;
		if (need > sizeof(buf) - n) {
			*why = "header too long"; /* not reached: scan caps */
			return -1;
		}
		left = end - util_mono_ms();
		if (io_stop || left <= 0) {
			*why = n ? "truncated: proxy_timeout passed"
				 : "no header within proxy_timeout";
			return -1;
		}
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			*why = "poll failed";
			return -1;
		}
		if (pr == 0)
			continue; /* the deadline check above ends it */
		r = read(fd, buf + n, need);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			*why = "read error";
			return -1;
		}
		if (r == 0) {
			*why = n ? "truncated: connection closed in the header"
				 : "connection closed before a header";
			return -1;
		}
		n += (size_t)r;
	}
}

int proxy_again(const char *p, size_t n)
{
	if (n >= 6 && !memcmp(p, "PROXY ", 6))
		return 1;
	return n >= 12 && !memcmp(p, sig2, 12);
}
