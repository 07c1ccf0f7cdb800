/*
 * lookup.c - spoolerd's recipient-lookup service: the sessions' rcpt_check
 * questions (lookupproto.c) answered from the tables the config names,
 * with the credentials only spoolerd holds (Postfix's proxymap).
 *
 * Socket: spool_dir/lookup/socket, made at start when any servers[]
 * entry has rcpt_check (else no socket at all), mode 0660 in a 2750
 * directory: the spool group (the sessions) may connect, nobody else.
 *
 * One thread of its own runs a poll loop over the socket and its
 * clients; the main thread and the deliveries never wait for it, nor it
 * for them. Clients are non-blocking with fixed buffers (a request line
 * is at most LOOKUP_LINE_MAX; more is a protocol error and closes the
 * client), at most MAX_CLIENTS at once (more are closed at accept: their
 * session answers 451), at most MAX_INFLIGHT unanswered questions each
 * (the rest wait in its buffer), and a client that neither sent nor
 * took anything for IDLE_MS (idle, or not reading its answers) is
 * closed.
 *
 * Answers: file: tables are looked up in this thread (a hash, stat'ed
 * each time: lookup_file.c); redis: and sql: go to NPOOL pool threads
 * (lookup_db.c), so one slow query holds one pool thread, never the loop
 * or the other clients; at most MAX_JOBS wait for a thread, more get
 * TEMP at once. Positive and negative answers of redis: and sql: are
 * cached for the table's rcpt_check_cache (per table and folded address,
 * at most MAX_CACHE entries); failures are not. A session asks only the
 * tables spoolerd's own config names (proxy_read_maps); anything else is
 * TEMP. Keys are folded (ASCII lower case) before anything else.
 *
 * SIGHUP (lookup_reload) hands the loop a new set of tables and sources;
 * the cache is emptied then.
 */
#include "lookup.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define MAX_INFLIGHT 4
#define MAX_JOBS 256
#define MAX_CACHE 65536
#define CACHE_BUCKETS 8192
#define NPOOL 4
#define IDLE_MS 60000
#define OUT_CAP 2048

struct lktable {
	char *spec;
	enum lookup_type type;
	const char *name; /* after "type:" */
	long long ttl, timeout;
	struct lkfile *file;
};

/* one config's tables and sources; shared with jobs by reference */
struct lkconf {
	unsigned refs; /* under jmu */
	struct lktable *t;
	size_t n;
	struct lksrc src;
};

struct client {
	int fd;
	unsigned gen;
	char in[LOOKUP_LINE_MAX];
	size_t inlen;
	char out[OUT_CAP];
	size_t outlen;
	int inflight;
	long long last;
};

struct job {
	struct job *next;
	struct lkconf *conf;
	size_t table;
	char addr[LOOKUP_ADDR_MAX + 1];
	unsigned long id;
	int client;
	unsigned gen;
	enum lookup_status st;
	char why[LOOKUP_REASON_MAX + 1];
};

struct centry {
	struct centry *next;
	long long expires;
	enum lookup_status st;
	char key[]; /* table NUL address */
};

static struct {
	int running;
	int lfd, wake[2];
	pthread_t thread, pool[NPOOL];
	int npool;
	pthread_mutex_t jmu;
	pthread_cond_t jcv;
	struct job *todo, *todo_tail, *done;
	size_t njobs;
	int stop;
	struct lkconf *conf;    /* the loop's */
	struct lkconf *pending; /* from lookup_reload, under jmu */
	struct client cl[MAX_CLIENTS];
	unsigned gen;
	struct centry *cache[CACHE_BUCKETS];
	size_t ncache;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned long srcgen;
} L = {.lfd = -1, .wake = {-1, -1}};

/* conf_put - drop one reference (jmu held) */
static void conf_put(struct lkconf *c)
{
	size_t i;

	if (!c || --c->refs)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->t[i].spec);
		lkfile_free(c->t[i].file);
	}
	free(c->t);
	lksrc_free(&c->src);
	free(c);
}

/* conf_new - the tables of cfg's servers[] (each spec once, the first
 * entry's cache and timeout); NULL when none or out of memory */
static struct lkconf *conf_new(const struct cfg *cfg, int *none)
{
	struct lkconf *c = calloc(1, sizeof(*c));
	size_t i, k;

	*none = 0;
	if (!c || !(c->t = calloc(cfg->nservers + 1, sizeof(*c->t))))
		goto oom;
	c->refs = 1;
	for (i = 0; i < cfg->nservers; i++) {
		const struct cfg_server *s = &cfg->servers[i];
		struct lktable *t = &c->t[c->n];
		const char *why;

		if (!s->rcpt_check || !s->rcpt_check[0])
			continue;
		for (k = 0; k < c->n; k++)
			if (!strcmp(c->t[k].spec, s->rcpt_check))
				break;
		if (k < c->n)
			continue;
		t->type = lookup_spec_type(s->rcpt_check, &why);
		if (t->type == LK_NONE)
			continue; /* cfg.c refused it already */
		t->spec = strdup(s->rcpt_check);
		if (!t->spec)
			goto oom;
		t->name = lookup_spec_name(t->spec);
		t->ttl = s->rcpt_check_cache;
		t->timeout = s->rcpt_check_timeout;
		if (t->type == LK_FILE) {
			t->file = calloc(1, sizeof(*t->file));
			if (!t->file || !(t->file->path = strdup(t->name))) {
				c->n++;
				goto oom;
			}
		}
		c->n++;
	}
	if (lksrc_init(&c->src, &cfg->backend, ++L.srcgen) < 0)
		goto oom;
	if (!c->n) {
		*none = 1;
		conf_put(c);
		return NULL;
	}
	return c;
oom:
	log_error("lookup: out of memory");
	if (c && c->t)
		conf_put(c);
	else
		free(c);
	return NULL;
}

/* hash - FNV-1a over table NUL addr */
static size_t ckey_hash(const char *t, const char *a)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *t; t++)
		h = (h ^ (unsigned char)*t) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	return (size_t)(h % CACHE_BUCKETS);
}

/* cache_clear - forget every cached answer */
static void cache_clear(void)
{
	size_t i;

	for (i = 0; i < CACHE_BUCKETS; i++)
		while (L.cache[i]) {
			struct centry *e = L.cache[i];

			L.cache[i] = e->next;
			free(e);
		}
	L.ncache = 0;
}

/* cache_get - a live cached answer, or -1; expired ones are freed */
static int cache_get(const char *t, const char *a, long long now)
{
	size_t tl = strlen(t);
	struct centry **pp = &L.cache[ckey_hash(t, a)], *e;

	while ((e = *pp)) {
		if (e->expires <= now) {
			*pp = e->next;
			free(e);
			L.ncache--;
			continue;
		}
		if (!strcmp(e->key, t) && !strcmp(e->key + tl + 1, a))
			return (int)e->st;
		pp = &e->next;
	}
	return -1;
}

/* cache_put - keep a found / not found answer for ttl ms */
static void cache_put(const char *t, const char *a, enum lookup_status st,
                      long long ttl, long long now)
{
	size_t tl = strlen(t), al = strlen(a), h = ckey_hash(t, a);
	struct centry *e;

	if (ttl <= 0 || st == LK_TEMP)
		return;
	if (L.ncache >= MAX_CACHE)
		cache_clear(); /* crude, bounded; answers are cheap to ask */
	e = malloc(sizeof(*e) + tl + al + 2);
	if (!e)
		return;
	memcpy(e->key, t, tl + 1);
	memcpy(e->key + tl + 1, a, al + 1);
	e->st = st;
	e->expires = now + ttl;
	e->next = L.cache[h];
	L.cache[h] = e;
	L.ncache++;
}

/* pool_main - a pool thread: redis: and sql: lookups, one at a time */
static void *pool_main(void *arg)
{
	struct lkdb db;

	(void)arg;
	memset(&db, 0, sizeof(db));
	mysql_thread_init();
	pthread_mutex_lock(&L.jmu);
	for (;;) {
		struct job *j;
		struct lktable *t;
		char b = 1;

		while (!L.todo && !L.stop)
			pthread_cond_wait(&L.jcv, &L.jmu);
		if (L.stop)
			break;
		j = L.todo;
		L.todo = j->next;
		if (!L.todo)
			L.todo_tail = NULL;
		pthread_mutex_unlock(&L.jmu);
		t = &j->conf->t[j->table];
		j->why[0] = '\0';
		if (t->type == LK_REDIS)
			j->st = lkdb_redis(&db, &j->conf->src, t->name,
					   j->addr, t->timeout, j->why,
					   sizeof(j->why));
		else
			j->st = lkdb_sql(&db, &j->conf->src, t->name, j->addr,
					 t->timeout, j->why, sizeof(j->why));
		pthread_mutex_lock(&L.jmu);
		j->next = L.done;
		L.done = j;
		if (write(L.wake[1], &b, 1) < 0) {
			/* full: the loop is awake anyway */
		}
	}
	pthread_mutex_unlock(&L.jmu);
	lkdb_close(&db);
	mysql_thread_end();
	return NULL;
}

/* reply - queue one reply line for client ci */
static void reply(int ci, unsigned long id, enum lookup_status st,
                  const char *why)
{
	struct client *c = &L.cl[ci];
	int n = lookup_reply_format(c->out + c->outlen,
				    sizeof(c->out) - c->outlen, id, st, why);

	if (n > 0)
		c->outlen += (size_t)n;
}

/* client_close - drop client ci; late answers to it are dropped */
static void client_close(int ci)
{
	struct client *c = &L.cl[ci];

	close(c->fd);
	c->fd = -1;
	c->gen = ++L.gen;
	c->inlen = c->outlen = 0;
	c->inflight = 0;
}

/* handle - one request of client ci; -1 closes the client */
static int handle(int ci, const char *line, size_t len, long long now)
{
	struct lookup_req rq;
	struct lktable *t = NULL;
	struct job *j;
	size_t k;
	int cached;

	if (lookup_request_parse(line, len, &rq) < 0) {
		log_warnx("lookup: malformed request, client dropped");
		return -1;
	}
	lookup_fold(rq.addr);
	for (k = 0; L.conf && k < L.conf->n; k++)
		if (!strcmp(L.conf->t[k].spec, rq.table)) {
			t = &L.conf->t[k];
			break;
		}
	if (!t) {
		reply(ci, rq.id, LK_TEMP,
		      "table not in spoolerd's config (reload spoolerd?)");
		return 0;
	}
	if (t->type == LK_FILE) {
		char why[LOOKUP_REASON_MAX + 1];
		enum lookup_status st = lkfile_lookup(t->file, rq.addr, why,
						      sizeof(why));

		reply(ci, rq.id, st, why);
		return 0;
	}
	cached = cache_get(rq.table, rq.addr, now);
	if (cached >= 0) {
		reply(ci, rq.id, (enum lookup_status)cached, NULL);
		return 0;
	}
	pthread_mutex_lock(&L.jmu);
	if (L.njobs >= MAX_JOBS || !(j = calloc(1, sizeof(*j)))) {
		pthread_mutex_unlock(&L.jmu);
		reply(ci, rq.id, LK_TEMP, "lookup queue full");
		return 0;
	}
	j->conf = L.conf;
	L.conf->refs++;
	j->table = k;
	memcpy(j->addr, rq.addr, sizeof(j->addr));
	j->id = rq.id;
	j->client = ci;
	j->gen = L.cl[ci].gen;
	if (L.todo_tail)
		L.todo_tail->next = j;
	else
		L.todo = j;
	L.todo_tail = j;
	L.njobs++;
	pthread_cond_signal(&L.jcv);
	pthread_mutex_unlock(&L.jmu);
	L.cl[ci].inflight++;
	return 0;
}

/* take_lines - handle the whole lines in ci's buffer while there is room
 * for their answers; -1 closes the client */
static int take_lines(int ci, long long now)
{
	struct client *c = &L.cl[ci];
	size_t off = 0;

	while (c->inflight < MAX_INFLIGHT &&
	       c->outlen + LOOKUP_REASON_MAX + 32 <= sizeof(c->out)) {
		char *lf = memchr(c->in + off, '\n', c->inlen - off);
		size_t n;

		if (!lf)
			break;
		n = (size_t)(lf - (c->in + off));
		if (handle(ci, c->in + off, n, now) < 0)
			return -1;
		off += n + 1;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	/* full of whole lines is a client that does not read its
	 * answers: it waits; full without a line end is a line too long */
	if (c->inlen >= sizeof(c->in) && !memchr(c->in, '\n', c->inlen)) {
		log_warnx("lookup: request line too long, client dropped");
		return -1;
	}
	return 0;
}

/* finish - answers of the pool threads back to their clients */
static void finish(long long now)
{
	struct job *j, *next;
	char buf[64];

	while (read(L.wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&L.jmu);
	j = L.done;
	L.done = NULL;
	pthread_mutex_unlock(&L.jmu);
	for (; j; j = next) {
		struct client *c = &L.cl[j->client];
		struct lktable *t = &j->conf->t[j->table];

		next = j->next;
		if (j->conf == L.conf)
			cache_put(t->spec, j->addr, j->st, t->ttl, now);
		if (j->st == LK_TEMP)
			log_warnx("lookup %s: %s", t->spec, j->why);
		if (c->fd >= 0 && c->gen == j->gen) {
			reply(j->client, j->id, j->st, j->why);
			c->inflight--;
			c->last = now;
		}
		pthread_mutex_lock(&L.jmu);
		L.njobs--;
		conf_put(j->conf);
		pthread_mutex_unlock(&L.jmu);
		free(j);
	}
}

/* accept_one - a new client, or closed at once when the table is full */
static void accept_one(long long now)
{
	int fd = accept4(L.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (L.cl[i].fd < 0)
			break;
	if (i == MAX_CLIENTS) {
		static long long warned;

		if (now - warned > 10000) {
			log_warnx("lookup: %d clients connected, more are "
				  "refused",
				  MAX_CLIENTS);
			warned = now;
		}
		close(fd);
		return;
	}
	L.cl[i].fd = fd;
	L.cl[i].gen = ++L.gen;
	L.cl[i].inlen = L.cl[i].outlen = 0;
	L.cl[i].inflight = 0;
	L.cl[i].last = now;
}

/* io_client - read and write what poll said client ci can */
static void io_client(int ci, short rev, long long now)
{
	struct client *c = &L.cl[ci];
	ssize_t k;

	if (rev & POLLIN) {
		k = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(ci);
			return;
		}
		if (k > 0) {
			c->inlen += (size_t)k;
			c->last = now;
		}
	} else if (rev & (POLLHUP | POLLERR)) {
		client_close(ci);
		return;
	}
	if (take_lines(ci, now) < 0) {
		client_close(ci);
		return;
	}
	if (c->outlen) {
		k = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(ci);
			return;
		}
		if (k > 0) {
			memmove(c->out, c->out + k, c->outlen - (size_t)k);
			c->outlen -= (size_t)k;
			c->last = now;
		}
	}
}

/* loop_main - the lookup thread */
static void *loop_main(void *arg)
{
	static struct pollfd pfd[MAX_CLIENTS + 2];
	int map[MAX_CLIENTS + 2];

	(void)arg;
	for (;;) {
		long long now = util_mono_ms();
		nfds_t n = 2;
		int i, stop;

		pthread_mutex_lock(&L.jmu);
		stop = L.stop;
		if (L.pending) {
			conf_put(L.conf);
			L.conf = L.pending;
			L.pending = NULL;
			cache_clear();
		}
		pthread_mutex_unlock(&L.jmu);
		if (stop)
			break;
		pfd[0].fd = L.lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = L.wake[0];
		pfd[1].events = POLLIN;
		for (i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &L.cl[i];

			if (c->fd < 0)
				continue;
			/* no progress either way for IDLE_MS: idle, or
			 * not reading its answers */
			if (now - c->last > IDLE_MS) {
				client_close(i);
				continue;
			}
			/* answers keep flowing whatever comes in */
			if (c->outlen || c->inlen)
				io_client(i, 0, now);
			if (c->fd < 0)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			if (c->inlen < sizeof(c->in) &&
			    c->inflight < MAX_INFLIGHT)
				pfd[n].events |= POLLIN;
			if (c->outlen)
				pfd[n].events |= POLLOUT;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, n, 1000) < 0 && errno != EINTR) {
			log_warnx("lookup: poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		now = util_mono_ms();
		if (pfd[1].revents & POLLIN)
			finish(now);
		for (i = 2; i < (int)n; i++)
			if (pfd[i].revents)
				io_client(map[i], pfd[i].revents, now);
		if (pfd[0].revents & POLLIN)
			accept_one(now);
	}
	return NULL;
}

/* make_socket - spool_dir/lookup/socket, bound, 0660; 0 or -1 (logged) */
static int make_socket(const struct cfg *cfg)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	int w, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	w = snprintf(dir, sizeof(dir), "%s/%s", cfg->spool_dir,
		     LOOKUP_SOCKET_DIR);
	if (w < 0 || (size_t)w >= sizeof(dir) ||
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		     LOOKUP_SOCKET_NAME) >= (int)sizeof(sa.sun_path)) {
		log_error("lookup: socket path under %s is too long (%zu "
			  "bytes at most)",
			  cfg->spool_dir, sizeof(sa.sun_path) - 1);
		return -1;
	}
	if (mkdir(dir, 02750) < 0 && errno != EEXIST) {
		log_warnx("lookup: mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0660) < 0 || listen(fd, 128) < 0) {
		log_warnx("lookup: socket %s: %s", sa.sun_path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(L.path, sizeof(L.path), "%s", sa.sun_path);
	L.lfd = fd;
	return 0;
}

int lookup_start(const struct cfg *cfg)
{
	struct lkconf *c;
	int none, i;

	if (L.running)
		return 0;
	c = conf_new(cfg, &none);
	if (!c)
		return none ? 0 : -1;
	if (make_socket(cfg) < 0) {
		conf_put(c);
		return -1;
	}
	if (pipe2(L.wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		log_warnx("lookup: pipe: %s", strerror(errno));
		close(L.lfd);
		L.lfd = -1;
		goto fail;
	}
	for (i = 0; i < MAX_CLIENTS; i++)
		L.cl[i].fd = -1;
	pthread_mutex_init(&L.jmu, NULL);
	pthread_cond_init(&L.jcv, NULL);
	L.conf = c;
	L.stop = 0;
	mysql_library_init(0, NULL, NULL);
	for (L.npool = 0; L.npool < NPOOL; L.npool++)
		if (pthread_create(&L.pool[L.npool], NULL, pool_main, NULL))
			break;
	if (pthread_create(&L.thread, NULL, loop_main, NULL)) {
		log_warnx("lookup: thread: %s", strerror(errno));
		L.conf = NULL;
		lookup_stop();
		goto fail;
	}
	L.running = 1;
	log_info("lookup: serving %zu rcpt_check table%s on %s", c->n,
		 c->n == 1 ? "" : "s", L.path);
	return 0;
fail:
	conf_put(c);
	return -1;
}

void lookup_reload(const struct cfg *cfg)
{
	struct lkconf *c;
	char b = 1;
	int none;

	if (!L.running) {
		lookup_start(cfg);
		return;
	}
	c = conf_new(cfg, &none);
	if (!c && !none)
		return; /* out of memory: the old tables stay */
	pthread_mutex_lock(&L.jmu);
	if (L.pending)
		conf_put(L.pending);
	L.pending = c;
	if (!c) {
		/* none left: an empty set, every question TEMP */
		L.pending = calloc(1, sizeof(*L.pending));
		if (L.pending)
			L.pending->refs = 1;
	}
	pthread_mutex_unlock(&L.jmu);
	if (write(L.wake[1], &b, 1) < 0) {
		/* the loop looks at pending within a second anyway */
	}
	log_info("lookup: %zu rcpt_check table%s after reload",
		 c ? c->n : 0, c && c->n == 1 ? "" : "s");
}

void lookup_stop(void)
{
	struct job *j, *next;
	char b = 1;
	int i;

	if (L.lfd < 0)
		return;
	pthread_mutex_lock(&L.jmu);
	L.stop = 1;
	pthread_cond_broadcast(&L.jcv);
	pthread_mutex_unlock(&L.jmu);
	if (L.wake[1] >= 0 && write(L.wake[1], &b, 1) < 0) {
		/* the loop polls with a timeout */
	}
	if (L.running)
		pthread_join(L.thread, NULL);
	for (i = 0; i < L.npool; i++)
		pthread_join(L.pool[i], NULL);
	for (j = L.todo; j; j = next) {
		next = j->next;
		conf_put(j->conf);
		free(j);
	}
	for (j = L.done; j; j = next) {
		next = j->next;
		conf_put(j->conf);
		free(j);
	}
	L.todo = L.todo_tail = L.done = NULL;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (L.cl[i].fd >= 0)
			client_close(i);
	conf_put(L.conf);
	conf_put(L.pending);
	L.conf = L.pending = NULL;
	cache_clear();
	close(L.lfd);
	unlink(L.path);
	L.lfd = -1;
	for (i = 0; i < 2; i++)
		if (L.wake[i] >= 0)
			close(L.wake[i]);
	L.wake[0] = L.wake[1] = -1;
	L.running = 0;
}
