/*
 * fuzz_hdrparse.c - libFuzzer harness for spoolerd's HeadersParser
 * (spoolerd/proc_headersparser.c, API in spoolerd/hdrparse.h).
 *
 * Input: the client's message from its first byte, as spoolerd reads it
 * after the envelope. hdr_parse fills the fields; hdr_decode_2047 runs
 * on the whole input too (RFC 2047 words, B and Q, iconv). Checked: no
 * memory error, every field a NUL-terminated string of at most 4096
 * bytes (FIELD_MAX), content_type and charset lower-case.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_headers h;
	char *in = malloc(size ? size : 1), *d;

	CHECK(in);
	memcpy(in, data, size); /* exact size: ASan sees any overread */
	memset(&h, 0, sizeof(h));
	CHECK(hdr_parse(&h, in, size) == 0);
	CHECK(h.parsed == 1);
	check_str(h.subject, 0);
	check_str(h.from, 0);
	check_str(h.to, 0);
	check_str(h.message_id, 0);
	check_str(h.content_type, 1);
	check_str(h.charset, 1);
	free(h.subject);
	free(h.from);
	free(h.to);
	free(h.message_id);
	free(h.content_type);
	free(h.charset);
	d = hdr_decode_2047(in, size);
	CHECK(d);
	check_str(d, 0);
	free(d);
	free(in);
	return 0;
}
