/*
 * loadgen.c - chaos load generator for smtpd-session (tests/load).
 *
 * One thread, one epoll set, N client slots (default 5000). Each slot
 * connects to 127.0.0.1:PORT again and again until the run's duration is
 * over; per connection it picks at random: plaintext or STARTTLS
 * (GnuTLS, non-blocking), PIPELINING of MAIL/RCPT/DATA or one command at
 * a time, 1..K messages of 200 B .. 2 MB (mostly small, a bounded total
 * volume), 1..R recipients (some refused by relay rules), think times,
 * and with probability --misbehave one kind of misbehaviour:
 *
 *   abort-cmd   disconnect in the middle of a command (FIN or RST)
 *   abort-data  disconnect in the middle of DATA
 *   garbage     lines of binary junk (sometimes enough for 421)
 *   overlong    a command line over max_line_length (and one at it)
 *   burst       a pipelined burst of 20..100 commands
 *   silent      stop talking (after the greeting, after EHLO, or in
 *               DATA) and time how long the server takes to say 421
 *   smuggle     a message with "\n.\n" inside (must be refused: 550)
 *   badseq      commands out of order, SIZE over the limit, relay
 *   inject      plaintext pipelined after STARTTLS (must be dropped)
 *
 * For every message answered 250 it records the queue id and the SHA-256
 * of the message as it must be stored (dot-unstuffed, CRLF), computed
 * while the message is generated and streamed (nothing is held whole in
 * memory). At the end it waits for the spool to drain and checks the
 * maildirs (check.c). A sampler thread (sampler.c) watches the server's
 * processes. Results: a text summary on stdout and --json FILE.
 *
 * Only loopback addresses are accepted: this tool must never leave the
 * machine.
 */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------- options ---------- */

static struct {
	const char *addr;
	int port;
	int clients;
	double duration, ramp, grace;
	double tls_share, pipe_share, misbehave, bad_rcpt_share;
	int max_msgs, max_rcpts;
	double think_ms, conn_think_ms, think_prob;
	double timeout, session_time, slack;
	int max_line, max_errors;
	long long max_size, volume;
	double large_share, medium_share;
	double hold;          /* >0: keep sessions open with NOOP this often */
	int expect_full;      /* 421 at greeting is part of the test */
	const char *spool, *maildir, *json, *journal, *log;
	double drain_timeout;
	int launcher_pid, spoolerd_pid;
	double sample_interval;
	int pss_every;
	unsigned long long seed;
	const char *label;
	int check_only_drain;
} O = {
	.addr = "127.0.0.1",
	.port = 2525,
	.clients = 5000,
	.duration = 60,
	.ramp = -1,
	.grace = -1,
	.tls_share = 0.5,
	.pipe_share = 0.4,
	.misbehave = 0.1,
	.bad_rcpt_share = 0.05,
	.max_msgs = 5,
	.max_rcpts = 3,
	.think_ms = 100,
	.conn_think_ms = 500,
	.think_prob = 0.3,
	.timeout = 30,
	.session_time = 3600,
	.slack = 3,
	.max_line = 1024,
	.max_errors = 5,
	.max_size = 10485760,
	.volume = 2000LL * 1024 * 1024,
	.large_share = 0.02,
	.medium_share = 0.13,
	.drain_timeout = 600,
	.sample_interval = 1.0,
	.pss_every = 5,
	.label = "load",
};

/* ---------- small helpers ---------- */

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd64(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double frand(void)
{
	return (double)(rnd64(&rng_state) >> 11) / 9007199254740992.0;
}

static long irand(long n) /* 0..n-1 */
{
	return n > 0 ? (long)(rnd64(&rng_state) % (uint64_t)n) : 0;
}

static double exprand(double mean)
{
	return -mean * log(1.0 - frand());
}

static long long logu(long long a, long long b)
{
	return (long long)exp(log((double)a) +
			      frand() * (log((double)b) - log((double)a)));
}

#define NRCPT_IDS 500
#define NSENDER_IDS 1000

void addr_sender(int id, char *buf, size_t n)
{
	snprintf(buf, n, "s%d@client%d.load.test", id, id % 10);
}

void addr_rcpt(int id, char *buf, size_t n)
{
	if (id % 5 == 0)
		snprintf(buf, n, "u%d@example.com", id);
	else
		snprintf(buf, n, "u%d@d%d.example.com", id, id % 7);
}

/* ---------- statistics ---------- */

struct series {
	double *v;
	size_t n, cap;
};

static void series_add(struct series *s, double x)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4096;
		double *nv = realloc(s->v, nc * sizeof(*nv));

		if (!nv)
			return;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = x;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(struct series *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	i = (size_t)ceil(p / 100.0 * (double)s->n);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

enum { L_CONNECT, L_GREET, L_TLS, L_DOT, L_TXN, L_SILENT, L_CUT, L_NSERIES };
static const char *series_names[] = {"connect", "greeting", "tls_handshake",
				     "final_250", "transaction",
				     "silent_to_421", "session_cut_age"};
static struct series lat[L_NSERIES];

struct kind {
	char name[64];
	long long n;
};
static struct kind *kinds;
static size_t nkinds, capkinds;

static void count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void count(const char *fmt, ...)
{
	char name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < nkinds; i++)
		if (!strcmp(kinds[i].name, name)) {
			kinds[i].n++;
			return;
		}
	if (nkinds == capkinds) {
		capkinds = capkinds ? capkinds * 2 : 64;
		kinds = realloc(kinds, capkinds * sizeof(*kinds));
		if (!kinds)
			abort();
	}
	snprintf(kinds[nkinds].name, sizeof(kinds[nkinds].name), "%s", name);
	kinds[nkinds++].n = 1;
}

static long long get_count(const char *name)
{
	for (size_t i = 0; i < nkinds; i++)
		if (!strcmp(kinds[i].name, name))
			return kinds[i].n;
	return 0;
}

static struct {
	long long conns, conns_ok, greeted, tls_ok, msgs_started,
		msgs_accepted, msgs_refused, msgs_aborted, msgs_unknown,
		rcpts_accepted, bytes_accepted, bytes_sent_wire, volume_used;
	int concurrent, peak_concurrent; /* greeted and still open */
	double t_start, t_end_load, t_end;
} st;

static struct recs recs;
#define TL_MAX 7200
static int tl_acc[TL_MAX], tl_conn[TL_MAX];
static double start_epoch;

static int tl_slot(void)
{
	int i = (int)(now_s() - st.t_start);

	return i < 0 ? 0 : i >= TL_MAX ? TL_MAX - 1 : i;
}
static FILE *dbg;

/* ---------- the message text pool ---------- */

#define POOL_SIZE (128 * 1024)
static char pool[POOL_SIZE + 1024];

static void pool_init(void)
{
	static const char *words[] = {
		"the",   "mail",    "server", "grab",  "save",   "quickly",
		"spool", "maildir", "queue",  "é",     "über",   "€uro",
		"日本",  "test",    "load",   "chaos", "=?x?=",  "----",
		"From",  "From:",   "\t",     "a",     "Subject:", "MAIL",
		"RCPT",  ".",       "..",     "QUIT",  "<>",     "\"q\""};
	size_t n = 0;

	while (n < sizeof(pool) - 16) {
		const char *w = words[irand(sizeof(words) / sizeof(*words))];
		size_t l = strlen(w);

		memcpy(pool + n, w, l);
		n += l;
		pool[n++] = irand(9) ? ' ' : '\t';
	}
	pool[n] = '\0';
}

/* ---------- clients ---------- */

enum mis {
	MB_NONE,
	MB_ABORT_CMD,
	MB_ABORT_DATA,
	MB_GARBAGE,
	MB_OVERLONG,
	MB_BURST,
	MB_SILENT,
	MB_SMUGGLE,
	MB_BADSEQ,
	MB_INJECT,
	MB_N
};
static const char *mis_names[] = {"none",    "abort-cmd", "abort-data",
				  "garbage", "overlong",  "burst",
				  "silent",  "smuggle",   "badseq",
				  "inject"};

enum cstate {
	C_IDLE,       /* not connected; a timer starts the next connection */
	C_CONNECTING,
	C_OPEN,       /* connected: replies awaited or a step pending */
	C_HANDSHAKE,
	C_SILENT,     /* we stopped talking; waiting for the server's 421 */
	C_CLOSING,    /* 221 or 421 received; waiting for EOF */
	C_DONE,       /* slot finished for good */
};

/* what a reply in the queue answers */
enum rk {
	RK_GREET,
	RK_EHLO,
	RK_STARTTLS,
	RK_MAIL,
	RK_RCPT,
	RK_DATA,
	RK_DOT,
	RK_QUIT,
	RK_ANY2,      /* NOOP, RSET, HELP, VRFY: any 2xx */
	RK_GARBAGE,   /* 500, or 421 when the error limit is hit */
	RK_CODE,      /* exactly the code in qarg */
};
static const char *rk_names[] = {"greeting", "ehlo", "starttls", "mail",
				 "rcpt", "data", "dot", "quit", "noop",
				 "garbage", "badseq"};

/* where the connection is in its plan */
enum phase {
	P_GREET,
	P_EHLO,
	P_STARTTLS,
	P_READY,     /* between transactions */
	P_TXN,       /* MAIL/RCPT/DATA in flight */
	P_BODY,      /* streaming the message */
	P_DOT,       /* dot sent, waiting for the verdict */
	P_QUIT,
	P_MISC,      /* a misbehaviour's replies in flight */
};

#define QCAP 256

struct msg {
	size_t rec;
	int nwant, next_rcpt, nok, mail_ok, data_sent;
	uint16_t want[MAXRCPT];
	uint8_t wbad[MAXRCPT];
	long long target, gen;
	long long abort_at, silent_at;
	int hdr_done, body_done, smuggle, smuggled, dot_flushed;
	uint64_t rng;
	gnutls_hash_hd_t h;
	double t_mail, t_dot;
	char *hash_from;
};

struct client {
	int id, fd;
	uint32_t tgen;
	uint8_t state, phase, tk;
	uint8_t tls_want, tls_on, pipe, mis, silent_point, trickle;
	uint8_t mis_done, think_done, expect_close, greeted, errors;
	uint8_t inject, holding, need_rset;
	int nmsgs, msg_i, mis_msg, evmask;
	gnutls_session_t tls;
	struct msg *m;
	char *out;
	size_t olen, ooff, ocap;
	char in[4096];
	size_t ilen;
	uint8_t q[QCAP];
	uint16_t qarg[QCAP];
	unsigned qh, qt;
	double t_conn, t_wait, t_silent, t_hs, t_greet;
	int burst_n;
};

static struct client *cl;
static int ep = -1;
static int active_slots;
static int stopping, cutting;
static double t_deadline, t_cut;
static gnutls_certificate_credentials_t xcred;
static gnutls_priority_t prio;
static struct sockaddr_in srv_addr;
static uint64_t token_base;
static uint64_t token_seq;

/* timer heap */
struct tev {
	double t;
	int id;
	uint32_t gen;
};
static struct tev *heap;
static size_t hn, hcap;

enum { TK_NONE, TK_STEP, TK_CONNECT, TK_WATCHDOG, TK_BODY };

static void heap_push(double t, int id, uint32_t gen)
{
	size_t i;

	if (hn == hcap) {
		hcap = hcap ? hcap * 2 : 8192;
		heap = realloc(heap, hcap * sizeof(*heap));
		if (!heap)
			abort();
	}
	i = hn++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (heap[p].t <= t)
			break;
		heap[i] = heap[p];
		i = p;
	}
	heap[i] = (struct tev){t, id, gen};
}

static struct tev heap_pop(void)
{
	struct tev top = heap[0], last = heap[--hn];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		double mt = last.t;

		if (l < hn && heap[l].t < mt) {
			m = l;
			mt = heap[l].t;
		}
		if (r < hn && heap[r].t < mt)
			m = r;
		if (m == i)
			break;
		heap[i] = heap[m];
		i = m;
	}
	if (hn)
		heap[i] = last;
	return top;
}

static void set_timer(struct client *c, double at, int kind)
{
	c->tgen++;
	c->tk = (uint8_t)kind;
	heap_push(at, c->id, c->tgen);
}

static void clear_timer(struct client *c)
{
	c->tgen++;
	c->tk = TK_NONE;
}

static void step(struct client *c);
static void close_conn(struct client *c, int rst);
static void pump(struct client *c);

static void logx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logx(const char *fmt, ...)
{
	va_list ap;
	static long n;

	if (!dbg || n++ > 20000)
		return;
	va_start(ap, fmt);
	fprintf(dbg, "%.3f ", now_s() - st.t_start);
	vfprintf(dbg, fmt, ap);
	fputc('\n', dbg);
	va_end(ap);
}

/* fail - an unexpected event: count it by kind, drop the connection */
static void fail(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct client *c, const char *fmt, ...)
{
	char what[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	count("error:%s", what);
	logx("client %d: %s (mis=%s tls=%d)", c->id, what, mis_names[c->mis],
	     c->tls_on);
	close_conn(c, 1);
}

static void update_events(struct client *c)
{
	int want = EPOLLIN;
	struct epoll_event ev;

	if (c->fd < 0)
		return;
	if (c->state == C_CONNECTING || c->olen > c->ooff)
		want |= EPOLLOUT;
	if (c->state == C_HANDSHAKE)
		want = gnutls_record_get_direction(c->tls) ? EPOLLOUT
							   : EPOLLIN;
	if (want == c->evmask)
		return;
	ev.events = (uint32_t)want;
	ev.data.u32 = (uint32_t)c->id;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->evmask = want;
}

/* ---------- output ---------- */

static int out_reserve(struct client *c, size_t n)
{
	if (c->olen + n <= c->ocap)
		return 0;
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->olen + n > c->ocap) {
		size_t nc = c->ocap ? c->ocap : 16384;
		char *nb;

		while (nc < c->olen + n)
			nc *= 2;
		nb = realloc(c->out, nc);
		if (!nb)
			return -1;
		c->out = nb;
		c->ocap = nc;
	}
	return 0;
}

static void out_add(struct client *c, const void *p, size_t n)
{
	if (out_reserve(c, n) < 0)
		abort();
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

static void out_fmt(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_fmt(struct client *c, const char *fmt, ...)
{
	char b[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_add(c, b, (size_t)(n < (int)sizeof(b) ? n : (int)sizeof(b) - 1));
}

static void expect(struct client *c, int kind, int arg)
{
	if (c->qt - c->qh >= QCAP)
		abort();
	c->q[c->qt % QCAP] = (uint8_t)kind;
	c->qarg[c->qt % QCAP] = (uint16_t)arg;
	c->qt++;
}

/* raw write: bytes or -EAGAIN or -errno */
static ssize_t cwrite(struct client *c, const char *p, size_t n)
{
	ssize_t r;

	if (c->tls_on) {
		r = gnutls_record_send(c->tls, p, n);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return -EAGAIN;
		return r < 0 ? -EPIPE : r;
	}
	r = send(c->fd, p, n, MSG_NOSIGNAL);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return r;
}

static void parse(struct client *c);
static ssize_t cread(struct client *c, char *p, size_t n);

/* drain_replies - whatever the server sent before it closed */
static void drain_replies(struct client *c)
{
	for (int i = 0; i < 8 && c->fd >= 0 && c->state != C_CLOSING; i++) {
		ssize_t r;

		if (c->ilen == sizeof(c->in))
			return;
		r = cread(c, c->in + c->ilen, sizeof(c->in) - c->ilen);
		if (r <= 0)
			return;
		c->ilen += (size_t)r;
		parse(c);
	}
}

/* flush - 1 all written, 0 would block, -1 the connection failed */
static int flush(struct client *c)
{
	while (c->ooff < c->olen) {
		ssize_t w = cwrite(c, c->out + c->ooff, c->olen - c->ooff);

		if (w == -EAGAIN)
			return 0;
		if (w < 0) {
			/* the server may have said why it closed (a 421 of
			 * max_session_time while we were still sending) */
			int fd = c->fd;

			c->ooff = c->olen = 0;
			drain_replies(c);
			if (c->fd != fd || c->state == C_CLOSING) {
				if (c->fd == fd)
					close_conn(c, 1);
				return -1;
			}
			fail(c, "write:%s", w == -ECONNRESET ? "reset"
					    : w == -EPIPE    ? "pipe"
							     : "other");
			return -1;
		}
		c->ooff += (size_t)w;
		st.bytes_sent_wire += w;
	}
	c->ooff = c->olen = 0;
	return 1;
}

/* ---------- message generation ---------- */

static void msg_free(struct client *c)
{
	struct msg *m = c->m;

	if (!m)
		return;
	if (m->h) {
		uint8_t d[32];

		gnutls_hash_deinit(m->h, d);
	}
	free(m);
	c->m = NULL;
}

static long long pick_size(void)
{
	double u = frand();

	if (st.volume_used < O.volume) {
		if (u < O.large_share)
			return logu(200000, 2000000);
		if (u < O.large_share + O.medium_share)
			return logu(10000, 200000);
	}
	return logu(200, 10000);
}

/* gen_line - one stored line (without CRLF) into p; its length */
static size_t gen_line(struct msg *m, char *p, size_t max)
{
	uint64_t r = rnd64(&m->rng);
	size_t len, off;
	unsigned k = (unsigned)(r & 1023);

	if (k < 716)
		len = 20 + (r >> 10) % 59;
	else if (k < 921)
		len = (r >> 10) % 20;
	else if (k < 1013)
		len = 78 + (r >> 10) % 222;
	else
		len = 300 + (r >> 10) % 699;
	if (len > max)
		len = max;
	off = (size_t)((r >> 24) % (POOL_SIZE - 1000));
	memcpy(p, pool + off, len);
	k = (unsigned)((r >> 44) & 63);
	if (len && k < 4)
		p[0] = '.'; /* dot-stuffing needed */
	else if (k == 4)
		len = 1, p[0] = '.'; /* a line of one dot */
	else if (k == 5 && max >= 2)
		len = 2, p[0] = p[1] = '.';
	return len;
}

/* body_fill - add the next part of the message to the out buffer */
static void body_fill(struct client *c, size_t want)
{
	struct msg *m = c->m;
	char *start, *w, *end;

	if (out_reserve(c, want + 2048) < 0)
		abort();
	start = w = c->out + c->olen;
	end = start + want;
	m->hash_from = w;
	if (!m->hdr_done) {
		char s[300];
		struct rec *r = &recs.v[m->rec];

		if (r->sender >= 0)
			addr_sender(r->sender, s, sizeof(s));
		else
			snprintf(s, sizeof(s), "MAILER-DAEMON@load.test");
		w += snprintf(w, 1024,
			      "X-Load-Id: %016llx\r\nFrom: <%s>\r\nSubject: "
			      "load %s %016llx\r\nMessage-ID: <%016llx@load."
			      "test>\r\n\r\n",
			      (unsigned long long)r->token, s, O.label,
			      (unsigned long long)r->token,
			      (unsigned long long)r->token);
		m->gen += w - start;
		m->hdr_done = 1;
	}
	while (w < end && !m->body_done) {
		long long left = m->target - m->gen;
		size_t len;

		if (m->smuggle && !m->smuggled && m->gen > m->target / 2) {
			static const char sm[] =
				"smuggled\n.\nMAIL FROM:<evil@load.test>\n"
				"RCPT TO:<u0@example.com>\nDATA\nforged\r\n";

			memcpy(w, sm, sizeof(sm) - 1);
			w += sizeof(sm) - 1;
			m->gen += (long long)sizeof(sm) - 1;
			m->smuggled = 1;
			continue;
		}
		if (left < 2) {
			/* end: hash what is pending, then the terminator */
			if (w > m->hash_from)
				gnutls_hash(m->h, m->hash_from,
					    (size_t)(w - m->hash_from));
			memcpy(w, ".\r\n", 3);
			w += 3;
			m->hash_from = w;
			m->body_done = 1;
			break;
		}
		len = gen_line(m, w + 1, (size_t)(left - 2 > 998 ? 998
							     : left - 2));
		if (len && w[1] == '.') {
			/* stuff: the extra dot is on the wire only */
			if (w > m->hash_from)
				gnutls_hash(m->h, m->hash_from,
					    (size_t)(w - m->hash_from));
			w[0] = '.';
			m->hash_from = w + 1;
			w += 1 + len;
		} else {
			memmove(w, w + 1, len);
			w += len;
		}
		memcpy(w, "\r\n", 2);
		w += 2;
		m->gen += (long long)len + 2;
	}
	if (w > m->hash_from)
		gnutls_hash(m->h, m->hash_from, (size_t)(w - m->hash_from));
	c->olen += (size_t)(w - start);
}

/* ---------- connection life ---------- */

static void slot_next(struct client *c, double delay)
{
	c->state = C_IDLE;
	if (stopping || now_s() + delay > t_deadline) {
		c->state = C_DONE;
		active_slots--;
		return;
	}
	set_timer(c, now_s() + delay, TK_CONNECT);
}

static void close_conn(struct client *c, int rst)
{
	struct msg *m = c->m;

	if (m) {
		struct rec *r = &recs.v[m->rec];

		if (r->outcome == OUT_NONE) {
			if (m->dot_flushed || (m->body_done && c->ooff >= c->olen && c->phase == P_DOT)) {
				r->outcome = OUT_UNKNOWN;
				st.msgs_unknown++;
			} else if (m->data_sent) {
				r->outcome = OUT_ABORTED;
				st.msgs_aborted++;
			} else {
				r->outcome = OUT_ABORTED;
			}
		}
		msg_free(c);
	}
	if (c->tls) {
		gnutls_deinit(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0) {
		if (rst) {
			struct linger lg = {1, 0};

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(c->fd); /* also leaves the epoll set */
		c->fd = -1;
	}
	if (c->greeted)
		st.concurrent--;
	c->greeted = 0;
	free(c->out);
	c->out = NULL;
	c->olen = c->ooff = c->ocap = 0;
	c->ilen = 0;
	c->qh = c->qt = 0;
	c->tls_on = 0;
	clear_timer(c);
	slot_next(c, exprand(O.conn_think_ms / 1000.0));
}

static void start_conn(struct client *c)
{
	struct epoll_event ev;
	int fd, one = 1;

	if (stopping) {
		c->state = C_DONE;
		active_slots--;
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		count("error:socket:%s", strerror(errno));
		slot_next(c, 1.0);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	st.conns++;
	c->fd = fd;
	c->t_conn = now_s();
	c->state = C_CONNECTING;
	c->evmask = EPOLLOUT;
	/* the plan of this connection */
	c->tls_want = frand() < O.tls_share;
	c->pipe = frand() < O.pipe_share;
	c->nmsgs = 1 + (int)irand(O.max_msgs);
	c->msg_i = 0;
	c->mis = frand() < O.misbehave ? (uint8_t)(1 + irand(MB_N - 1))
				       : MB_NONE;
	if (c->mis == MB_INJECT && !c->tls_want)
		c->tls_want = 1;
	c->mis_msg = (int)irand(c->nmsgs);
	c->silent_point = (uint8_t)irand(3);
	c->trickle = frand() < 0.02;
	c->mis_done = 0;
	c->think_done = 0;
	c->expect_close = 0;
	c->errors = 0;
	c->inject = 0;
	c->need_rset = 0;
	c->holding = 0;
	c->t_greet = 0;
	c->phase = P_GREET;
	c->qh = c->qt = 0;
	expect(c, RK_GREET, 0);
	if (c->mis)
		count("injected:%s", mis_names[c->mis]);
	ev.events = EPOLLOUT;
	ev.data.u32 = (uint32_t)c->id;
	if (connect(fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) < 0 &&
	    errno != EINPROGRESS) {
		count("error:connect:%s", strerror(errno));
		close(fd);
		c->fd = -1;
		st.conns--;
		slot_next(c, 1.0);
		return;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		abort();
	set_timer(c, now_s() + 120, TK_WATCHDOG);
}

/* wait_replies - arm the watchdog while replies are due */
static void wait_replies(struct client *c)
{
	c->t_wait = now_s();
	set_timer(c, c->t_wait + (c->q[c->qh % QCAP] == RK_GREET ? 120 : 90),
		  TK_WATCHDOG);
}

static void send_and_wait(struct client *c)
{
	if (flush(c) < 0)
		return;
	wait_replies(c);
	update_events(c);
}

static void go_silent(struct client *c)
{
	count("silent:%s", c->phase == P_BODY	   ? "in-data"
			   : c->phase == P_GREET ? "after-greeting"
						 : "after-ehlo");
	c->state = C_SILENT;
	c->t_silent = now_s();
	set_timer(c, c->t_silent + O.timeout + 30, TK_WATCHDOG);
	update_events(c);
}

static void begin_tls(struct client *c)
{
	int r;

	r = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (r < 0) {
		fail(c, "tls-init");
		return;
	}
	gnutls_priority_set(c->tls, prio);
	gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, xcred);
	gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, "mx.load.test", 12);
	gnutls_transport_set_int(c->tls, c->fd);
	c->state = C_HANDSHAKE;
	c->t_hs = now_s();
	set_timer(c, c->t_hs + 90, TK_WATCHDOG);
	pump(c);
}

static void do_handshake(struct client *c)
{
	int r = gnutls_handshake(c->tls);

	if (r == 0) {
		series_add(&lat[L_TLS], now_s() - c->t_hs);
		st.tls_ok++;
		c->tls_on = 1;
		c->state = C_OPEN;
		c->phase = P_EHLO;
		out_fmt(c, "EHLO client%d.load.test\r\n", c->id);
		expect(c, RK_EHLO, 1);
		send_and_wait(c);
		return;
	}
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
	    !gnutls_error_is_fatal(r)) {
		update_events(c);
		return;
	}
	fail(c, "tls-handshake:%s", gnutls_strerror_name(r));
}

/* start_msg - MAIL, RCPT..., DATA of a new message */
static void start_msg(struct client *c)
{
	struct msg *m = calloc(1, sizeof(*m));
	struct rec *r;
	char a[256];
	int sender;

	if (!m)
		abort();
	if (recs.n == recs.cap) {
		recs.cap = recs.cap ? recs.cap * 2 : 65536;
		recs.v = realloc(recs.v, recs.cap * sizeof(*recs.v));
		if (!recs.v)
			abort();
	}
	m->rec = recs.n++;
	r = &recs.v[m->rec];
	memset(r, 0, sizeof(*r));
	r->token = token_base | (token_seq++ & 0xffffffffULL);
	sender = frand() < 0.05 ? -1 : (int)irand(NSENDER_IDS);
	r->sender = sender;
	r->tls = c->tls_on;
	m->rng = rnd64(&rng_state);
	m->target = pick_size();
	st.volume_used += m->target;
	m->nwant = 1 + (int)irand(O.max_rcpts);
	for (int i = 0; i < m->nwant; i++) {
		int dup;

		do {
			m->want[i] = (uint16_t)irand(NRCPT_IDS);
			dup = 0;
			for (int j = 0; j < i; j++)
				dup |= m->want[j] == m->want[i];
		} while (dup);
		m->wbad[i] = frand() < O.bad_rcpt_share;
	}
	m->abort_at = m->silent_at = -1;
	if (c->msg_i == c->mis_msg) {
		if (c->mis == MB_ABORT_DATA)
			m->abort_at = (long long)(frand() * (double)m->target);
		if (c->mis == MB_SILENT && c->silent_point == 2)
			m->silent_at = (long long)(frand() * (double)m->target);
		m->smuggle = c->mis == MB_SMUGGLE;
	}
	if (gnutls_hash_init(&m->h, GNUTLS_DIG_SHA256) < 0)
		abort();
	c->m = m;
	st.msgs_started++;
	m->t_mail = now_s();
	if (sender >= 0)
		addr_sender(sender, a, sizeof(a));
	else
		a[0] = '\0';
	if (frand() < 0.5)
		out_fmt(c, "MAIL FROM:<%s> SIZE=%lld%s\r\n", a, m->target + 1024,
			frand() < 0.5 ? " BODY=8BITMIME" : "");
	else
		out_fmt(c, "MAIL FROM:<%s>\r\n", a);
	expect(c, RK_MAIL, 0);
	c->phase = P_TXN;
	if (c->pipe) {
		for (int i = 0; i < m->nwant; i++) {
			if (m->wbad[i])
				out_fmt(c, "RCPT TO:<u%d@relay.invalid>\r\n",
					m->want[i]);
			else {
				addr_rcpt(m->want[i], a, sizeof(a));
				out_fmt(c, "RCPT TO:<%s>\r\n", a);
			}
			expect(c, RK_RCPT, i);
		}
		m->next_rcpt = m->nwant;
		out_fmt(c, "DATA\r\n");
		expect(c, RK_DATA, 0);
		m->data_sent = 1;
	}
	send_and_wait(c);
}

/* txn_next - non-pipelined: the next RCPT, or DATA */
static void txn_next(struct client *c)
{
	struct msg *m = c->m;
	char a[256];

	if (m->next_rcpt < m->nwant) {
		int i = m->next_rcpt++;

		if (m->wbad[i])
			out_fmt(c, "RCPT TO:<u%d@relay.invalid>\r\n", m->want[i]);
		else {
			addr_rcpt(m->want[i], a, sizeof(a));
			out_fmt(c, "RCPT TO:<%s>\r\n", a);
		}
		expect(c, RK_RCPT, i);
	} else {
		out_fmt(c, "DATA\r\n");
		expect(c, RK_DATA, 0);
		m->data_sent = 1;
	}
	send_and_wait(c);
}

static void garbage_line(struct client *c)
{
	size_t n = 1 + (size_t)irand(200);
	char b[210];

	b[0] = (char)0xff;
	for (size_t i = 1; i < n; i++) {
		b[i] = (char)irand(256);
		if (b[i] == '\n')
			b[i] = 0;
	}
	out_add(c, b, n);
	out_add(c, "\r\n", 2);
}

/* expect_error - a line the server counts as an error */
static void expect_error(struct client *c)
{
	c->errors++;
	expect(c, RK_GARBAGE, c->errors >= O.max_errors);
}

/* misbehave - the connection's misbehaviour before message mis_msg;
 * 1 if something was sent */
static int misbehave(struct client *c)
{
	int n;

	c->mis_done = 1;
	switch (c->mis) {
	case MB_GARBAGE:
		n = irand(3) == 0 ? O.max_errors + 1 : 1 + (int)irand(3);
		for (int i = 0; i < n && c->errors < O.max_errors; i++) {
			garbage_line(c);
			expect_error(c);
		}
		break;
	case MB_OVERLONG:
		if (irand(4) == 0) {
			/* exactly at the limit (CRLF included): accepted */
			out_add(c, "NOOP ", 5);
			for (int i = 0; i < O.max_line - 7; i++)
				out_add(c, "y", 1);
			out_add(c, "\r\n", 2);
			expect(c, RK_ANY2, 0);
		}
		n = O.max_line + 1 + (irand(2) ? 0 : (int)irand(40000));
		out_add(c, "NOOP ", 5);
		if (out_reserve(c, (size_t)n) < 0)
			abort();
		memset(c->out + c->olen, 'x', (size_t)n - 7);
		c->olen += (size_t)n - 7;
		out_add(c, "\r\n", 2);
		expect_error(c);
		break;
	case MB_BURST:
		n = 20 + (int)irand(81);
		c->burst_n = n;
		for (int i = 0; i < n; i++) {
			static const char *cmds[] = {"NOOP\r\n", "RSET\r\n",
						     "HELP\r\n",
						     "VRFY u1\r\n",
						     "NOOP burst\r\n"};
			const char *s = cmds[irand(5)];

			out_add(c, s, strlen(s));
			expect(c, RK_ANY2, 0);
		}
		break;
	case MB_BADSEQ: {
		static const struct {
			const char *cmd;
			int code;
		} seq[] = {{"DATA\r\n", 503},
			   {"RCPT TO:<u1@example.com>\r\n", 503},
			   {"MAIL FROM:<b@load.test> SIZE=%lld\r\n", 552},
			   {"XYZZY\r\n", 500},
			   {"MAIL FROM:<b@load.test>\r\n", 250},
			   {"RCPT TO:<u1@relay.invalid>\r\n", 554},
			   {"DATA\r\n", 554},
			   {"RSET\r\n", 250}};

		for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
			out_fmt(c, seq[i].cmd, O.max_size + 1);
			if (seq[i].code == 500) {
				expect_error(c);
			} else {
				expect(c, RK_CODE, seq[i].code);
			}
		}
		break;
	}
	case MB_ABORT_CMD: {
		static const char cmd[] =
			"MAIL FROM:<aborted@load.test> SIZE=1000\r\n";

		out_add(c, cmd, 1 + (size_t)irand(sizeof(cmd) - 3));
		flush(c);
		count("aborted:cmd");
		close_conn(c, (int)irand(2));
		return -1;
	}
	default:
		return 0;
	}
	c->phase = P_MISC;
	send_and_wait(c);
	return 1;
}

static void quit(struct client *c)
{
	out_fmt(c, "QUIT\r\n");
	expect(c, RK_QUIT, 0);
	c->phase = P_QUIT;
	send_and_wait(c);
}

/* step - the queue is empty: decide what to send next */
static void step(struct client *c)
{
	if (c->state != C_OPEN || c->qh != c->qt)
		return;
	if (!c->think_done && c->phase != P_GREET && frand() < O.think_prob &&
	    !stopping) {
		double t = exprand(O.think_ms / 1000.0);

		if (t > O.timeout / 3)
			t = O.timeout / 3;
		c->think_done = 1;
		set_timer(c, now_s() + t, TK_STEP);
		return;
	}
	c->think_done = 0;
	switch (c->phase) {
	case P_GREET:
		if (c->mis == MB_SILENT && c->silent_point == 0) {
			go_silent(c);
			return;
		}
		out_fmt(c, "EHLO client%d.load.test\r\n", c->id);
		expect(c, RK_EHLO, 0);
		c->phase = P_EHLO;
		send_and_wait(c);
		return;
	case P_EHLO:
		if (c->tls_want && !c->tls_on) {
			out_fmt(c, "STARTTLS\r\n");
			if (c->mis == MB_INJECT) {
				/* must be discarded, never run inside TLS */
				out_fmt(c, "EHLO injected.load.test\r\n");
				c->mis_done = 1;
			}
			expect(c, RK_STARTTLS, 0);
			c->phase = P_STARTTLS;
			send_and_wait(c);
			return;
		}
		c->phase = P_READY;
		/* fall through */
	case P_READY:
	case P_MISC:
		c->phase = P_READY;
		if (c->mis == MB_SILENT && c->silent_point == 1) {
			go_silent(c);
			return;
		}
		if (c->need_rset) {
			c->need_rset = 0;
			out_fmt(c, "RSET\r\n");
			expect(c, RK_ANY2, 0);
			c->phase = P_MISC;
			send_and_wait(c);
			return;
		}
		if (!c->mis_done && c->msg_i == c->mis_msg &&
		    misbehave(c) != 0)
			return;
		if (stopping || c->msg_i >= c->nmsgs) {
			if (O.hold > 0 && !stopping) {
				/* hold the slot: a NOOP every O.hold seconds */
				if (!c->holding) {
					c->holding = 1;
					set_timer(c, now_s() + O.hold, TK_STEP);
					return;
				}
				c->holding = 0;
				out_fmt(c, "NOOP hold\r\n");
				expect(c, RK_ANY2, 0);
				c->phase = P_MISC;
				send_and_wait(c);
				return;
			}
			quit(c);
			return;
		}
		start_msg(c);
		return;
	case P_TXN:
		txn_next(c);
		return;
	default:
		return;
	}
}

/* ---------- replies ---------- */

static void closing(struct client *c)
{
	/* the server still holds its slot until its process exits, after
	 * this reply: counting the session as over here keeps the client's
	 * view of concurrency within the server's (max_clients check) */
	if (c->greeted)
		st.concurrent--;
	c->greeted = 0;
	c->expect_close = 1;
	c->state = C_CLOSING;
	set_timer(c, now_s() + 10, TK_WATCHDOG);
}

/* msg_done - the message's transaction is over one way or another */
static void msg_done(struct client *c, int outcome)
{
	struct rec *r = &recs.v[c->m->rec];

	if (r->outcome == OUT_NONE)
		r->outcome = (uint8_t)outcome;
	msg_free(c);
	c->msg_i++;
	c->phase = P_READY;
}

/* timeout_421 - "421 4.4.2" while we were not silent: the session's
 * max_session_time (a limit doing its job) or an idle timeout that
 * fired early (an error); 1 if handled */
static int timeout_421(struct client *c, int code, const char *text)
{
	double age;

	if (code != 421 || !strstr(text, "4.4.2") || !c->t_greet)
		return 0;
	age = now_s() - c->t_greet;
	/* the session's clock starts before its greeting reaches us (by
	 * seconds under a storm): a cut near the limit is the limit */
	if (age >= O.session_time * 0.8) {
		series_add(&lat[L_CUT], age);
		count("limit:421-max-session-time");
		if (age > O.session_time + O.slack)
			count("limit:session-overran-max-session-time");
	} else {
		count("error:421-timeout-while-active");
		logx("client %d: 421 4.4.2 after %.1f s, phase %d", c->id, age,
		     c->phase);
	}
	closing(c);
	return 1;
}

static void on_reply(struct client *c, int code, const char *text)
{
	struct msg *m = c->m;
	int kind, arg;
	double now = now_s();

	/* a 4xx verdict on a message: not accepted, a sender retries */
	if (c->qh != c->qt && c->q[c->qh % QCAP] == RK_DOT && code / 100 == 4 &&
	    m) {
		recs.v[m->rec].outcome = OUT_TEMPFAIL;
		count("tempfail:dot-%d", code);
	}
	if (c->state != C_SILENT && timeout_421(c, code, text))
		return;

	if (c->qh == c->qt) {
		if (c->state == C_SILENT) {
			double d = now - c->t_silent;

			series_add(&lat[L_SILENT], d);
			if (code == 421 && strstr(text, "4.4.2"))
				count("silent:closed-with-421-4.4.2");
			else
				count("error:silent:reply-%d", code);
			if (d > O.timeout + O.slack)
				count("limit:silent-overran-timeout");
			closing(c);
			return;
		}
		count("error:unsolicited-%d-in-%s", code,
		      c->phase == P_BODY ? "data" : "idle");
		logx("client %d: unsolicited %d %s", c->id, code, text);
		if (code == 421)
			closing(c);
		else
			close_conn(c, 1);
		return;
	}
	kind = c->q[c->qh % QCAP];
	arg = c->qarg[c->qh % QCAP];
	c->qh++;
	if (code == 421 && kind != RK_GREET && kind != RK_GARBAGE) {
		count("error:421-to-%s", rk_names[kind]);
		logx("client %d: 421 to %s: %s", c->id, rk_names[kind], text);
		closing(c);
		return;
	}
	switch (kind) {
	case RK_GREET:
		if (code == 220) {
			series_add(&lat[L_GREET], now - c->t_conn);
			c->t_greet = now;
			tl_conn[tl_slot()]++;
			c->greeted = 1;
			st.greeted++;
			if (++st.concurrent > st.peak_concurrent)
				st.peak_concurrent = st.concurrent;
		} else if (code == 421 && strstr(text, "Too many connections")) {
			count(O.expect_full ? "limit:421-max-clients"
					    : "error:421-max-clients");
			closing(c);
			return;
		} else {
			fail(c, "greeting-%d", code);
			return;
		}
		break;
	case RK_EHLO:
		if (code != 250) {
			fail(c, "ehlo-%d", code);
			return;
		}
		break;
	case RK_STARTTLS:
		if (code != 220) {
			fail(c, "starttls-%d", code);
			return;
		}
		if (c->ilen) {
			fail(c, "bytes-after-starttls-220");
			return;
		}
		if (c->mis == MB_INJECT)
			count("expected:inject-ignored");
		clear_timer(c);
		begin_tls(c);
		return;
	case RK_MAIL:
		if (code == 250)
			m->mail_ok = 1;
		else
			count("refused:mail-%d", code);
		if (!m->mail_ok && !c->pipe) {
			c->need_rset = 1;
			msg_done(c, OUT_ABORTED);
			break;
		}
		break;
	case RK_RCPT:
		if (code == 250 || code == 251) {
			struct rec *r = &recs.v[m->rec];

			if (m->wbad[arg])
				count("error:relay-accepted");
			if (r->nrcpt < MAXRCPT)
				r->rcpt[r->nrcpt++] = m->want[arg];
			m->nok++;
			st.rcpts_accepted++;
		} else if (code == 554 && m->wbad[arg]) {
			count("expected:relay-denied");
		} else if (code == 503 && !m->mail_ok) {
			;
		} else {
			count("error:rcpt-%d", code);
		}
		break;
	case RK_DATA:
		if (code == 354) {
			if (!m->nok)
				count("error:354-without-recipients");
			c->phase = P_BODY;
			clear_timer(c);
			pump(c);
			return;
		}
		if (m->nok)
			count("error:data-%d", code);
		else
			count("expected:data-refused-no-rcpt");
		/* the server may still hold the sender: start clean */
		c->need_rset = 1;
		msg_done(c, OUT_ABORTED);
		break;
	case RK_DOT: {
		struct rec *r = &recs.v[m->rec];

		series_add(&lat[L_DOT], now - m->t_dot);
		series_add(&lat[L_TXN], now - m->t_mail);
		if (code == 250) {
			const char *q = strstr(text, "queued as ");

			if (!q || strlen(q + 10) >= sizeof(r->qid) ||
			    strlen(q + 10) == 0) {
				count("error:250-without-queue-id");
				msg_done(c, OUT_UNKNOWN);
				st.msgs_unknown++;
				break;
			}
			snprintf(r->qid, sizeof(r->qid), "%s", q + 10);
			r->tls = c->tls_on;
			if (m->smuggle)
				count("error:smuggling-message-accepted");
			st.msgs_accepted++;
			tl_acc[tl_slot()]++;
			st.bytes_accepted += m->gen;
			msg_done(c, OUT_ACCEPTED);
		} else {
			if (m->smuggle && code == 550)
				count("expected:smuggle-refused-550");
			else
				count("refused:dot-%d", code);
			st.msgs_refused++;
			msg_done(c, code / 100 == 4 ? OUT_TEMPFAIL : OUT_REJECTED);
		}
		break;
	}
	case RK_QUIT:
		if (code != 221)
			count("error:quit-%d", code);
		closing(c);
		return;
	case RK_ANY2:
		if (code / 100 != 2)
			count("error:noop-%d", code);
		break;
	case RK_GARBAGE:
		if (code == 421 && arg) {
			count("expected:too-many-errors-421");
			closing(c);
			return;
		}
		if (code == 421) {
			count("error:early-421-on-errors");
			closing(c);
			return;
		}
		if (code / 100 != 5)
			count("error:junk-answered-%d", code);
		break;
	case RK_CODE:
		if (code != arg)
			count("error:badseq-%d-want-%d", code, arg);
		break;
	}
	if (c->fd < 0)
		return;
	if (c->qh == c->qt) {
		clear_timer(c);
		if (c->state == C_OPEN)
			step(c);
	} else {
		wait_replies(c);
	}
}

/* parse - whole reply lines out of c->in */
static void parse(struct client *c)
{
	size_t off = 0;

	while (c->fd >= 0) {
		char *nl = memchr(c->in + off, '\n', c->ilen - off);
		char line[600];
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - (c->in + off));
		if (n && c->in[off + n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, c->in + off, n);
		line[n] = '\0';
		off = (size_t)(nl - c->in) + 1;
		if (n < 3 || line[0] < '2' || line[0] > '5') {
			fail(c, "malformed-reply");
			return;
		}
		if (n > 3 && line[3] == '-')
			continue;
		memmove(c->in, c->in + off, c->ilen - off);
		c->ilen -= off;
		off = 0;
		on_reply(c, atoi(line), line);
	}
	if (c->fd >= 0 && off) {
		memmove(c->in, c->in + off, c->ilen - off);
		c->ilen -= off;
	}
}

static ssize_t cread(struct client *c, char *p, size_t n)
{
	ssize_t r;

	if (c->tls_on) {
		r = gnutls_record_recv(c->tls, p, n);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return -EAGAIN;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		return r < 0 ? -EIO : r;
	}
	r = recv(c->fd, p, n, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return r;
}

static void on_readable(struct client *c)
{
	for (;;) {
		ssize_t r;

		if (c->fd < 0 || c->state == C_HANDSHAKE)
			return;
		if (c->ilen == sizeof(c->in)) {
			fail(c, "reply-line-too-long");
			return;
		}
		r = cread(c, c->in + c->ilen, sizeof(c->in) - c->ilen);
		if (r == -EAGAIN)
			return;
		if (r == 0) {
			if (c->expect_close) {
				close_conn(c, 0);
			} else if (c->state == C_SILENT) {
				series_add(&lat[L_SILENT], now_s() - c->t_silent);
				count("error:silent:closed-without-421");
				close_conn(c, 0);
			} else {
				/* a session that dies without a word: a
				 * crash, or a limit without its reply */
				fail(c, "server-eof-during-%s",
				     c->qh != c->qt
					     ? rk_names[c->q[c->qh % QCAP]]
				     : c->phase == P_BODY ? "data"
							  : "idle");
			}
			return;
		}
		if (r < 0) {
			if (c->expect_close) {
				close_conn(c, 0);
				return;
			}
			fail(c, "read-%s", r == -ECONNRESET ? "reset" : "error");
			return;
		}
		c->ilen += (size_t)r;
		parse(c);
	}
}

/* pump - connect completion, handshake, pending output, the body */
static void pump(struct client *c)
{
	struct msg *m;
	int r;

	if (c->fd < 0)
		return;
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err == EINPROGRESS)
			return;
		if (err) {
			count("error:connect:%s", strerror(err));
			close_conn(c, 1);
			return;
		}
		series_add(&lat[L_CONNECT], now_s() - c->t_conn);
		st.conns_ok++;
		c->state = C_OPEN;
		update_events(c);
		return;
	}
	if (c->state == C_HANDSHAKE) {
		do_handshake(c);
		return;
	}
	r = flush(c);
	if (r < 0)
		return;
	if (r == 0) {
		update_events(c);
		return;
	}
	m = c->m;
	while (c->phase == P_BODY && c->state == C_OPEN && m) {
		if (m->body_done) {
			struct rec *rr = &recs.v[m->rec];

			/* the whole message is out: its digest is final, and
			 * a copy must match it even if no verdict comes */
			gnutls_hash_deinit(m->h, rr->digest);
			m->h = NULL;
			rr->size = m->gen;
			m->dot_flushed = 1;
			m->t_dot = now_s();
			c->phase = P_DOT;
			expect(c, RK_DOT, 0);
			wait_replies(c);
			break;
		}
		if (m->abort_at >= 0 && m->gen >= m->abort_at) {
			count("aborted:data");
			st.msgs_aborted++;
			recs.v[m->rec].outcome = OUT_ABORTED;
			close_conn(c, (int)irand(2));
			return;
		}
		if (m->silent_at >= 0 && m->gen >= m->silent_at) {
			recs.v[m->rec].outcome = OUT_ABORTED;
			st.msgs_aborted++;
			go_silent(c);
			return;
		}
		if (c->trickle && m->target < 20000) {
			body_fill(c, 1 + (size_t)irand(300));
			if (flush(c) < 0)
				return;
			if (c->olen == 0 && !m->body_done) {
				set_timer(c, now_s() + exprand(0.05), TK_BODY);
				break;
			}
			if (c->olen)
				break;
			continue;
		}
		{
			long long want = 32768, lim = -1;

			if (m->abort_at >= 0)
				lim = m->abort_at;
			if (m->silent_at >= 0)
				lim = m->silent_at;
			if (lim >= 0 && lim - m->gen < want)
				want = lim - m->gen > 1 ? lim - m->gen : 1;
			body_fill(c, (size_t)want);
		}
		r = flush(c);
		if (r < 0)
			return;
		if (r == 0) {
			set_timer(c, now_s() + 90, TK_WATCHDOG);
			break;
		}
	}
	update_events(c);
}

static void on_timer(struct client *c, int tk)
{
	switch (tk) {
	case TK_CONNECT:
		start_conn(c);
		break;
	case TK_STEP:
		if (c->state == C_OPEN)
			step(c);
		break;
	case TK_BODY:
		pump(c);
		break;
	case TK_WATCHDOG:
		if (c->state == C_SILENT) {
			count("limit:silent-session-never-closed");
			fail(c, "silent-no-close");
		} else if (c->state == C_CLOSING) {
			count("error:no-eof-after-final-reply");
			close_conn(c, 1);
		} else if (c->state == C_CONNECTING) {
			fail(c, "connect-timeout");
		} else if (c->state == C_HANDSHAKE) {
			fail(c, "tls-handshake-timeout");
		} else if (c->qh != c->qt) {
			fail(c, "reply-timeout-%s",
			     rk_names[c->q[c->qh % QCAP]]);
		} else {
			fail(c, "write-stall");
		}
		break;
	}
}

/* ---------- main ---------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen [options]\n"
		"  --port P            server port on 127.0.0.1 (2525)\n"
		"  --addr A            a loopback address (127.0.0.1)\n"
		"  --clients N         concurrent client slots (5000)\n"
		"  --duration S        seconds of load (60)\n"
		"  --ramp S            slots start spread over S s (duration/6)\n"
		"  --grace S           after the load, time to finish (timeout+20)\n"
		"  --tls F             share of STARTTLS connections (0.5)\n"
		"  --pipelining F      share pipelining MAIL/RCPT/DATA (0.4)\n"
		"  --misbehave F       share of misbehaving connections (0.1)\n"
		"  --msgs K            messages per connection, 1..K (5)\n"
		"  --rcpts R           recipients per message, 1..R (3, max %d)\n"
		"  --think-ms M        mean think time (100), --think-prob F (0.3)\n"
		"  --conn-think-ms M   mean pause between connections (500)\n"
		"  --large F, --medium F  shares of 200K-2M and 10K-200K sizes\n"
		"  --volume BYTES      total message bytes at most (about)\n"
		"  --timeout S         the server's idle timeout (30)\n"
		"  --session-time S    the server's max_session_time (3600)\n"
		"  --slack S           allowed lateness of the server (3)\n"
		"  --max-line N, --max-errors N, --max-size N  server limits\n"
		"  --hold S            keep sessions open, NOOP every S s\n"
		"  --expect-full       421 at the greeting is expected\n"
		"  --spool DIR --maildir ROOT  check delivery at the end\n"
		"  --drain-timeout S   wait this long for the spool (600)\n"
		"  --launcher-pid P --spoolerd-pid P  sample the server\n"
		"  --sample-interval S (1), --pss-every N (5)\n"
		"  --json FILE, --journal FILE, --log FILE, --seed N, --label L\n",
		MAXRCPT);
	exit(2);
}

static void write_json(const char *path, struct sample_stats *ss,
		       struct check_result *cr, int checked)
{
	FILE *f = fopen(path, "w");
	double load = st.t_end_load - st.t_start;

	if (!f) {
		perror(path);
		return;
	}
	fprintf(f, "{\n \"label\": \"%s\",\n", O.label);
	fprintf(f,
		" \"params\": {\"clients\": %d, \"duration\": %g, \"ramp\": %g, "
		"\"tls_share\": %g, \"pipelining\": %g, \"misbehave\": %g, "
		"\"max_msgs\": %d, \"max_rcpts\": %d, \"think_ms\": %g, "
		"\"timeout\": %g, \"session_time\": %g, \"hold\": %g, "
		"\"expect_full\": %d, \"volume\": %lld, \"seed\": %llu},\n",
		O.clients, O.duration, O.ramp, O.tls_share, O.pipe_share,
		O.misbehave, O.max_msgs, O.max_rcpts, O.think_ms, O.timeout,
		O.session_time, O.hold, O.expect_full, O.volume, O.seed);
	fprintf(f,
		" \"load_secs\": %.3f, \"total_secs\": %.3f,\n"
		" \"connections\": %lld, \"connected\": %lld, \"greeted\": %lld, "
		"\"tls_sessions\": %lld, \"peak_concurrent_greeted\": %d,\n"
		" \"messages_started\": %lld, \"messages_accepted\": %lld, "
		"\"messages_refused\": %lld, \"messages_aborted\": %lld, "
		"\"messages_unknown\": %lld, \"recipients_accepted\": %lld,\n"
		" \"bytes_accepted\": %lld, \"bytes_sent\": %lld,\n"
		" \"msgs_per_sec\": %.1f, \"conns_per_sec\": %.1f, "
		"\"mbytes_per_sec\": %.2f,\n",
		load, st.t_end - st.t_start, st.conns, st.conns_ok, st.greeted,
		st.tls_ok, st.peak_concurrent, st.msgs_started,
		st.msgs_accepted, st.msgs_refused, st.msgs_aborted,
		st.msgs_unknown, st.rcpts_accepted, st.bytes_accepted,
		st.bytes_sent_wire, (double)st.msgs_accepted / load,
		(double)st.conns_ok / load,
		(double)st.bytes_accepted / load / 1e6);
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		fprintf(f,
			" \"generator_cpu_s\": {\"user\": %.2f, \"sys\": %.2f},\n",
			(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	fprintf(f, " \"start_epoch\": %.3f,\n \"timeline_accepted\": [",
		start_epoch);
	{
		int last = (int)(st.t_end - st.t_start) + 1;

		if (last > TL_MAX)
			last = TL_MAX;
		for (int i = 0; i < last; i++)
			fprintf(f, "%s%d", i ? "," : "", tl_acc[i]);
		fprintf(f, "],\n \"timeline_greeted\": [");
		for (int i = 0; i < last; i++)
			fprintf(f, "%s%d", i ? "," : "", tl_conn[i]);
		fprintf(f, "],\n");
	}
	fprintf(f, " \"latency\": {\n");
	for (int i = 0; i < L_NSERIES; i++) {
		struct series *s = &lat[i];

		fprintf(f,
			"  \"%s\": {\"n\": %zu, \"p50\": %.6f, \"p90\": %.6f, "
			"\"p99\": %.6f, \"max\": %.6f}%s\n",
			series_names[i], s->n, pct(s, 50), pct(s, 90),
			pct(s, 99), s->n ? s->v[s->n - 1] : 0.0,
			i + 1 < L_NSERIES ? "," : "");
	}
	fprintf(f, " },\n \"events\": {");
	for (size_t i = 0; i < nkinds; i++)
		fprintf(f, "%s\n  \"%s\": %lld", i ? "," : "", kinds[i].name,
			kinds[i].n);
	fprintf(f, "\n },\n");
	fprintf(f,
		" \"server\": {\"samples\": %d, \"peak_procs\": %d, "
		"\"peak_zombies\": %d, "
		"\"peak_rss_kib\": %lld, \"peak_pss_kib\": %lld, "
		"\"procs_at_pss_peak\": %d, \"max_pss_per_session_kib\": %.0f, "
		"\"max_session_age\": %.2f, \"age_limit\": %.1f, "
		"\"samples_over_age\": %lld, \"spoolerd_peak_rss_kib\": %lld, "
		"\"peak_spool_new\": %lld, \"mem_avail_start_kib\": %lld, "
		"\"min_mem_avail_kib\": %lld, \"sampler_cpu_s\": %.2f, "
		"\"peak_running\": %d, \"peak_loadavg\": %.1f, "
		"\"oldest_pid\": %d},\n",
		ss->samples, ss->peak_procs, ss->peak_zombies, ss->peak_rss_kib,
		ss->peak_pss_kib, ss->pss_procs_at_peak,
		ss->max_pss_per_session_kib, ss->max_age_s, ss->age_limit_s,
		ss->sessions_over_age, ss->spoolerd_peak_rss_kib,
		ss->peak_spool_new, ss->mem_avail_start_kib,
		ss->min_mem_avail_kib, ss->sample_cpu_s, ss->peak_running,
		ss->peak_loadavg, ss->oldest_pid);
	fprintf(f,
		" \"check\": {\"done\": %d, \"drained\": %d, "
		"\"drain_secs\": %.2f, \"spool_left\": %lld, "
		"\"spool_detail\": \"%s\", \"accepted\": %lld, \"lost\": %lld, "
		"\"duplicated\": %lld, \"corrupted\": %lld, "
		"\"unexpected\": %lld, \"unknown_delivered\": %lld, "
		"\"copies_expected\": %lld, \"copies_found\": %lld, "
		"\"maildir_tmp_left\": %lld, \"tempfail_delivered\": %lld}\n}\n",
		checked, cr->drained, cr->drain_secs, cr->spool_left,
		cr->spool_detail, cr->accepted, cr->lost, cr->duplicated,
		cr->corrupted, cr->unexpected, cr->unknown_delivered,
		cr->copies_expected, cr->copies_found, cr->maildir_tmp_left,
		cr->tempfail_delivered);
	fclose(f);
}

static void write_journal(const char *path)
{
	FILE *f = fopen(path, "w");
	static const char *on[] = {"none",    "accepted", "unknown",
				   "refused", "aborted",  "tempfail"};

	if (!f) {
		perror(path);
		return;
	}
	for (size_t i = 0; i < recs.n; i++) {
		struct rec *r = &recs.v[i];

		fprintf(f, "%016llx\t%s\t%s\t%lld\t", (unsigned long long)r->token,
			on[r->outcome], r->qid[0] ? r->qid : "-", r->size);
		for (int k = 0; k < 32; k++)
			fprintf(f, "%02x", r->digest[k]);
		fprintf(f, "\t%d\t", r->tls);
		for (int k = 0; k < r->nrcpt; k++)
			fprintf(f, "%s%d", k ? "," : "", r->rcpt[k]);
		fputc('\n', f);
	}
	fclose(f);
}

static void print_summary(struct sample_stats *ss)
{
	double load = st.t_end_load - st.t_start;

	printf("[%s] %d clients, %.0f s: %lld connections (%lld TLS), "
	       "%lld messages accepted (%.1f/s, %.2f MB/s), %lld refused, "
	       "%lld cut by us, %lld unknown; peak %d sessions greeted at "
	       "once\n",
	       O.label, O.clients, load, st.conns_ok, st.tls_ok,
	       st.msgs_accepted, (double)st.msgs_accepted / load,
	       (double)st.bytes_accepted / load / 1e6, st.msgs_refused,
	       st.msgs_aborted, st.msgs_unknown, st.peak_concurrent);
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		printf("[%s] generator CPU: user %.1f s, sys %.1f s (%.0f%% of one "
		       "core over the run)\n",
		       O.label,
		       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		       100.0 *
			       ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6) /
			       (st.t_end - st.t_start));
	}
	for (int i = 0; i < L_NSERIES; i++) {
		struct series *s = &lat[i];

		if (!s->n)
			continue;
		printf("[%s] latency %-14s n=%-7zu p50 %8.2f ms  p90 %8.2f ms  "
		       "p99 %8.2f ms  max %8.2f ms\n",
		       O.label, series_names[i], s->n, pct(s, 50) * 1e3,
		       pct(s, 90) * 1e3, pct(s, 99) * 1e3,
		       s->v[s->n - 1] * 1e3);
	}
	for (size_t i = 0; i < nkinds; i++)
		printf("[%s] %-52s %lld\n", O.label, kinds[i].name, kinds[i].n);
	if (ss->samples)
		printf("[%s] server: peak %d session processes, peak RSS sum "
		       "%lld KiB, peak PSS sum %lld KiB (%d procs), oldest "
		       "session %.1f s (limit %.0f s, %lld samples over), "
		       "spoolerd peak RSS %lld KiB, spool new/ peak %lld\n",
		       O.label, ss->peak_procs, ss->peak_rss_kib,
		       ss->peak_pss_kib, ss->pss_procs_at_peak, ss->max_age_s,
		       ss->age_limit_s, ss->sessions_over_age,
		       ss->spoolerd_peak_rss_kib, ss->peak_spool_new);
}

static int loopback_only(const char *a)
{
	struct in_addr in;

	if (inet_pton(AF_INET, a, &in) != 1)
		return 0;
	return (ntohl(in.s_addr) >> 24) == 127;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", 1, 0, 'p'},	      {"addr", 1, 0, 'a'},
		{"clients", 1, 0, 'n'},	      {"duration", 1, 0, 'd'},
		{"ramp", 1, 0, 'r'},	      {"grace", 1, 0, 'g'},
		{"tls", 1, 0, 't'},	      {"pipelining", 1, 0, 'P'},
		{"misbehave", 1, 0, 'm'},     {"msgs", 1, 0, 'k'},
		{"rcpts", 1, 0, 'R'},	      {"think-ms", 1, 0, 'T'},
		{"think-prob", 1, 0, 'X'},    {"conn-think-ms", 1, 0, 'C'},
		{"large", 1, 0, 'L'},	      {"medium", 1, 0, 'M'},
		{"volume", 1, 0, 'V'},	      {"timeout", 1, 0, 'o'},
		{"session-time", 1, 0, 'S'},  {"slack", 1, 0, 's'},
		{"max-line", 1, 0, 'l'},      {"max-errors", 1, 0, 'e'},
		{"max-size", 1, 0, 'z'},      {"hold", 1, 0, 'h'},
		{"expect-full", 0, 0, 'F'},   {"spool", 1, 0, 'q'},
		{"maildir", 1, 0, 'D'},	      {"drain-timeout", 1, 0, 'W'},
		{"launcher-pid", 1, 0, 'u'},  {"spoolerd-pid", 1, 0, 'U'},
		{"sample-interval", 1, 0, 'i'}, {"pss-every", 1, 0, 'I'},
		{"json", 1, 0, 'j'},	      {"journal", 1, 0, 'J'},
		{"log", 1, 0, 'G'},	      {"seed", 1, 0, 'x'},
		{"label", 1, 0, 'b'},	      {"bad-rcpt", 1, 0, 'B'},
		{0, 0, 0, 0}};
	struct epoll_event evs[1024];
	struct sample_stats ss;
	struct check_result cr;
	struct rlimit rl;
	int o, checked = 0, rc = 0;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': O.port = atoi(optarg); break;
		case 'a': O.addr = optarg; break;
		case 'n': O.clients = atoi(optarg); break;
		case 'd': O.duration = atof(optarg); break;
		case 'r': O.ramp = atof(optarg); break;
		case 'g': O.grace = atof(optarg); break;
		case 't': O.tls_share = atof(optarg); break;
		case 'P': O.pipe_share = atof(optarg); break;
		case 'm': O.misbehave = atof(optarg); break;
		case 'k': O.max_msgs = atoi(optarg); break;
		case 'R': O.max_rcpts = atoi(optarg); break;
		case 'T': O.think_ms = atof(optarg); break;
		case 'X': O.think_prob = atof(optarg); break;
		case 'C': O.conn_think_ms = atof(optarg); break;
		case 'L': O.large_share = atof(optarg); break;
		case 'M': O.medium_share = atof(optarg); break;
		case 'V': O.volume = atoll(optarg); break;
		case 'o': O.timeout = atof(optarg); break;
		case 'S': O.session_time = atof(optarg); break;
		case 's': O.slack = atof(optarg); break;
		case 'l': O.max_line = atoi(optarg); break;
		case 'e': O.max_errors = atoi(optarg); break;
		case 'z': O.max_size = atoll(optarg); break;
		case 'h': O.hold = atof(optarg); break;
		case 'F': O.expect_full = 1; break;
		case 'q': O.spool = optarg; break;
		case 'D': O.maildir = optarg; break;
		case 'W': O.drain_timeout = atof(optarg); break;
		case 'u': O.launcher_pid = atoi(optarg); break;
		case 'U': O.spoolerd_pid = atoi(optarg); break;
		case 'i': O.sample_interval = atof(optarg); break;
		case 'I': O.pss_every = atoi(optarg); break;
		case 'j': O.json = optarg; break;
		case 'J': O.journal = optarg; break;
		case 'G': O.log = optarg; break;
		case 'x': O.seed = strtoull(optarg, NULL, 0); break;
		case 'b': O.label = optarg; break;
		case 'B': O.bad_rcpt_share = atof(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || O.clients < 1 || O.duration <= 0 ||
	    O.max_msgs < 1 || O.max_rcpts < 1 || O.max_rcpts > MAXRCPT ||
	    O.port < 1 || O.port > 65535)
		usage();
	if (!loopback_only(O.addr)) {
		fprintf(stderr, "loadgen: %s is not a loopback address\n",
			O.addr);
		return 2;
	}
	if (O.ramp < 0)
		O.ramp = O.duration / 6;
	if (O.grace < 0)
		O.grace = O.timeout + 20;
	if (!O.seed)
		O.seed = (unsigned long long)time(NULL) ^
			 ((unsigned long long)getpid() << 32);
	rng_state = O.seed;
	token_base = rnd64(&rng_state) & 0xffffffff00000000ULL;
	/* room for every client socket */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)O.clients + 100) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)O.clients + 100) {
			fprintf(stderr, "loadgen: need %d fds, have %llu\n",
				O.clients + 100,
				(unsigned long long)rl.rlim_cur);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (O.log)
		dbg = fopen(O.log, "w");
	pool_init();
	if (gnutls_global_init() < 0 ||
	    gnutls_certificate_allocate_credentials(&xcred) < 0 ||
	    gnutls_priority_init(&prio, "NORMAL", NULL) < 0) {
		fprintf(stderr, "loadgen: GnuTLS init failed\n");
		return 1;
	}
	memset(&srv_addr, 0, sizeof(srv_addr));
	srv_addr.sin_family = AF_INET;
	srv_addr.sin_port = htons((uint16_t)O.port);
	inet_pton(AF_INET, O.addr, &srv_addr.sin_addr);
	ep = epoll_create1(EPOLL_CLOEXEC);
	cl = calloc((size_t)O.clients, sizeof(*cl));
	if (ep < 0 || !cl)
		return 1;
	st.t_start = now_s();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		start_epoch = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	t_deadline = st.t_start + O.duration;
	t_cut = t_deadline + O.grace;
	for (int i = 0; i < O.clients; i++) {
		cl[i].id = i;
		cl[i].fd = -1;
		set_timer(&cl[i], st.t_start + frand() * O.ramp, TK_CONNECT);
	}
	active_slots = O.clients;
	if (O.launcher_pid > 0 || O.spool)
		sampler_start(O.launcher_pid, O.spoolerd_pid, O.spool,
			      O.session_time + O.slack, O.sample_interval,
			      O.pss_every);
	while (active_slots > 0) {
		double now = now_s();
		int n, tmo;

		if (!stopping && now >= t_deadline) {
			stopping = 1;
			st.t_end_load = now;
		}
		if (!cutting && stopping && now >= t_cut) {
			cutting = 1;
			for (int i = 0; i < O.clients; i++)
				if (cl[i].fd >= 0) {
					struct client *c = &cl[i];

					count("cut-at-end:%s",
					      c->state == C_CONNECTING ? "connecting"
					      : c->state == C_SILENT ? "silent"
					      : c->state == C_HANDSHAKE ? "tls"
					      : c->state == C_CLOSING ? "closing"
					      : c->qh != c->qt
						      ? rk_names[c->q[c->qh % QCAP]]
					      : c->phase == P_BODY ? "data"
								   : "idle");
					close_conn(&cl[i], 1);
				}
		}
		while (hn && heap[0].t <= now) {
			struct tev e = heap_pop();
			struct client *c = &cl[e.id];
			int tk;

			if (e.gen != c->tgen)
				continue;
			tk = c->tk;
			c->tk = TK_NONE;
			c->tgen++;
			on_timer(c, tk);
		}
		tmo = hn ? (int)((heap[0].t - now_s()) * 1000) + 1 : 100;
		if (tmo > 100)
			tmo = 100;
		if (tmo < 0)
			tmo = 0;
		n = epoll_wait(ep, evs, 1024, tmo);
		/* two passes: the greeted sessions first, then the rest. A
		 * session's end and the greeting of the one the server let in
		 * after it can come in one batch; taken in the batch's order
		 * the greeting could count before the end, and the client's
		 * view of concurrency would pass max_clients by one. */
		for (int i = 0; i < 2 * n; i++) {
			struct client *c = &cl[evs[i % n].data.u32];
			uint32_t e = evs[i % n].events;
			int fd = c->fd;

			if (fd < 0 || !e || (i < n && !c->greeted))
				continue;
			evs[i % n].events = 0;
			if (c->state == C_CONNECTING ||
			    c->state == C_HANDSHAKE) {
				pump(c);
				continue;
			}
			if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c);
			if ((e & EPOLLOUT) && c->fd == fd)
				pump(c);
		}
	}
	if (!st.t_end_load)
		st.t_end_load = now_s();
	sampler_stop(&ss);
	st.t_end = now_s();
	for (int i = 0; i < L_NSERIES; i++)
		if (lat[i].n)
			qsort(lat[i].v, lat[i].n, sizeof(double), dcmp);
	print_summary(&ss);
	memset(&cr, 0, sizeof(cr));
	if (O.spool && O.maildir) {
		printf("[%s] waiting for the spool to drain (at most %.0f s)\n",
		       O.label, O.drain_timeout);
		fflush(stdout);
		cr.drained = check_wait_drain(O.spool, O.drain_timeout,
					      &cr.drain_secs, cr.spool_detail,
					      sizeof(cr.spool_detail),
					      &cr.spool_left) == 0;
		printf("[%s] spool after %.1f s: %s\n", O.label, cr.drain_secs,
		       cr.spool_detail);
		check_maildirs(O.maildir, &recs, &cr, dbg ? dbg : stderr);
		checked = 1;
		printf("[%s] maildirs: %lld copies expected, %lld files found, "
		       "%lld unexpected, %lld cut-after-dot messages "
		       "delivered, %lld left in maildir tmp/, %lld copies of "
		       "messages refused with 4xx after the dot\n",
		       O.label, cr.copies_expected, cr.copies_found,
		       cr.unexpected, cr.unknown_delivered,
		       cr.maildir_tmp_left, cr.tempfail_delivered);
		printf("[%s] accepted %lld, lost %lld, duplicated %lld, "
		       "corrupted %lld\n",
		       O.label, cr.accepted, cr.lost, cr.duplicated,
		       cr.corrupted);
		if (cr.lost || cr.duplicated || cr.corrupted || !cr.drained ||
		    cr.tempfail_delivered)
			rc = 1;
	}
	if (O.json)
		write_json(O.json, &ss, &cr, checked);
	if (O.journal)
		write_journal(O.journal);
	if (dbg)
		fclose(dbg);
	(void)get_count;
	return rc;
}
