/*
 * fuzz_addr.c - libFuzzer harness for the path parser (addr.c).
 *
 * Input: the argument after "MAIL FROM:" / "RCPT TO:". Checked: a
 * parsed address fits its limits (local part 64, domain 255, path 256),
 * has no control byte (entry_field_ok: it goes into the spool envelope),
 * its '@' is where "at" says; the parameters lie inside the input and
 * addr_param_next walks them without leaving it; parsing "<addr>" again
 * gives the same address (what the envelope writes, read back).
 */
#include "addr.h"
#include "entry.h"
#include "fuzz.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailpath mp, again;
	char *in = malloc(size ? size : 1), wrapped[ADDR_MAX_PATH + 3];
	enum addr_kind k;

	CHECK(in);
	memcpy(in, data, size); /* exact size: ASan sees any overread */
	k = addr_parse(in, size, &mp);
	check_path(in, size, &mp, k);
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
