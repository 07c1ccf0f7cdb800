/*
 * fuzz_entry.c - libFuzzer harness for the spool entry reader (entry.c).
 *
 * Input: the start of a spool file (version 2, with X-Spool-Data-Offset,
 * or version 1, read by the shape of the Received header). entry_parse
 * must refuse it with a reason or return an envelope whose offsets lie
 * inside the input, in order (our Received line, then the message just
 * after an LF), and whose fields carry no control byte. Round trip: what
 * it read is written again with entry_format and read back to the same
 * envelope (fields entry_format refuses, over 1000 bytes, are skipped).
 * And entry_read_fd, which reads a file in growing pieces, must come to
 * the same answer as entry_parse on the whole input.
 */
#include "entry.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int str_ok(const char *s)
{
	return s && entry_field_ok(s, strlen(s));
}

static int same(const char *a, const char *b)
{
	return !strcmp(a, b);
}

/* formattable - entry_format takes fields up to 1000 bytes and prints
 * at most 64 bytes of the client address */
static int formattable(const struct envelope *e)
{
	size_t i;

	if (strlen(e->queue_id) > 1000 || strlen(e->host) > 1000 ||
	    strlen(e->sender) > 1000 || strlen(e->helo) > 1000 ||
	    strlen(e->protocol) > 1000 || strlen(e->tls) > 1000 ||
	    strlen(e->body) > 1000 || strlen(e->client_ip) > 64)
		return 0;
	for (i = 0; i < e->nrcpts; i++)
		if (strlen(e->rcpts[i]) > 1000)
			return 0;
	return 1;
}

static void roundtrip(struct envelope *e)
{
	struct buf b = {NULL, 0, 0, ENTRY_MAX_ENVELOPE};
	struct envelope r;
	const char *err;
	size_t i;

	if (!formattable(e))
		return;
	CHECK(entry_format(&b, e) == 0);
	CHECK(entry_parse(b.p, b.len, &r, &err) == 0);
	CHECK(r.data_off == b.len && r.data_off == e->data_off);
	CHECK(r.size_off == e->size_off);
	CHECK(r.received_off == e->received_off);
	CHECK(same(r.queue_id, e->queue_id) && r.time == e->time);
	CHECK(same(r.host, e->host) && same(r.sender, e->sender));
	CHECK(r.nrcpts == e->nrcpts);
	for (i = 0; i < r.nrcpts; i++)
		CHECK(same(r.rcpts[i], e->rcpts[i]));
	CHECK(same(r.client_ip, e->client_ip));
	CHECK(r.client_port == e->client_port);
	CHECK(same(r.helo, e->helo) && same(r.protocol, e->protocol));
	CHECK(same(r.tls, e->tls) && same(r.body, e->body));
	CHECK(r.size == e->size);
	entry_free(&r);
	buf_free(&b);
}

/* from_fd - entry_read_fd on a memfd holding the input: its result */
static int from_fd(const char *in, size_t size, struct envelope *env)
{
	const char *err = NULL;
	int fd = memfd_create("entry", MFD_CLOEXEC), r;

	CHECK(fd >= 0);
	CHECK(write(fd, in, size) == (ssize_t)size);
	r = entry_read_fd(fd, env, &err);
	close(fd);
	CHECK(r == 0 || (err && *err));
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope fenv;
	struct envelope env;
	const char *err = NULL;
	char *in = malloc(size ? size : 1);
	size_t i;

	CHECK(in);
	memcpy(in, data, size);
	if (entry_parse(in, size, &env, &err) < 0) {
		CHECK(err && *err);
		CHECK(from_fd(in, size, &fenv) < 0);
		CHECK(env.queue_id == NULL && env.rcpts == NULL);
		free(in);
		return 0;
	}
	CHECK(env.received_off < env.data_off && env.data_off <= size);
	CHECK(!memcmp(in + env.received_off, "Received:", 9));
	CHECK(in[env.data_off - 1] == '\n');
	CHECK(env.size_off + ENTRY_SIZE_WIDTH <= env.received_off ||
	      env.size_off < env.received_off);
	CHECK(env.size >= 0 && env.nrcpts > 0);
	CHECK(str_ok(env.queue_id) && str_ok(env.host) && str_ok(env.helo));
	CHECK(str_ok(env.sender) && str_ok(env.client_ip));
	CHECK(str_ok(env.protocol) && str_ok(env.tls) && str_ok(env.body));
	for (i = 0; i < env.nrcpts; i++)
		CHECK(str_ok(env.rcpts[i]));
	CHECK(from_fd(in, size, &fenv) == 0);
	CHECK(fenv.data_off == env.data_off && fenv.nrcpts == env.nrcpts);
	CHECK(!strcmp(fenv.queue_id, env.queue_id));
	entry_free(&fenv);
	roundtrip(&env);
	entry_free(&env);
	free(in);
	return 0;
}
