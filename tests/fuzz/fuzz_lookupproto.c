/*
 * fuzz_lookupproto.c - libFuzzer harness for the rcpt_check lookup
 * protocol (common/lookupproto.c), the bytes spoolerd reads from any
 * process of the spool group and the session reads back.
 *
 * The input is one line (up to the first LF). Checked: a request that
 * parses has a table and an address within their limits, without NUL,
 * and formats back to a line that parses to the same fields; a reply
 * that parses formats back to the same line; the spec check never
 * accepts a table it would not name a type for.
 */
#include "fuzz.h"
#include "lookupproto.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data, *lf, *why;
	char out[LOOKUP_LINE_MAX + 1], spec[LOOKUP_TABLE_MAX + 2];
	struct lookup_req r, r2;
	struct lookup_reply p, p2;
	size_t len;
	int n;

	lf = memchr(line, '\n', size);
	len = lf ? (size_t)(lf - line) : size;
	if (lookup_request_parse(line, len, &r) == 0) {
		CHECK(strlen(r.table) <= LOOKUP_TABLE_MAX && r.table[0]);
		CHECK(strlen(r.addr) <= LOOKUP_ADDR_MAX && r.addr[0]);
		n = lookup_request_format(out, sizeof(out), r.id, r.table,
					  r.addr, strlen(r.addr));
		CHECK(n > 0 && out[n - 1] == '\n');
		CHECK(lookup_request_parse(out, (size_t)n - 1, &r2) == 0);
		CHECK(r2.id == r.id && !strcmp(r2.table, r.table) &&
		      !strcmp(r2.addr, r.addr));
		if (lookup_spec_type(r.table, &why) == LK_NONE)
			CHECK(why && why[0]);
		lookup_fold(r.addr);
	}
	if (lookup_reply_parse(line, len, &p) == 0) {
		n = lookup_reply_format(out, sizeof(out), p.id, p.status,
					p.reason);
		CHECK(n > 0);
		CHECK(lookup_reply_parse(out, (size_t)n - 1, &p2) == 0);
		CHECK(p2.id == p.id && p2.status == p.status);
		if (p.status == LK_TEMP)
			CHECK(!strcmp(p2.reason, p.reason));
	}
	if (len <= LOOKUP_TABLE_MAX + 1) {
		memcpy(spec, line, len);
		spec[len] = '\0';
		if (lookup_spec_type(spec, &why) != LK_NONE)
			CHECK(strchr(spec, ':') && strlen(spec) <=
			      LOOKUP_TABLE_MAX);
	}
	return 0;
}
