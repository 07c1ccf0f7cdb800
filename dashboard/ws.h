/* ws.h - the WebSocket pieces smtpd-dashboard needs (RFC 6455):
 * the handshake's accept key and frames */
#ifndef WS_H
#define WS_H

#include <stddef.h>
#include <stdint.h>

/* ws_accept_key - Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC
 * 6455 4.2.2): base64(SHA-1(key + GUID)) into out (29 bytes with NUL);
 * 0, or -1 for a key that is not 24 base64 characters */
int ws_accept_key(const char *key, char *out, size_t size);

/* ws_frame_header - the header of an unmasked server frame (FIN set)
 * of opcode op and length len into hdr (14 bytes at most); its length */
size_t ws_frame_header(uint8_t *hdr, int op, uint64_t len);

struct ws_frame {
	int fin, op;
	size_t len;        /* payload bytes */
	const uint8_t *mask; /* 4 bytes */
	size_t hdrlen;
};

/* ws_frame_parse - a client frame at p[0..n): 1 complete header (and
 * payload) present, 0 need more bytes, -1 a protocol error (unmasked,
 * reserved bits, control frame over 125 bytes, payload over max) */
int ws_frame_parse(const uint8_t *p, size_t n, size_t max,
                   struct ws_frame *f);

/* ws_unmask - undo the client's mask in place */
void ws_unmask(uint8_t *payload, size_t len, const uint8_t *mask);

/* ws_base64 - standard base64 of in[0..n) into out (NUL-terminated);
 * the length, or 0 when out is too small */
size_t ws_base64(const uint8_t *in, size_t n, char *out, size_t size);

/* ws_unbase64 - decode base64 text (no whitespace); the length, or -1 */
long ws_unbase64(const char *in, size_t n, uint8_t *out, size_t size);

#endif
