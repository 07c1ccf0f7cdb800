/*
 * fuzz_bdat.c - libFuzzer harness for BDAT framing (bdat.c with frame.c,
 * driven as run.c drives them).
 *
 * Input: byte 0 picks max_size, BODY=BINARYMIME, a failing sink and
 * whether odd chunks are dropped (as a refused BDAT's are); bytes 1..4
 * give a cycle of read sizes; the rest is what a client sends after RCPT:
 * command lines, BDAT lines and their chunks. It is fed whole, in those
 * reads and one byte per read; the three must agree, and all must agree
 * with a reference written from RFC 3030 and README's rule: a BDAT line
 * is "BDAT" SP 1*DIGIT [1*(SP / HTAB) "LAST"] (any case, the argument
 * trimmed), the n octets after its LF are the chunk whatever they hold,
 * LAST ends the message; a CR not followed by LF or an LF not after a CR
 * is bare, in the header section only (up to the first empty line) for
 * BINARYMIME. Checked: every chunk's size and LAST flag, each message's
 * octets as the sink got them (a prefix past max_size or a sink failure),
 * its size, bare and too-large flags, and that nothing after a chunk is
 * consumed with it.
 */
#include "bdat.h"
#include "frame.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define MAXMSG 64

struct msg {
	long long size;
	int bare, toolarge, sink_failed, done;
	unsigned chunks;
	size_t len; /* octets the sink got */
};

struct result {
	struct msg m[MAXMSG];
	size_t nmsg;
	unsigned long long nchunks;
	unsigned long long sum; /* chunk sizes announced */
	char *out;              /* every message's octets, in order */
	size_t outlen, cap;
	unsigned calls, failat;
	size_t msgstart;
};

static int sink(void *arg, const char *p, size_t n)
{
	struct result *r = arg;

	CHECK(n > 0);
	if (++r->calls == r->failat)
		return -1;
	CHECK(r->outlen + n <= r->cap);
	memcpy(r->out + r->outlen, p, n);
	r->outlen += n;
	return 0;
}

/* ref_parse - the BDAT argument grammar, written again */
static int ref_parse(const char *a, size_t n, unsigned long long *v,
                     int *last)
{
	size_t i = 0;
	unsigned long long x = 0;

	if (n == 0 || a[0] < '0' || a[0] > '9')
		return -1;
	for (; i < n && a[i] >= '0' && a[i] <= '9'; i++) {
		unsigned d = (unsigned)(a[i] - '0');

		if (x > (BDAT_MAX_CHUNK - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	*last = 0;
	if (i == n)
		return 0;
	if (a[i] != ' ' && a[i] != '\t')
		return -1;
	while (i < n && (a[i] == ' ' || a[i] == '\t'))
		i++;
	if (n - i != 4 || strncasecmp(a + i, "LAST", 4))
		return -1;
	*last = 1;
	return 0;
}

/* bdat_line - is line a BDAT command? its argument as session.c trims */
static int bdat_line(const char *line, size_t len, const char **arg,
                     size_t *alen)
{
	size_t v = 0;

	if (len && line[len - 1] == '\r')
		len--;
	while (v < len && line[v] != ' ')
		v++;
	if (v != 4 || strncasecmp(line, "BDAT", 4))
		return 0;
	*arg = line + v;
	*alen = len - v;
	while (*alen && (**arg == ' ' || **arg == '\t'))
		(*arg)++, (*alen)--;
	while (*alen && ((*arg)[*alen - 1] == ' ' || (*arg)[*alen - 1] == '\t'))
		(*alen)--;
	return 1;
}

/* drive - the input through frame.c and bdat.c in reads of cyc sizes */
static void drive(const char *in, size_t n, long long max, int binary,
                  int drop_odd, unsigned failat, const unsigned char *cyc,
                  struct result *r)
{
	struct frame f;
	struct bdat_rd b;
	size_t have = 0, pos = 0, k = 0; /* in[pos..have) is "read" */
	int inmsg = 0;

	memset(r, 0, sizeof(*r));
	r->cap = n + 1;
	r->out = malloc(r->cap);
	CHECK(r->out);
	r->failat = failat;
	frame_init(&f, 512);
	for (;;) {
		const char *line, *arg;
		size_t used, len, alen;
		enum frame_res fr;
		unsigned long long cn;
		int last, discard;

		fr = frame_next(&f, in + pos, have - pos, &used, &line, &len);
		pos += used;
		if (fr == FRAME_MORE) {
			size_t c = cyc ? cyc[k++ % 4] : n - have;

			if (have == n)
				break;
			if (c > n - have)
				c = n - have;
			have += c;
			continue;
		}
		if (fr != FRAME_LINE || !bdat_line(line, len, &arg, &alen))
			continue;
		if (bdat_parse(arg, alen, &cn, &last) < 0)
			continue;
		if (!inmsg) {
			if (r->nmsg == MAXMSG)
				break;
			bdat_init(&b, max, binary);
			r->msgstart = r->outlen;
			inmsg = 1;
		}
		discard = drop_odd && (r->nchunks & 1);
		r->nchunks++;
		r->sum += cn;
		bdat_chunk(&b, cn, discard);
		while (b.left > 0) {
			size_t c;

			if (pos == have) {
				c = cyc ? cyc[k++ % 4] : n - have;
				if (have == n)
					break;
				if (c > n - have)
					c = n - have;
				have += c;
				continue;
			}
			c = bdat_feed(&b, in + pos, have - pos, sink, r);
			CHECK(c <= have - pos);
			CHECK(c > 0);
			pos += c;
		}
		if (last && b.left == 0)
			bdat_finish(&b);
		{
			struct msg *m = &r->m[r->nmsg];

			m->size = b.size;
			m->bare = b.bare;
			m->toolarge = b.toolarge;
			m->sink_failed = b.sink_failed;
			m->chunks = b.chunks;
			m->len = r->outlen - r->msgstart;
			m->done = last && b.left == 0;
			CHECK(b.size >= 0);
			CHECK(b.toolarge == (b.size > b.max));
			if (!b.toolarge && !b.sink_failed)
				CHECK((long long)m->len == b.size);
			CHECK((long long)m->len <= b.size);
		}
		if (b.left > 0)
			break; /* the client left inside a chunk */
		if (last) {
			r->nmsg++;
			inmsg = 0;
		}
	}
	if (inmsg)
		r->nmsg++; /* unfinished: its state so far */
}

/* ref_bare - the rule on a whole message m[0..n) */
static int ref_bare(const char *m, size_t n, int binary)
{
	size_t k = n, i;

	if (binary) {
		if (n >= 2 && m[0] == '\r' && m[1] == '\n')
			k = 2;
		else
			for (i = 0; i + 4 <= n; i++)
				if (!memcmp(m + i, "\r\n\r\n", 4)) {
					k = i + 4;
					break;
				}
	}
	for (i = 0; i < k; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			return 1;
		if (m[i] == '\r' && (i + 1 == n || m[i + 1] != '\n'))
			return 1;
	}
	return 0;
}

/* same - two drives saw the same chunks and messages */
static void same(const struct result *a, const struct result *b)
{
	size_t i;
	int cut = a->failat != 0; /* where a prefix ends depends on reads */

	CHECK(a->nmsg == b->nmsg);
	CHECK(a->nchunks == b->nchunks);
	CHECK(a->sum == b->sum);
	for (i = 0; i < a->nmsg; i++) {
		if (a->m[i].toolarge)
			cut = 1;
		CHECK(a->m[i].size == b->m[i].size);
		CHECK(a->m[i].bare == b->m[i].bare);
		CHECK(a->m[i].toolarge == b->m[i].toolarge);
		CHECK(a->m[i].chunks == b->m[i].chunks);
		CHECK(a->m[i].done == b->m[i].done);
	}
	if (!cut)
		CHECK(a->outlen == b->outlen &&
		      !memcmp(a->out, b->out, a->outlen));
}

/* reference - the whole input, parsed without bdat.c's reader: a
 * message is the concatenation of its kept chunks */
static void reference(const char *in, size_t n, int binary, int drop_odd,
                      struct result *ref)
{
	struct frame f;
	size_t pos = 0;
	int inmsg = 0;
	char *msg = malloc(n + 1);

	CHECK(msg);
	memset(ref, 0, sizeof(*ref));
	ref->out = malloc(n + 1);
	CHECK(ref->out);
	frame_init(&f, 512);
	for (;;) {
		const char *line, *arg;
		size_t used, len, alen, take;
		unsigned long long cn;
		int last;
		enum frame_res fr = frame_next(&f, in + pos, n - pos, &used,
					       &line, &len);
		struct msg *m;

		pos += used;
		if (fr == FRAME_MORE)
			break;
		if (fr != FRAME_LINE || !bdat_line(line, len, &arg, &alen))
			continue;
		if (ref_parse(arg, alen, &cn, &last) < 0)
			continue;
		if (!inmsg) {
			if (ref->nmsg == MAXMSG)
				break;
			memset(&ref->m[ref->nmsg], 0, sizeof(ref->m[0]));
			ref->msgstart = 0;
			inmsg = 1;
		}
		m = &ref->m[ref->nmsg];
		take = cn > n - pos ? n - pos : (size_t)cn;
		if (!(drop_odd && (ref->nchunks & 1))) {
			memcpy(msg + ref->msgstart, in + pos, take);
			ref->msgstart += take;
			m->chunks++;
		}
		ref->nchunks++;
		ref->sum += cn;
		pos += take;
		m->size = (long long)ref->msgstart;
		m->bare = ref_bare(msg, ref->msgstart, binary);
		if (take < cn) {
			/* cut off: only what is certain so far */
			ref->nmsg++;
			inmsg = 0;
			ref->m[ref->nmsg - 1].done = -1;
			break;
		}
		m->done = last;
		if (last) {
			memcpy(ref->out + ref->outlen, msg, ref->msgstart);
			ref->outlen += ref->msgstart;
			ref->nmsg++;
			inmsg = 0;
		}
	}
	if (inmsg) {
		memcpy(ref->out + ref->outlen, msg, ref->msgstart);
		ref->outlen += ref->msgstart;
		ref->nmsg++;
	}
	free(msg);
}

/* against_ref - a drive agrees with the reference; for the last
 * message of an input cut inside a chunk only the chunk count is sure */
static void against_ref(const struct result *g, const struct result *ref,
                        long long max)
{
	size_t i;

	if (ref->nmsg && ref->m[ref->nmsg - 1].done == -1) {
		/* the drive drops a message cut inside a chunk */
		CHECK(g->nmsg + 1 == ref->nmsg || g->nmsg == ref->nmsg);
		CHECK(g->nchunks == ref->nchunks);
		return;
	}
	CHECK(g->nmsg == ref->nmsg);
	CHECK(g->nchunks == ref->nchunks);
	CHECK(g->sum == ref->sum);
	for (i = 0; i < g->nmsg; i++) {
		const struct msg *a = &g->m[i], *b = &ref->m[i];

		CHECK(a->size == b->size);
		CHECK(a->chunks == b->chunks);
		CHECK(a->done == b->done);
		CHECK(a->toolarge == (b->size > max));
		/* an unfinished message's last CR is not yet bare */
		if (a->done)
			CHECK(a->bare == b->bare);
		else
			CHECK(!a->bare || b->bare);
	}
	if (!g->failat && max >= (long long)ref->outlen)
		CHECK(g->outlen == ref->outlen &&
		      !memcmp(g->out, ref->out, g->outlen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long maxes[] = {1LL << 40, 0, 1, 7, 64, 1000};
	struct result whole, chunked, bytes, ref;
	unsigned char cyc[4], one[4] = {1, 1, 1, 1};
	const char *in;
	long long max;
	unsigned failat;
	int binary, drop_odd;
	size_t n, i;

	if (size < 5)
		return 0;
	max = maxes[(data[0] & 7) % 6];
	binary = (data[0] >> 3) & 1;
	drop_odd = (data[0] >> 4) & 1;
	failat = (data[0] >> 5) & 3;
	for (i = 0; i < 4; i++)
		cyc[i] = (unsigned char)(1 + data[1 + i] % 64);
	in = (const char *)data + 5;
	n = size - 5;

	reference(in, n, binary, drop_odd, &ref);
	drive(in, n, max, binary, drop_odd, failat, NULL, &whole);
	drive(in, n, max, binary, drop_odd, failat, cyc, &chunked);
	drive(in, n, max, binary, drop_odd, failat, one, &bytes);
	same(&whole, &chunked);
	same(&whole, &bytes);
	if (!failat)
		against_ref(&whole, &ref, max);
	free(ref.out);
	free(whole.out);
	free(chunked.out);
	free(bytes.out);
	return 0;
}
