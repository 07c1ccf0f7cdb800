/*
 * fuzz_addr.c - libFuzzer harness for the path parser (addr.c).
 *
 * Input: the argument after "MAIL FROM:" / "RCPT TO:". Checked: a
 * parsed address fits its limits (local part 64, domain 255, path 256),
 * has no control byte (entry_field_ok: it goes into the spool envelope),
 * its '@' is where "at" says; the parameters lie inside the input and
 * addr_param_next walks them without leaving it; parsing "<addr>" again
 * gives the same address (what the envelope writes, read back). For an
 * address with UTF-8 (SMTPUTF8, utf8.c): a domain utf8_valid takes
 * converts to A-labels that are ASCII, at most 253 octets, labels at
 * most 63, one for each input label, and each one made from a U-label is
 * "xn--" and punycode-decodes to as many code points as the U-label had.
 */
#include "addr.h"
#include "entry.h"
#include "fuzz.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

static void check_path(const char *in, size_t n, const struct mailpath *mp,
                       enum addr_kind k)
{
	const char *p, *end = in + n, *key, *val;
	size_t kl, vl, steps = 0;

	CHECK(k == mp->kind);
	if (k == ADDR_BAD)
		return;
	CHECK(mp->len == strlen(mp->addr));
	CHECK(mp->len + 2 <= ADDR_MAX_PATH);
	CHECK(entry_field_ok(mp->addr, mp->len));
	if (k == ADDR_NULL)
		CHECK(mp->len == 0);
	if (k == ADDR_MAILBOX) {
		CHECK(mp->at > 0 && mp->at < mp->len);
		CHECK(mp->addr[mp->at] == '@');
		CHECK(mp->at <= ADDR_MAX_LOCAL);
		CHECK(mp->len - mp->at - 1 <= ADDR_MAX_DOMAIN);
		CHECK(mp->len - mp->at - 1 > 0);
	}
	if (k == ADDR_LOCAL) {
		CHECK(mp->at == mp->len && mp->len > 0);
		CHECK(mp->len <= ADDR_MAX_LOCAL);
	}
	CHECK(mp->params >= in && mp->params <= end);
	CHECK(mp->params + mp->params_len == end);
	p = mp->params;
	while (addr_param_next(&p, end, &key, &kl, &val, &vl) == 0) {
		CHECK(++steps <= n);
		CHECK(key >= mp->params && key + kl <= end && kl <= n);
		CHECK(p >= key && p <= end);
		if (val)
			CHECK(val > key && val + vl <= end);
		else
			CHECK(vl == 0);
	}
	CHECK(p <= end);
}

/* check_idna - the domain of an 8-bit mailbox through utf8.c; the
 * output's labels match the input's one to one */
static void check_idna(const struct mailpath *mp)
{
	const char *d = mp->addr + mp->at + 1;
	size_t dl = mp->len - mp->at - 1, i, s = 0, j = 0, t;
	char out[256];
	uint32_t cp[64];
	int n;

	if (!utf8_has_8bit(mp->addr, mp->len))
		return;
	n = utf8_domain_to_ascii(d, dl, out, sizeof(out));
	if (!utf8_valid(d, dl)) {
		CHECK(n < 0);
		return;
	}
	if (n < 0)
		return;
	CHECK((size_t)n == strlen(out) && n <= 253);
	CHECK(!utf8_has_8bit(out, (size_t)n));
	for (i = 0; i <= (size_t)n; i++) {
		size_t ncp = 0;

		if (i < (size_t)n && out[i] != '.')
			continue;
		CHECK(i - s > 0 && i - s <= 63);
		for (t = j; t < dl && d[t] != '.'; t++)
			if (((unsigned char)d[t] & 0xc0) != 0x80)
				ncp++;
		if (utf8_has_8bit(d + j, t - j)) {
			CHECK(i - s > 4 && !memcmp(out + s, "xn--", 4));
			CHECK(utf8_punycode_decode(out + s + 4, i - s - 4, cp,
						   64) == (int)ncp);
		}
		j = t + 1;
		s = i + 1;
	}
	CHECK(j == dl + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailpath mp, again;
	char *in = malloc(size ? size : 1), wrapped[ADDR_MAX_PATH + 3];
	enum addr_kind k;

	CHECK(in);
	memcpy(in, data, size); /* exact size: ASan sees any overread */
	k = addr_parse(in, size, &mp);
	check_path(in, size, &mp, k);
	if (k == ADDR_MAILBOX)
		check_idna(&mp);
	if (k == ADDR_MAILBOX || k == ADDR_LOCAL) {
		wrapped[0] = '<';
		memcpy(wrapped + 1, mp.addr, mp.len);
		wrapped[mp.len + 1] = '>';
		CHECK(addr_parse(wrapped, mp.len + 2, &again) == k);
		CHECK(again.len == mp.len && again.at == mp.at);
		CHECK(!memcmp(again.addr, mp.addr, mp.len));
		CHECK(again.params_len == 0);
	}
	free(in);
	return 0;
}
