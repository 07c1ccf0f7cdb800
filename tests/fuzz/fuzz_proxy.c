/*
 * fuzz_proxy.c - libFuzzer harness for the PROXY header parser
 * (proxy.c).
 *
 * The input is what a proxy put on the wire. It is fed the way
 * proxy_read reads: *need bytes at a time, fewer at the end (a short
 * read). Checked: every MORE
 * asks for at least one byte and never for a byte past the header (the
 * bytes read never exceed the header's length once DONE, and never the
 * limits v1 107 / v2 4096); BAD always has a reason; DONE's length is
 * the bytes read; addresses are text of the family named and ports fit
 * 16 bits; feeding the whole input at once gives the same verdict.
 */
#include "fuzz.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* check_ip - a printable address that inet_pton takes back */
static void check_ip(const char *ip)
{
	unsigned char a[16];

	CHECK(strlen(ip) < 64);
	CHECK(inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	const char *why;
	size_t n = 0, need;
	enum proxy_res r, r2;

	for (;;) {
		r = proxy_scan(data, n, &need, &h, &why);
		if (r != PROXY_MORE)
			break;
		CHECK(need > 0);
		CHECK(n + need <= PROXY_V2_MAX);
		if (n == size)
			return 0; /* truncated: the reader waits, then times out */
		/* a short read takes what there is */
		n += n + need > size ? size - n : need;
	}
	if (r == PROXY_BAD) {
		CHECK(why != NULL);
		return 0;
	}
	CHECK(r == PROXY_DONE);
	CHECK(h.len <= n);
	/* a valid header is never found past what the scan asked for */
	CHECK(h.len == n);
	CHECK(h.version == 1 || h.version == 2);
	CHECK(h.version != 1 || n <= PROXY_V1_MAX);
	CHECK(h.kind != NULL);
	if (!h.local) {
		check_ip(h.src_ip);
		check_ip(h.dst_ip);
		CHECK(h.src_port <= 65535 && h.dst_port <= 65535);
	}
	/* the whole input at once: same header */
	r2 = proxy_scan(data, size, &need, &h2, &why);
	CHECK(r2 == PROXY_DONE);
	CHECK(h2.len == h.len && h2.local == h.local);
	CHECK(!strcmp(h2.src_ip, h.src_ip) && h2.src_port == h.src_port);
	return 0;
}
