/*
 * fuzz_session.c - libFuzzer harness for the SMTP protocol core
 * (session.c with addr.c, data.c, reply.c) driven the way run.c drives
 * it: command lines from frame.c (the framer run.c uses), the DATA byte
 * machine after 354.
 *
 * Input: byte 0 picks the config and what the outside world does (TLS
 * offered, the handshake works, the spool fails at DATA or at commit);
 * the rest is what the client sends. Checked after every line: replies
 * are well-formed and printable ("DDD" or "DDD-", CRLF, no client
 * control byte), the state fits the transaction (RCPT state only with
 * recipients, at most max_recipients), and the envelope of every DATA
 * can be written by entry_format and reads back the same: nothing the
 * client sends can forge or break the spool envelope (XCLIENT's
 * attributes included: the generous config trusts the client with it).
 */
#include "frame.h"
#include "fuzz.h"
#include "log.h"
#include "session.h"

#include <stdint.h>
#include <string.h>

static const char *confs[] = {
	/* defaults, one domain */
	"{\"allowed_hosts\": [\"example.com\", \"*.example.org\"],"
	" \"servers\": [{\"host_name\": \"mx.test\"}]}",
	/* tight limits */
	"{\"allowed_hosts\": [\"*\"], \"servers\": [{\"host_name\": "
	"\"mx.test\", \"max_size\": 100, \"max_recipients\": 3,"
	" \"max_unrecognized_commands\": 3, \"max_line_length\": 512}]}",
	/* generous limits */
	"{\"allowed_hosts\": [\"*\"], \"servers\": [{\"host_name\": "
	"\"mx.test\", \"max_recipients\": 100000,"
	" \"max_unrecognized_commands\": 1000, \"max_line_length\": 65536,"
	" \"xclient_on\": true, \"xclient_trusted\": [\"192.0.2.0/24\"]}]}",
	/* nothing allowed */
	"{\"servers\": [{\"host_name\": \"mx.test\", \"max_size\": 1}]}",
};
#define NCONFS (sizeof(confs) / sizeof(confs[0]))

static struct cfg *cfgs[NCONFS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	log_open("fuzz", "/dev/null", "error", -1);
	for (i = 0; i < NCONFS; i++) {
		cfgs[i] = cfg_load_buf(confs[i], cfg_diag_stderr, NULL);
		CHECK(cfgs[i]);
	}
	return 0;
}

static int sink(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

/* check_replies - every queued line is a reply; then "flush" */
static void check_replies(struct session *s)
{
	const char *p = s->out.p, *end = s->out.p + s->out.len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *c;

		CHECK(eol && eol - p >= 5 && eol[-1] == '\r');
		CHECK(p[0] >= '2' && p[0] <= '5');
		CHECK(p[1] >= '0' && p[1] <= '9');
		CHECK(p[2] >= '0' && p[2] <= '9');
		CHECK(p[3] == ' ' || p[3] == '-');
		for (c = p; c < eol - 1; c++)
			CHECK(*c >= 0x20 && *c < 0x7f);
		p = eol + 1;
	}
	s->out.len = 0;
}

static void check_state(const struct session *s)
{
	CHECK(s->tx.nrcpts <= (size_t)s->srv->max_recipients);
	CHECK(s->helo[sizeof(s->helo) - 1] == '\0' || strlen(s->helo) < 256);
	if (s->state == ST_RCPT || s->state == ST_BDAT)
		CHECK(s->tx.nrcpts > 0);
	if (s->state == ST_CONNECTED || s->state == ST_HELO)
		CHECK(s->tx.nrcpts == 0);
	if (s->state == ST_CONNECTED)
		CHECK(s->helo[0] == '\0');
	if (s->state != ST_QUIT)
		CHECK(s->errors < (unsigned)s->srv->max_unrecognized_commands);
}

/* check_envelope - the spool writes and reads back this transaction */
static void check_envelope(struct session *s)
{
	struct buf b = {NULL, 0, 0, ENTRY_MAX_ENVELOPE};
	struct envelope env, back;
	const char *err;
	size_t i;

	session_envelope(s, &env);
	env.queue_id = "1764078600.M123456P4242Q1";
	env.time = 1764078600;
	CHECK(entry_format(&b, &env) == 0);
	CHECK(entry_parse(b.p, b.len, &back, &err) == 0);
	CHECK(back.data_off == b.len);
	CHECK(!strcmp(back.sender, s->tx.sender));
	CHECK(!strcmp(back.helo, s->helo));
	CHECK(back.nrcpts == s->tx.nrcpts);
	for (i = 0; i < back.nrcpts; i++)
		CHECK(!strcmp(back.rcpts[i], s->tx.rcpts[i]));
	entry_free(&back);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cfg *cfg;
	struct session s;
	const char *in;
	struct frame f;
	size_t n, pos = 0;
	int flags;

	if (size < 1)
		return 0;
	flags = data[0];
	cfg = cfgs[(flags >> 5) % NCONFS];
	in = (const char *)data + 1;
	n = size - 1;
	session_init(&s, cfg, &cfg->servers[0], "192.0.2.1", 51234);
	s.tls_offer = flags & 1;
	/* the generous config takes XCLIENT from us (xclient.c) */
	s.xclient_ok = s.srv->xclient_on;
	frame_init(&f, (size_t)s.srv->max_line_length);
	session_greeting(&s);
	check_replies(&s);
	while (s.end == END_NONE) {
		enum session_action act;
		const char *line;
		size_t used, len;
		enum frame_res fr = frame_next(&f, in + pos, n - pos, &used,
					       &line, &len);

		/* as next_line() of run.c */
		pos += used;
		if (fr == FRAME_MORE)
			break; /* end of input: the client left */
		if (fr == FRAME_TOOLONG) {
			act = session_line_too_long(&s);
		} else {
			/* an exact copy: ASan sees any overread */
			char *copy = malloc(len ? len : 1);

			CHECK(copy);
			memcpy(copy, line, len);
			act = session_feed_line(&s, copy, len);
			free(copy);
		}
		if (act == ACT_DATA) {
			struct data_rd d;
			size_t used;
			enum reply_id spooled = flags & 8 ? R_WRITE_FAIL
							  : R_OKAY;

			CHECK(s.state == ST_RCPT);
			check_envelope(&s);
			if (flags & 4) {
				session_data_start(&s, 0, flags & 16
							 ? R_NO_SPACE
							 : R_WRITE_FAIL);
				/* that refusal may be the max_errors-th */
				CHECK(s.state == ST_RCPT ||
				      (s.state == ST_QUIT && s.end == END_ERRORS));
			} else {
				session_data_start(&s, 1, R_OKAY);
				CHECK(s.state == ST_DATA);
				data_init(&d, s.srv->max_size);
				if (data_feed(&d, in + pos, n - pos, &used,
					      sink, NULL) != DATA_END)
					break; /* the client left in DATA */
				pos += used;
				session_data_end(&s, &d, spooled, "Q1");
				CHECK(!s.tx.nrcpts &&
				      (s.state == ST_HELO ||
				       (s.state == ST_QUIT &&
					s.end == END_ERRORS)));
			}
		} else if (act == ACT_BDAT) {
			/* as do_bdat() of run.c */
			struct bdat_tx *bt = &s.bdat;

			if (bt->take && bt->first)
				bdat_opened(&s, !(flags & 4),
					    flags & 16 ? R_NO_SPACE
						       : R_WRITE_FAIL);
			bdat_chunk(&bt->rd, bt->n, !bt->take);
			while (bt->rd.left > 0 && pos < n)
				pos += bdat_feed(&bt->rd, in + pos, n - pos,
						 sink, NULL);
			if (bt->rd.left > 0)
				break; /* the client left inside a chunk */
			if (bdat_chunk_end(&s, R_OKAY)) {
				CHECK(s.state == ST_BDAT && bt->last &&
				      bt->take);
				check_envelope(&s);
				bdat_committed(&s, flags & 8 ? R_WRITE_FAIL
							     : R_OKAY,
					       "Q1");
				CHECK(!s.tx.nrcpts &&
				      (s.state == ST_HELO ||
				       (s.state == ST_QUIT &&
					s.end == END_ERRORS)));
			}
		} else if (act == ACT_STARTTLS) {
			CHECK(s.tls_offer && !s.tls_on);
			if (flags & 2)
				session_tls_done(&s, "TLS1.3 TLS_AES_256_GCM");
			else
				session_reply(&s, R_TLS_UNAVAIL);
		}
		check_replies(&s);
		check_state(&s);
		if (act == ACT_CLOSE) {
			CHECK(s.state == ST_QUIT || s.end != END_NONE);
			break;
		}
	}
	check_replies(&s);
	session_free(&s);
	return 0;
}
