/* test_ws.c - WebSocket pieces: RFC 6455's own accept-key example, frame
 * headers at each length form, client frames parsed, refused and
 * unmasked, base64 both ways */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ws.h"

/* RFC 6455 1.3: "dGhlIHNhbXBsZSBub25jZQ==" -> s3pPLMBiTxaQ9kYGzzhZRbK+xOo= */
static void accept_key_rfc(void **st)
{
	char out[40];

	(void)st;
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out,
				       sizeof(out)),
			 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_accept_key("short", out, sizeof(out)), -1);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=!", out,
				       sizeof(out)),
			 -1);
}

static void header_lengths(void **st)
{
	uint8_t h[14];

	(void)st;
	assert_int_equal(ws_frame_header(h, 1, 5), 2);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 5);
	assert_int_equal(ws_frame_header(h, 1, 125), 2);
	assert_int_equal(ws_frame_header(h, 1, 126), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2], 0);
	assert_int_equal(h[3], 126);
	assert_int_equal(ws_frame_header(h, 1, 70000), 10);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[7], 0x01);
	assert_int_equal(h[8], 0x11);
	assert_int_equal(h[9], 0x70);
}

/* RFC 6455 5.7: a masked "Hello" */
static void parse_masked_hello(void **st)
{
	uint8_t fr[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
			0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct ws_frame f;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(fr); i++)
		assert_int_equal(ws_frame_parse(fr, i, 1000, &f), 0);
	assert_int_equal(ws_frame_parse(fr, sizeof(fr), 1000, &f), 1);
	assert_int_equal(f.op, 1);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.hdrlen, 6);
	ws_unmask(fr + f.hdrlen, f.len, f.mask);
	assert_memory_equal(fr + f.hdrlen, "Hello", 5);
}

static void parse_refused(void **st)
{
	uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
	uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
	uint8_t bigping[] = {0x89, 0xfe, 0x00, 0x80};
	uint8_t toolong[] = {0x81, 0xfe, 0x10, 0x00};
	struct ws_frame f;

	(void)st;
	assert_int_equal(ws_frame_parse(unmasked, sizeof(unmasked), 100, &f),
			 -1);
	assert_int_equal(ws_frame_parse(rsv, sizeof(rsv), 100, &f), -1);
	assert_int_equal(ws_frame_parse(bigping, sizeof(bigping), 1000, &f),
			 -1);
	assert_int_equal(ws_frame_parse(toolong, sizeof(toolong), 1000, &f),
			 -1);
}

static void base64_both_ways(void **st)
{
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba",
				   "foobar"};
	static const char *out[] = {"",         "Zg==",     "Zm8=",
				    "Zm9v",     "Zm9vYg==", "Zm9vYmE=",
				    "Zm9vYmFy"};
	char b[16];
	uint8_t d[16];
	size_t i;

	(void)st;
	for (i = 0; i < 7; i++) {
		ws_base64((const uint8_t *)in[i], strlen(in[i]), b, sizeof(b));
		assert_string_equal(b, out[i]);
		assert_int_equal(ws_unbase64(out[i], strlen(out[i]), d,
					     sizeof(d)),
				 (long)strlen(in[i]));
		assert_memory_equal(d, in[i], strlen(in[i]));
	}
	assert_int_equal(ws_unbase64("Zg=a", 4, d, sizeof(d)), -1);
	assert_int_equal(ws_unbase64("Zm9", 3, d, sizeof(d)), -1);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(accept_key_rfc),
		cmocka_unit_test(header_lengths),
		cmocka_unit_test(parse_masked_hello),
		cmocka_unit_test(parse_refused),
		cmocka_unit_test(base64_both_ways),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
