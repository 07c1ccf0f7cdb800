/*
 * ws.c - RFC 6455 by hand: the accept key (4.2.2) and the frame format
 * (5.2). The server side only: frames we send are never masked, frames
 * a client sends must be (5.1), and anything else is a protocol error
 * the caller answers by closing. SHA-1 is GnuTLS's gnutls_hash_fast.
 */
#include "ws.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ws_base64(const uint8_t *in, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	if (size < (n + 2) / 3 * 4 + 1)
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* b64val - the value of one base64 character, or -1 */
static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

long ws_unbase64(const char *in, size_t n, uint8_t *out, size_t size)
{
	size_t i, o = 0;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;
		uint32_t w = 0;

		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1;
			v[k] = b64val(in[i + k]);
			if (v[k] < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (o + 3 - (size_t)pad > size)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

int ws_accept_key(const char *key, char *out, size_t size)
{
	char buf[64];
	uint8_t raw[16], sha[20];
	size_t kl = strlen(key);

	/* the key is 16 random bytes in base64 (4.1) */
	if (kl != 24 || ws_unbase64(key, kl, raw, sizeof(raw)) != 16)
		return -1;
	memcpy(buf, key, kl);
	memcpy(buf + kl, WS_GUID, strlen(WS_GUID));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, kl + strlen(WS_GUID),
			     sha) < 0)
		return -1;
	return ws_base64(sha, sizeof(sha), out, size) ? 0 : -1;
}

size_t ws_frame_header(uint8_t *hdr, int op, uint64_t len)
{
	int i;

	hdr[0] = (uint8_t)(0x80 | (op & 0x0f));
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

int ws_frame_parse(const uint8_t *p, size_t n, size_t max,
                   struct ws_frame *f)
{
	uint64_t len;
	size_t h = 2;
	int i;

	if (n < 2)
		return 0;
	if (p[0] & 0x70)
		return -1; /* RSV1-3 without an extension (5.2) */
	f->fin = p[0] >> 7;
	f->op = p[0] & 0x0f;
	if (!(p[1] & 0x80))
		return -1; /* a client's frame is masked (5.1) */
	len = p[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		h = 10;
	}
	if ((f->op & 0x08) && (len > 125 || !f->fin))
		return -1; /* control frames (5.5) */
	if (len > max)
		return -1;
	if (n < h + 4 + len)
		return 0;
	f->mask = p + h;
	f->hdrlen = h + 4;
	f->len = (size_t)len;
	return 1;
}

void ws_unmask(uint8_t *payload, size_t len, const uint8_t *mask)
{
	size_t i;

	for (i = 0; i < len; i++)
		payload[i] ^= mask[i & 3];
}
