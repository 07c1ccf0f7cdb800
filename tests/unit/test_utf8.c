/* test_utf8.c - the UTF-8 validator (RFC 3629: overlongs, surrogates,
 * range, controls) and punycode (RFC 3492 section 7.1's sample strings,
 * both ways), and domain to A-label conversion */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8.h"

struct vcase {
	const char *s;
	int ok;
};

static const struct vcase vcases[] = {
	{"", 1},
	{"plain", 1},
	{"b\xc3\xbc" "cher", 1},           /* ü */
	{"\xe2\x82\xac", 1},               /* € */
	{"\xf0\x9f\x98\x80", 1},           /* U+1F600 */
	{"\xf4\x8f\xbf\xbf", 1},           /* U+10FFFF */
	{"\xef\xbf\xbd", 1},               /* U+FFFD */
	{"\xc2\xa0", 1},                   /* U+00A0, first after C1 */
	{"\xc0\xaf", 0},                   /* overlong '/' */
	{"\xc1\xbf", 0},                   /* overlong */
	{"\xe0\x80\xaf", 0},               /* overlong, 3 bytes */
	{"\xe0\x9f\xbf", 0},               /* overlong U+07FF */
	{"\xf0\x80\x80\xaf", 0},           /* overlong, 4 bytes */
	{"\xf0\x8f\xbf\xbf", 0},           /* overlong U+FFFF */
	{"\xed\xa0\x80", 0},               /* U+D800 surrogate */
	{"\xed\xbf\xbf", 0},               /* U+DFFF surrogate */
	{"\xf4\x90\x80\x80", 0},           /* U+110000 */
	{"\xf5\x80\x80\x80", 0},           /* F5 never */
	{"\xff", 0},
	{"\x80", 0},                       /* lone continuation */
	{"\xc3", 0},                       /* truncated */
	{"\xe2\x82", 0},                   /* truncated */
	{"\xc3\x28", 0},                   /* bad continuation */
	{"\xc2\x80", 0},                   /* U+0080, C1 control */
	{"\xc2\x9f", 0},                   /* U+009F, C1 control */
	{"a\x7f", 0},                      /* DEL */
	{"a\tb", 0},                       /* C0 */
	{"a\x01", 0},
};

static void test_valid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		int got = utf8_valid(vcases[i].s, strlen(vcases[i].s));

		if (got != vcases[i].ok)
			fail_msg("case %zu: got %d", i, got);
	}
	/* a NUL inside is a control character */
	assert_int_equal(utf8_valid("a\0b", 3), 0);
	assert_int_equal(utf8_has_8bit("abc", 3), 0);
	assert_int_equal(utf8_has_8bit("a\xc3\xbc", 3), 1);
}

struct pcase {
	const char *name;
	uint32_t cp[64];
	size_t n;
	const char *puny;
};

/* RFC 3492 7.1 */
static const struct pcase pcases[] = {
	{"A Arabic (Egyptian)",
	 {0x0644, 0x064A, 0x0647, 0x0645, 0x0627, 0x0628, 0x062A, 0x0643,
	  0x0644, 0x0645, 0x0648, 0x0634, 0x0639, 0x0631, 0x0628, 0x064A,
	  0x061F},
	 17, "egbpdaj6bu4bxfgehfvwxn"},
	{"B Chinese (simplified)",
	 {0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D,
	  0x6587},
	 9, "ihqwcrb4cv8a8dqg056pqjye"},
	{"L 3<nen>B<gumi><kinpachi><sensei>",
	 {0x33, 0x5E74, 0x42, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F}, 8,
	 "3B-ww4c5e180e575a65lsy2b"},
	{"M <amuro><namie>-with-SUPER-MONKEYS",
	 {0x5B89, 0x5BA4, 0x5948, 0x7F8E, 0x6075, '-', 'w', 'i', 't', 'h',
	  '-', 'S', 'U', 'P', 'E', 'R', '-', 'M', 'O', 'N', 'K', 'E', 'Y',
	  'S'},
	 24, "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"},
	{"P Maji<de>Koi<suru>5<byou><mae>",
	 {'M', 'a', 'j', 'i', 0x3067, 'K', 'o', 'i', 0x3059, 0x308B, '5',
	  0x79D2, 0x524D},
	 13, "MajiKoi5-783gue6qz075azm5e"},
	{"Q <pafii>de<runba>",
	 {0x30D1, 0x30D5, 0x30A3, 0x30FC, 'd', 'e', 0x30EB, 0x30F3, 0x30D0},
	 9, "de-jg4avhby1noc0d"},
	{"R <sono><supiido><de>",
	 {0x305D, 0x306E, 0x30B9, 0x30D4, 0x30FC, 0x30C9, 0x3067}, 7,
	 "d9juau41awczczp"},
	{"S -> $1.00 <-",
	 {'-', '>', ' ', '$', '1', '.', '0', '0', ' ', '<', '-'}, 11,
	 "-> $1.00 <--"},
	{"buecher", {'b', 0xFC, 'c', 'h', 'e', 'r'}, 6, "bcher-kva"},
};

static void test_punycode(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		char out[128];
		uint32_t cp[64];
		int n = utf8_punycode_encode(c->cp, c->n, out, sizeof(out));

		if (n < 0 || strcmp(out, c->puny) != 0)
			fail_msg("%s: encoded to %s", c->name,
				 n < 0 ? "(error)" : out);
		n = utf8_punycode_decode(c->puny, strlen(c->puny), cp, 64);
		if (n != (int)c->n || memcmp(cp, c->cp, c->n * sizeof(*cp)))
			fail_msg("%s: decoded wrong (%d)", c->name, n);
	}
}

static void test_punycode_limits(void **state)
{
	uint32_t cp[4] = {0xFC, 0xFC, 0xFC, 0xFC}, big[1] = {0x10FFFF};
	uint32_t out[8];
	char s[64];

	(void)state;
	/* the output does not fit */
	assert_int_equal(utf8_punycode_encode(cp, 4, s, 3), -1);
	assert_true(utf8_punycode_encode(big, 1, s, sizeof(s)) > 0);
	/* bad digits, truncated, overflow, too many code points */
	assert_int_equal(utf8_punycode_decode("bcher-k!a", 9, out, 8), -1);
	assert_int_equal(utf8_punycode_decode("bcher-kv", 8, out, 8), -1);
	assert_int_equal(utf8_punycode_decode("bcher-kva", 9, out, 8), 6);
	assert_int_equal(utf8_punycode_decode("99999999999", 11, out, 8), -1);
	assert_int_equal(utf8_punycode_decode("abcdefghij-a", 12, out, 8),
			 -1);
	assert_int_equal(utf8_punycode_decode("b\xc3\xbc-kva", 7, out, 8),
			 -1);
}

struct dcase {
	const char *in;
	const char *out; /* NULL: refused */
};

static const struct dcase dcases[] = {
	{"b\xc3\xbc" "cher.example", "xn--bcher-kva.example"},
	{"B\xc3\xbc" "cher.EXAMPLE", "xn--bcher-kva.example"},
	{"example.com", "example.com"},
	{"m\xc3\xbcnchen.b\xc3\xbc" "cher.example",
	 "xn--mnchen-3ya.xn--bcher-kva.example"},
	{"\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
	 "xn--r8jz45g.xn--zckzah"},
	{"b\xc3\xbc" "cher..example", NULL},
	{".example", NULL},
	{"example.", NULL},
	{"b\xc0\xbc" "cher.example", NULL},
	{"", NULL},
	/* 64 octets in an ASCII label */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
	 NULL},
	/* a U-label whose A-label passes 63 octets */
	{"\xe5\xbc\xb2\xe9\x9b\x9b\xe5\x98\x93\xe6\xba\xa6\xe5\xb4\x97"
	 "\xe8\xb5\xaa\xe8\x9e\x88\xe8\xa9\xb2\xe7\xba\x97\xe6\xa3\x9f"
	 "\xe5\xa8\x83\xe8\xb1\xb2\xe5\x86\xa0\xe7\xbf\xa5\xe8\x95\xa4"
	 "\xe9\xaf\x80\xe4\xb9\x85\xe8\x9c\x82\xe7\x80\x97\xe6\xad\x88"
	 "\xe9\xa6\xaa\xe5\xac\x95\xe7\x9a\xa1\xe5\x87\xaa\xe5\x83\x9b.x",
	 NULL},
};

static void test_domain(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		char out[256];
		int n = utf8_domain_to_ascii(dcases[i].in,
					     strlen(dcases[i].in), out,
					     sizeof(out));

		if (!dcases[i].out) {
			if (n >= 0)
				fail_msg("case %zu: accepted as %s", i, out);
			continue;
		}
		if (n < 0 || strcmp(out, dcases[i].out) != 0)
			fail_msg("case %zu: got %s", i,
				 n < 0 ? "(error)" : out);
		assert_int_equal((size_t)n, strlen(out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_punycode),
		cmocka_unit_test(test_punycode_limits),
		cmocka_unit_test(test_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
