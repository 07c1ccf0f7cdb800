/*
 * fuzz_data.c - libFuzzer harness for the DATA byte machine (data.c).
 *
 * Input: byte 0 picks max_size and when the sink fails, bytes 1..4 give
 * a cycle of chunk sizes, the rest is what the client sends after 354.
 * The same bytes are fed whole, in those chunks and one byte per call;
 * the three must agree, and all must agree with a plain reference
 * decoder written from RFC 5321 4.5.2: the message ends at the first
 * CRLF "." CRLF (counting the start as a line start), a dot that starts
 * a line is dropped, a CR not followed by LF or an LF not preceded by CR
 * is bare. Checked: the status and bytes consumed, size = bytes
 * unstuffed, the bare and too-large flags, and the bytes the sink got.
 */
#include "data.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

struct out {
	char *p;
	size_t len, cap;
	unsigned calls, failat; /* fail the failat-th call (1..), 0 never */
};

static int sink(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	CHECK(n > 0); /* data.c never emits empty runs */
	if (++o->calls == o->failat)
		return -1;
	CHECK(o->len + n <= o->cap);
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

struct result {
	enum data_status st;
	size_t used;
	struct data_rd d;
	struct out o;
};

/* feed - the input in chunks of sizes from cyc[0..4) (0: all at once) */
static void feed(const char *in, size_t n, long long max,
                 const unsigned char *cyc, unsigned failat,
                 struct result *r)
{
	size_t off = 0, k = 0;

	memset(r, 0, sizeof(*r));
	r->o.cap = n + 1;
	r->o.p = malloc(r->o.cap);
	CHECK(r->o.p);
	r->o.failat = failat;
	data_init(&r->d, max);
	r->st = DATA_MORE;
	while (off < n) {
		size_t c = cyc ? (size_t)cyc[k++ % 4] : n - off;
		size_t used = (size_t)-1;

		if (c > n - off)
			c = n - off;
		r->st = data_feed(&r->d, in + off, c, &used, sink, &r->o);
		CHECK(used <= c);
		if (c == 0) { /* an empty read changes nothing */
			CHECK(r->st == DATA_MORE && used == 0);
			continue;
		}
		if (r->st == DATA_END) {
			CHECK(used > 0);
			off += used;
			break;
		}
		CHECK(used == c);
		off += c;
	}
	r->used = off;
	CHECK(r->d.size >= 0);
	CHECK(r->d.toolarge == (r->d.size > r->d.max));
	CHECK(r->d.sink_failed == (failat && r->o.calls >= failat));
}

/* reference - the message as RFC 5321 describes it */
static void reference(const char *in, size_t n, struct result *r)
{
	size_t end = n, i, rl;
	int bol = 1;

	memset(r, 0, sizeof(*r));
	r->st = DATA_MORE;
	if (n >= 3 && !memcmp(in, ".\r\n", 3)) {
		end = 0;
		r->st = DATA_END;
	} else {
		for (i = 0; i + 5 <= n; i++)
			if (!memcmp(in + i, "\r\n.\r\n", 5)) {
				end = i + 2;
				r->st = DATA_END;
				break;
			}
	}
	r->used = r->st == DATA_END ? end + 3 : n;
	rl = end; /* the message is in[0..rl) */
	r->o.cap = n + 1;
	r->o.p = malloc(r->o.cap);
	CHECK(r->o.p);
	for (i = 0; i < rl; i++) {
		char c = in[i];

		if (c == '\r' && i + 1 < rl && in[i + 1] != '\n')
			r->d.bare = 1;
		if (c == '\n' && (i == 0 || in[i - 1] != '\r'))
			r->d.bare = 1;
		if (bol && c == '.') {
			bol = 0;
			/* ".\r" at the end of the input: the CR is held
			 * until the next byte shows what it is */
			if (r->st == DATA_MORE && i + 2 == rl &&
			    in[i + 1] == '\r')
				break;
			continue;
		}
		r->o.p[r->o.len++] = c;
		bol = c == '\n' && i > 0 && in[i - 1] == '\r';
	}
	r->d.size = (long long)r->o.len;
}

/* same_output - got is the reference, or a prefix of it when the sink
 * failed or the size went past max */
static void same_output(const struct result *got, const struct result *ref)
{
	CHECK(got->st == ref->st);
	CHECK(got->used == ref->used);
	CHECK(got->d.size == ref->d.size);
	CHECK(got->d.bare == ref->d.bare);
	CHECK(got->o.len <= ref->o.len);
	CHECK(!memcmp(got->o.p, ref->o.p, got->o.len));
	if (!got->d.toolarge && !got->d.sink_failed)
		CHECK(got->o.len == ref->o.len);
	if (got->d.toolarge)
		CHECK((long long)got->o.len <= got->d.max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long maxes[] = {1LL << 40, 0, 1, 5, 64, 1000};
	struct result whole, chunked, bytes, ref;
	unsigned char cyc[4], one[4] = {1, 1, 1, 1};
	const char *in;
	long long max;
	unsigned failat;
	size_t n, i;

	if (size < 5)
		return 0;
	max = maxes[(data[0] & 7) % 6];
	failat = (data[0] >> 3) & 3; /* 0: the sink never fails */
	for (i = 0; i < 4; i++)
		cyc[i] = data[1 + i] % 80; /* 0 tests empty reads */
	if (!(cyc[0] | cyc[1] | cyc[2] | cyc[3]))
		cyc[0] = 1;
	in = (const char *)data + 5;
	n = size - 5;

	reference(in, n, &ref);
	feed(in, n, max, NULL, failat, &whole);
	feed(in, n, max, cyc, failat, &chunked);
	feed(in, n, max, one, failat, &bytes);
	same_output(&whole, &ref);
	same_output(&chunked, &ref);
	same_output(&bytes, &ref);
	free(ref.o.p);
	free(whole.o.p);
	free(chunked.o.p);
	free(bytes.o.p);
	return 0;
}
