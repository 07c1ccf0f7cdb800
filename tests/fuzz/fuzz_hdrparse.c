/*
 * fuzz_hdrparse.c - libFuzzer harness for spoolerd's HeadersParser
 * (spoolerd/proc_headersparser.c, API in spoolerd/hdrparse.h).
 *
 * Input: the client's message from its first byte, as spoolerd reads it
 * after the envelope. hdr_parse fills the fields; hdr_decode_2047 runs
 * on the whole input too (RFC 2047 words, B and Q, iconv). Checked: no
 * memory error, every field a NUL-terminated string of at most 4096
 * bytes (FIELD_MAX), content_type and charset lower-case, and the result
 * depends on the input only: parsed again after a long unrelated header
 * (which leaves "   ...attachment" in hdr_parse's work buffer), every
 * field comes out the same.
 */
#include "fuzz.h"
#include "hdrparse.h"

#include <stdint.h>
#include <string.h>

#define FIELD_MAX 4096

static void check_str(const char *s, int lower)
{
	size_t i, n;

	if (!s)
		return;
	n = strlen(s);
	CHECK(n <= FIELD_MAX);
	for (i = 0; lower && i < n; i++)
		CHECK(!(s[i] >= 'A' && s[i] <= 'Z'));
}

static void parse(struct msg_headers *h, const char *p, size_t n)
{
	memset(h, 0, sizeof(*h));
	CHECK(hdr_parse(h, p, n) == 0);
	CHECK(h->parsed == 1);
	check_str(h->subject, 0);
	check_str(h->from, 0);
	check_str(h->to, 0);
	check_str(h->message_id, 0);
	check_str(h->reply_to, 0);
	check_str(h->sender, 0);
	check_str(h->content_type, 1);
	check_str(h->charset, 1);
}

static void clear(struct msg_headers *h)
{
	free(h->subject);
	free(h->from);
	free(h->to);
	free(h->message_id);
	free(h->reply_to);
	free(h->sender);
	free(h->content_type);
	free(h->charset);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pad_end[] = "attachment\r\n";
	struct msg_headers h, h2;
	size_t pad = 2 * FIELD_MAX - 11, plen = pad + sizeof(pad_end) - 1;
	char *in = malloc(size ? size : 1), *d, *p2;

	CHECK(in);
	memcpy(in, data, size); /* exact size: ASan sees any overread */
	parse(&h, in, size);
	/* the same after an unrelated header; not when the input starts
	 * with a blank, which would continue that header */
	if (size && in[0] != ' ' && in[0] != '\t') {
		p2 = malloc(plen + size);
		CHECK(p2);
		memcpy(p2, "X-Pad:", 6);
		memset(p2 + 6, ' ', pad - 6);
		memcpy(p2 + pad, pad_end, sizeof(pad_end) - 1);
		memcpy(p2 + plen, in, size);
		parse(&h2, p2, plen + size);
		CHECK(same(h.subject, h2.subject) && same(h.from, h2.from));
		CHECK(same(h.to, h2.to) && same(h.message_id, h2.message_id));
		CHECK(same(h.reply_to, h2.reply_to));
		CHECK(same(h.sender, h2.sender));
		CHECK(same(h.content_type, h2.content_type));
		CHECK(same(h.charset, h2.charset));
		CHECK(h.has_attachment == h2.has_attachment);
		clear(&h2);
		free(p2);
	}
	clear(&h);
	d = hdr_decode_2047(in, size);
	CHECK(d);
	check_str(d, 0);
	free(d);
	free(in);
	return 0;
}
