/*
 * deliver.c - one entry from claim to its outcome.
 *
 *   claim (rename into cur/, flock)  ->  parse the envelope  ->  run the
 *   chain  ->  OK:   unlink cur/ID (or move it to done/), drop state/ID*
 *              TEMP: attempts+1; state/ID written (atomically) first,
 *                    then cur/ID -> defer/ID, scheduled in memory;
 *                    past max_queue_lifetime it fails instead
 *              PERM: failed/ID.reason written, then cur/ID -> failed/ID
 *
 * Every step is ordered so that a crash between any two leaves the entry
 * in cur/ (re-delivered at start), defer/ or failed/, never nowhere.
 * Processors key their writes by queue id, so doing a step twice is safe.
 * A worker changes config generation only between two entries, so SIGHUP
 * never cuts a delivery.
 *
 * Batches: when the chain has a processor that stores several entries at
 * once (MySQL's multi-row INSERT), a worker takes up to sql_batch_size
 * entries that are ready (never waiting for more), claims them all, runs
 * the chain stage by stage over those still going, and settles each on
 * its own outcome. Alone, an entry is a batch of one. Each entry's
 * reason (why[i]) is this file's; a processor writes it through its
 * deliver or deliver_batch, and keeps anything else in its own
 * per-message state.
 */
#include "deliver.h"
#include "log.h"
#include "publish.h"
#include "retry.h"
#include "statsmsg.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int worker_stuck(struct worker *w, long long n, long long now,
                 long long limit_ms, long long *busy_ms)
{
	long long i;

	for (i = 0; i < n; i++) {
		long long since = atomic_load(&w[i].busy_since);

		if (since && now - since > limit_ms) {
			*busy_ms = now - since;
			return (int)i;
		}
	}
	return -1;
}

struct gen *gen_new(struct cfg *cfg, char *err, size_t n)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	if (chain_from_cfg(cfg, &g->chain, err, n) < 0) {
		free(g);
		return NULL;
	}
	g->cfg = cfg;
	g->refs = 1;
	return g;
}

struct gen *gen_get(struct ctx *c)
{
	struct gen *g;

	pthread_mutex_lock(&c->gmu);
	g = c->gen;
	g->refs++;
	pthread_mutex_unlock(&c->gmu);
	return g;
}

void gen_put(struct ctx *c, struct gen *g)
{
	int last;

	if (!g)
		return;
	pthread_mutex_lock(&c->gmu);
	last = --g->refs == 0;
	pthread_mutex_unlock(&c->gmu);
	if (last) {
		cfg_free(g->cfg);
		free(g);
	}
}

void worker_release(struct worker *w)
{
	size_t i;

	if (!w->gen)
		return;
	for (i = 0; i < w->gen->chain.n; i++)
		if (w->gen->chain.p[i]->fini && w->st[i])
			w->gen->chain.p[i]->fini(w->st[i]);
	memset(w->st, 0, sizeof(w->st));
	gen_put(w->c, w->gen);
	w->gen = NULL;
}

/* worker_sync - switch to the current generation if it changed */
static int worker_sync(struct worker *w)
{
	struct gen *g;
	size_t i;

	pthread_mutex_lock(&w->c->gmu);
	g = w->c->gen;
	pthread_mutex_unlock(&w->c->gmu);
	if (g == w->gen)
		return 0;
	worker_release(w);
	w->gen = gen_get(w->c);
	for (i = 0; i < w->gen->chain.n; i++) {
		const struct proc_ops *p = w->gen->chain.p[i];
		char err[256];

		if (p->init && p->init(w->gen->cfg, &w->st[i], err,
				       sizeof(err)) < 0) {
			log_error("processor %s: %s", p->name, err);
			worker_release(w);
			return -1;
		}
	}
	return 0;
}

/* write_reason - failed/ID.reason, replaced atomically and durably */
static void write_reason(struct ctx *c, const struct msg *m,
                         const char *why, unsigned attempts)
{
	char name[300], tmp[300], text[1200], date[64];
	int n;

	util_rfc5322_date(time(NULL), date, sizeof(date));
	n = snprintf(text, sizeof(text),
		     "%s\nqueue-id: %s\nattempts: %u\nfailed-at: %s\n", why,
		     m->env.queue_id ? m->env.queue_id : m->name, attempts,
		     date);
	if (n < 0 || n >= (int)sizeof(text))
		n = (int)strlen(text);
	snprintf(name, sizeof(name), "%s.reason", m->name);
	snprintf(tmp, sizeof(tmp), ".%s.reason", m->name);
	/* replaced: an entry re-queued by hand may fail again; on error
	 * no .ID.reason is left behind */
	if (publish_file(c->sp.failed, tmp, c->sp.failed, name, 0640, text,
			 (size_t)n, PUBLISH_STALE | PUBLISH_REPLACE) < 0)
		log_error("%s failed/%s: %s", m->name, name, strerror(errno));
}

/* release - what a delivery holds: the flock (closing the fd, only now
 * that the entry has moved), the parts, the envelope */
static void release(struct msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	msg_free_parts(m);
	entry_free(&m->env);
}

/* rcpt_lines - one log line per recipient, as Postfix's: to=, via= (the
 * storing processors), dest= (where each put it), status=, delay= (since
 * the session's 250: the queue id starts with its time in seconds and
 * microseconds) and, unless delivered, the reason */
static void rcpt_lines(const struct worker *w, const struct msg *m,
                       const char *status, const char *why)
{
	const struct chain *ch = &w->gen->chain;
	char via[200] = "", to[300], dest[400], delay[32];
	struct timespec now;
	double t0 = (double)m->env.time, d;
	unsigned long sec, usec;
	const char *q = m->env.queue_id, *dot;
	size_t i, used = 0;

	for (i = 0; i < ch->n; i++)
		if (ch->p[i]->stores && used + 2 < sizeof(via))
			used += (size_t)snprintf(via + used, sizeof(via) - used,
						 "%s%s", used ? "," : "",
						 ch->p[i]->name);
	if (!via[0])
		memcpy(via, "none", 5);
	dot = q ? strchr(q, '.') : NULL;
	if (dot && dot[1] == 'M' &&
	    util_parse_ulong(q, (size_t)(dot - q), ~0UL, &sec) == 0 &&
	    util_parse_ulong(dot + 2, 6, 999999, &usec) == 0)
		t0 = (double)sec + (double)usec / 1e6;
	clock_gettime(CLOCK_REALTIME, &now);
	d = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - t0;
	snprintf(delay, sizeof(delay), "%.2f", d < 0 ? 0.0 : d);
	for (i = 0; i < m->env.nrcpts; i++) {
		const char *a = m->env.rcpts[i];

		util_printable(to, sizeof(to), a, strlen(a), 256);
		if (m->rcpt && m->rcpt[i].dest[0])
			util_printable(dest, sizeof(dest), m->rcpt[i].dest,
				       strlen(m->rcpt[i].dest), 350);
		else
			memcpy(dest, "-", 2);
		if (why)
			log_msg(LOG_L_WARN, "%s to=<%s> via=%s dest=%s status=%s "
				"delay=%ss reason=\"%s\"",
				m->name, to, via, dest, status, delay, why);
		else
			log_info("%s to=<%s> via=%s dest=%s status=%s "
				 "delay=%ss",
				 m->name, to, via, dest, status, delay);
	}
}

/* settle_ok - log the delivery, then remove the entry, in Postfix's
 * order (its delivery agent logs status=sent before the queue manager
 * removes the file): a kill between the two re-delivers and logs again
 * (redelivery=yes), where the other order could leave a delivered
 * message with no line at all */
static void settle_ok(struct worker *w, struct msg *m, unsigned attempts)
{
	struct ctx *c = w->c;
	char jn[300];

	rcpt_lines(w, m, "delivered", NULL);
	log_info("%s delivered nrcpt=%zu size=%lld attempts=%u%s", m->name,
		 m->env.nrcpts, m->env.size, attempts,
		 m->redelivery ? " redelivery=yes" : "");

	if (c->sp.done >= 0 && w->gen->cfg->backend.keep_done) {
		if (renameat(c->sp.cur, m->name, c->sp.done, m->name) < 0)
			log_error("%s done/: %s", m->name, strerror(errno));
	} else if (unlinkat(c->sp.cur, m->name, 0) < 0) {
		log_error("%s unlink cur/: %s", m->name, strerror(errno));
	}
	unlinkat(c->sp.state, m->name, 0);
	snprintf(jn, sizeof(jn), "%s.mbox", m->name);
	unlinkat(c->sp.state, jn, 0);
	snprintf(jn, sizeof(jn), "%s.pipe", m->name);
	unlinkat(c->sp.state, jn, 0);
	atomic_fetch_add(&c->delivered, 1);
}

static void settle_perm(struct worker *w, struct msg *m, const char *why,
                        unsigned attempts)
{
	rcpt_lines(w, m, "failed", why);
	struct ctx *c = w->c;

	write_reason(c, m, why, attempts);
	if (renameat(c->sp.cur, m->name, c->sp.failed, m->name) < 0) {
		log_error("%s failed/: %s (left in cur/)", m->name,
			  strerror(errno));
		return;
	}
	fsync(c->sp.failed);
	/* state/ID, ID.mbox and ID.pipe stay: a re-queued entry (mv back to
	 * new/) is then known as a redelivery and makes no duplicate */
	atomic_fetch_add(&c->failed, 1);
	log_warnx("%s failed attempts=%u reason=\"%s\"", m->name, attempts,
		  why);
}

static void settle_temp(struct worker *w, struct msg *m, const char *why,
                        struct retry_state *rs)
{
	const struct cfg_backend *b = &w->gen->cfg->backend;
	struct ctx *c = w->c;
	long long now = now_ms(), next;
	char when[32];

	rs->attempts++;
	next = retry_next(b->retry_first, b->retry_max, b->max_queue_lifetime,
			  m->env.time * 1000, rs->attempts, now);
	if (next < 0) {
		char text[700];

		snprintf(text, sizeof(text),
			 "expired: undeliverable for max_queue_lifetime, "
			 "last error: %.600s",
			 why);
		settle_perm(w, m, text, rs->attempts);
		return;
	}
	rcpt_lines(w, m, "deferred", why);
	rs->next_ms = next;
	snprintf(rs->reason, sizeof(rs->reason), "%s", why);
	if (retry_save(c->sp.state, m->name, rs) < 0)
		log_error("%s state/: %s", m->name, strerror(errno));
	if (renameat(c->sp.cur, m->name, c->sp.defer, m->name) < 0) {
		log_error("%s defer/: %s (left in cur/)", m->name,
			  strerror(errno));
		return;
	}
	queue_defer(&c->q, m->name, next);
	atomic_fetch_add(&c->deferred, 1);
	util_format_duration(next - now, when, sizeof(when));
	log_warnx("%s deferred attempt=%u retry-in=%s reason=\"%s\"", m->name,
		  rs->attempts, when, why);
}

/* entry_complete - does the file hold all the X-Spool-Size bytes its
 * envelope promises? A session publishes only complete entries, so a
 * short or long one was written into new/ by something else: one still
 * being written (changed in the last minute) is retried later, any
 * other is moved to failed/. 1 complete; 0 settled. */
static int entry_complete(struct worker *w, struct msg *m,
                          const struct stat *st, struct retry_state *rs,
                          char *why, size_t wl)
{
	long long want = (long long)m->env.data_off + m->env.size;

	if (st->st_size == want)
		return 1;
	snprintf(why, wl,
		 "incomplete spool entry: X-Spool-Size promises %lld bytes "
		 "of message, the file holds %lld",
		 m->env.size, (long long)st->st_size - (long long)m->env.data_off);
	if (time(NULL) - st->st_mtime < 60)
		settle_temp(w, m, why, rs);
	else
		settle_perm(w, m, why, rs->attempts);
	release(m);
	return 0;
}

/* prepare - claim and read one entry; 0 when ready for the chain, -1
 * when there is nothing to deliver (gone, locked, or settled as
 * unreadable) */
static int prepare(struct worker *w, const struct job *j, struct msg *m,
                   struct retry_state *rs, char *why, size_t wl)
{
	struct ctx *c = w->c;
	int from = j->from == J_NEW     ? c->sp.new
		   : j->from == J_DEFER ? c->sp.defer
					: c->sp.cur;
	struct stat st;
	const char *err = NULL;
	char jn[300];
	size_t i;

	memset(m, 0, sizeof(*m));
	m->fd = scan_claim(&c->sp, from, j->name, why, wl);
	if (m->fd == SCAN_BAD) {
		/* moved aside once, never put back where inotify would
		 * hand it to us again */
		m->fd = -1;
		m->name = j->name;
		settle_perm(w, m, why, 0);
		return -1;
	}
	if (m->fd < 0) {
		if (errno != ENOENT && errno != EWOULDBLOCK &&
		    j->from == J_NEW) {
			/* cannot even be renamed into cur/: leave it, say so
			 * once, look again later */
			int e = errno;

			if (queue_skip(&c->q, j->name, now_ms()))
				log_error("%s cannot be claimed: %s; left in new/, "
					  "tried again later",
					  j->name, strerror(e));
		} else if (errno != ENOENT && errno != EWOULDBLOCK) {
			log_error("%s claim: %s", j->name, strerror(errno));
			/* scan_claim put it back; new/ is rescanned, a
			 * deferred entry needs its place in the schedule */
			if (j->from == J_DEFER)
				queue_defer(&c->q, j->name, now_ms() + 60000);
		}
		return -1;
	}
	m->name = j->name;
	m->cfg = w->gen->cfg;
	m->statefd = c->sp.state;
	if (retry_load(c->sp.state, j->name, rs) != 0)
		memset(rs, 0, sizeof(*rs));
	m->attempts = rs->attempts;
	snprintf(jn, sizeof(jn), "%s.mbox", j->name);
	m->redelivery = j->from != J_NEW || rs->attempts > 0 ||
			fstatat(c->sp.state, jn, &st, 0) == 0;
	if (fstat(m->fd, &st) < 0 ||
	    entry_read_fd(m->fd, &m->env, &err) < 0) {
		snprintf(why, wl, "unreadable spool entry: %s",
			 err ? err : strerror(errno));
		settle_perm(w, m, why, rs->attempts);
		release(m);
		return -1;
	}
	m->file_size = st.st_size;
	m->mtime = st.st_mtim;
	m->ctime = st.st_ctim;
	if (st.st_nlink != 1) {
		/* a second name (a hard link made before the claim) would let
		 * its maker change the entry while we deliver it */
		snprintf(why, wl, "spool entry has %lu names (hard links)",
			 (unsigned long)st.st_nlink);
		settle_perm(w, m, why, rs->attempts);
		release(m);
		return -1;
	}
	if (!entry_complete(w, m, &st, rs, why, wl))
		return -1;
	m->rcpt = calloc(m->env.nrcpts ? m->env.nrcpts : 1, sizeof(*m->rcpt));
	if (!m->rcpt) {
		settle_temp(w, m, "out of memory", rs);
		release(m);
		return -1;
	}
	for (i = 0; i < m->env.nrcpts; i++)
		m->rcpt[i].addr = m->env.rcpts[i];
	why[0] = '\0';
	return 0;
}

/* changed - was the entry written to since the claim? */
static int changed(const struct msg *m)
{
	struct stat st;

	if (fstat(m->fd, &st) < 0)
		return 0;
	return st.st_size != m->file_size ||
	       st.st_mtim.tv_sec != m->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != m->mtime.tv_nsec ||
	       st.st_ctim.tv_sec != m->ctime.tv_sec ||
	       st.st_ctim.tv_nsec != m->ctime.tv_nsec;
}

/* finish - settle one entry after the chain */
static void finish(struct worker *w, struct msg *m, struct retry_state *rs,
                   enum proc_res res, const char *why)
{
	if (res != PROC_TEMP && changed(m)) {
		/* someone held it open for writing: what the processors
		 * stored may not be what the session spooled. Loudly aside
		 * rather than quietly delivered. */
		log_error("%s changed while being delivered", m->name);
		settle_perm(w, m,
			    "spool entry changed while being delivered: the "
			    "copies made from it may be altered",
			    rs->attempts + 1);
	} else if (res == PROC_OK) {
		settle_ok(w, m, rs->attempts + 1);
	} else if (res == PROC_TEMP) {
		settle_temp(w, m, why[0] ? why : "temporary failure", rs);
	} else {
		settle_perm(w, m, why[0] ? why : "permanent failure",
			    rs->attempts + 1);
	}
	release(m);
}

static int stats_fd = -1;
static atomic_ulong stats_dropped;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

/* stats_open_once - the statistics socket, shared by every worker */
static void stats_open_once(void)
{
	/* a full collector queue costs a delivery 50 ms at most */
	struct timeval tv = {0, 50000};

	stats_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (stats_fd >= 0)
		setsockopt(stats_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* report - one delivery by processor p to smtpd-dashboard, when it is
 * enabled: a collector that is down costs nothing, a full one at most
 * SO_SNDTIMEO (statsmsg.c); a datagram it cannot take is dropped */
static void report(const struct worker *w, const struct proc_ops *p,
                   enum proc_res res, long long ms)
{
	const struct cfg_dashboard *d = &w->gen->cfg->dashboard;
	static const char *names[] = {"ok", "temp", "perm"};
	const char *f[3];
	char secs[32];
	unsigned long lost = 0;

	if (!d->is_enabled)
		return;
	pthread_once(&stats_once, stats_open_once);
	snprintf(secs, sizeof(secs), "%.3f", (double)ms / 1000.0);
	f[0] = p->name;
	f[1] = names[res];
	f[2] = secs;
	statsmsg_send(stats_fd, d->stats_socket, SM_DLV, f, 3, 1, &lost);
	if (lost) {
		unsigned long n = atomic_fetch_add(&stats_dropped, 1) + 1;

		/* 1, 2, 4, 8, ...: counted without a line per delivery */
		if (!(n & (n - 1)))
			log_warnx("stats: %lu delivery datagrams dropped so far "
				  "(smtpd-dashboard down or busy)",
				  n);
	}
}

void deliver_jobs(struct worker *w, const struct job *j, size_t n)
{
	const struct chain *ch = &w->gen->chain;
	struct msg *ms = calloc(n, sizeof(*ms));
	struct msg **live = calloc(n, sizeof(*live));
	struct retry_state *rs = calloc(n, sizeof(*rs));
	enum proc_res *res = calloc(n, sizeof(*res)), *sub = NULL;
	size_t *idx = calloc(n, sizeof(*idx));
	char(*why)[PROC_WHY_MAX] = calloc(n, sizeof(*why));
	char **lwhy = calloc(n, sizeof(*lwhy));
	size_t i, k, nm = 0, s;

	if (!ms || !live || !rs || !res || !idx || !why || !lwhy) {
		/* left where they are: new/ is rescanned, defer/ too */
		log_error("out of memory for a batch of %zu", n);
		for (i = 0; i < n; i++)
			if (j[i].from == J_DEFER)
				queue_defer(&w->c->q, j[i].name,
					    now_ms() + 60000);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (prepare(w, &j[i], &ms[nm], &rs[nm], why[nm],
			    sizeof(why[nm])) == 0)
			nm++;
	sub = calloc(nm ? nm : 1, sizeof(*sub));
	/* stage by stage: a processor that stores several at once gets
	 * every entry still going; the others one by one */
	for (s = 0; s < ch->n; s++) {
		const struct proc_ops *p = ch->p[s];
		long long t0 = util_mono_ms();

		for (i = 0, k = 0; i < nm; i++)
			if (res[i] == PROC_OK) {
				idx[k] = i;
				lwhy[k] = why[i];
				live[k++] = &ms[i];
			}
		if (k == 0)
			break;
		if (p->deliver_batch && sub) {
			p->deliver_batch(w->st[s], live, k, sub, lwhy,
					 sizeof(why[0]));
			for (i = 0; i < k; i++) {
				res[idx[i]] = sub[i];
				report(w, p, sub[i], util_mono_ms() - t0);
			}
			continue;
		}
		for (i = 0; i < k; i++) {
			res[idx[i]] = p->deliver(w->st[s], live[i], lwhy[i],
						 sizeof(why[0]));
			report(w, p, res[idx[i]], util_mono_ms() - t0);
			t0 = util_mono_ms();
		}
	}
	for (i = 0; i < nm; i++)
		finish(w, &ms[i], &rs[i], res[i], why[i]);
out:
	free(why);
	free(lwhy);
	free(sub);
	free(ms);
	free(live);
	free(rs);
	free(res);
	free(idx);
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *jobs = NULL;
	size_t cap = 0, max = 1, n, i;

	for (;;) {
		if (max > cap) {
			struct job *nj = realloc(jobs, max * sizeof(*nj));

			if (nj) {
				jobs = nj;
				cap = max;
			}
		}
		if (!jobs)
			break;
		n = queue_pop_many(&w->c->q, jobs, max < cap ? max : cap);
		if (n == 0)
			break;
		/* from here until the batch is settled, including the
		 * processors' set-up (a connection) in worker_sync */
		atomic_store(&w->busy_since, util_mono_ms());
		if (worker_sync(w) < 0) {
			atomic_store(&w->busy_since, 0);
			/* the chain cannot start: leave the entries where
			 * they are; new/ is rescanned, defer/ rescheduled */
			for (i = 0; i < n; i++) {
				if (jobs[i].from == J_DEFER)
					queue_defer(&w->c->q, jobs[i].name,
						    now_ms() + 60000);
				queue_done(&w->c->q);
			}
			sleep(1);
			continue;
		}
		deliver_jobs(w, jobs, n);
		atomic_store(&w->busy_since, 0);
		for (i = 0; i < n; i++)
			queue_done(&w->c->q);
		max = chain_batch(&w->gen->chain, w->gen->cfg);
	}
	free(jobs);
	worker_release(w);
	return NULL;
}
