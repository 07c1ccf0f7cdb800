/*
 * collect.c - the collector's figures.
 *
 * Datagrams (statsmsg.h) update counters and the current slot of the
 * series; a tick adds the rates and the memory sample. The series has
 * COLLECT_SLOTS slots of max_window / COLLECT_SLOTS each (a minute for
 * 24 h), a ring indexed by time, so memory is fixed whatever the load.
 * Rankings count over ranking_aggregation_interval and then start again
 * (rank.c bounds them). Everything here is fed data, not trusted: a bad
 * datagram is counted and ignored.
 */
#include "collect.h"
#include "util.h"

#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const collect_qdirs[COLLECT_QDIRS] = {"new", "cur", "defer",
						  "failed", "tmp"};
const double collect_buckets[COLLECT_NBUCKETS] = {
	0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120};

int collect_init(struct collect *c, const struct cfg_dashboard *d)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->slot_ms = d->max_window / COLLECT_SLOTS;
	if (c->slot_ms < 1)
		c->slot_ms = 1;
	c->rank_interval = d->ranking_aggregation_interval;
	c->mem_source = "none";
	if (rank_init(&c->ip, 4096, 1.0) < 0 ||
	    rank_init(&c->domain, 4096, d->unique_helo_ratio) < 0 ||
	    rank_init(&c->helo, 4096, d->unique_helo_ratio) < 0)
		return -1;
	return 0;
}

void collect_free(struct collect *c)
{
	rank_free(&c->ip);
	rank_free(&c->domain);
	rank_free(&c->helo);
}

/* pair_add - count n for (a, b) in a small table; full tables count
 * under ("other", b) in the last row */
static void pair_add(struct collect_pair *t, size_t *nt, const char *a,
                     const char *b, unsigned long long n)
{
	size_t i;

	for (i = 0; i < *nt; i++)
		if (!strcmp(t[i].a, a) && !strcmp(t[i].b, b)) {
			t[i].n += n;
			return;
		}
	if (*nt == COLLECT_PAIRS) {
		t[COLLECT_PAIRS - 1].n += n;
		return;
	}
	snprintf(t[*nt].a, sizeof(t[*nt].a), "%s",
		 *nt == COLLECT_PAIRS - 1 ? "other" : a);
	snprintf(t[*nt].b, sizeof(t[*nt].b), "%s", b);
	t[(*nt)++].n = n;
}

/* slot_at - the series slot for now, cleared when it is reused */
static struct collect_slot *slot_at(struct collect *c, long long now_ms)
{
	long long k = now_ms / c->slot_ms;
	struct collect_slot *s = &c->slots[k % COLLECT_SLOTS];
	long long t = k * c->slot_ms;

	if (s->t != t) {
		memset(s, 0, sizeof(*s));
		s->t = t;
		s->mem = c->mem;
	}
	return s;
}

/* domain_of - the last two labels of a name, lower case ("" for an
 * address literal or a bare word) */
static void domain_of(const char *name, char *out, size_t size)
{
	const char *p = name + strlen(name), *dot = NULL;
	size_t i;
	int dots = 0;

	out[0] = '\0';
	if (name[0] == '[' || !strchr(name, '.'))
		return;
	while (p > name) {
		p--;
		if (*p == '.' && p[1]) {
			if (++dots == 2) {
				dot = p + 1;
				break;
			}
		}
	}
	if (!dot)
		dot = name;
	for (i = 0; dot[i] && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)dot[i]);
	out[i] = '\0';
	/* a dotted quad is no domain */
	if (strspn(out, "0123456789.") == strlen(out))
		out[0] = '\0';
}

/* num - a field as a non-negative number, -1 if it is not one */
static double num(const char *s)
{
	char *e;
	double v;

	if (!*s)
		return -1;
	v = strtod(s, &e);
	return (*e || v != v || v < 0) ? -1 : v;
}

void collect_apply(struct collect *c, const struct statsmsg *m,
                   long long now_ms)
{
	struct collect_slot *s = slot_at(c, now_ms);
	char dom[RANK_KEY + 1];
	double v, w;
	size_t i;

	switch (m->type) {
	case SM_CONN:
		pair_add(c->conns, &c->nconns, m->f[0], m->f[2], 1);
		if (strcmp(m->f[2], "accepted"))
			break;
		c->open++;
		s->conns++;
		rank_add(&c->ip, m->f[1]);
		domain_of(m->f[3], dom, sizeof(dom));
		if (dom[0])
			rank_add(&c->domain, dom);
		break;
	case SM_HELO:
		rank_add(&c->helo, m->f[2]);
		domain_of(m->f[2], dom, sizeof(dom));
		if (dom[0])
			rank_add(&c->domain, dom);
		break;
	case SM_MSG:
		v = num(m->f[2]);
		if (v < 0) {
			c->bad++;
			break;
		}
		c->accepted++;
		c->bytes += (unsigned long long)v;
		s->msgs++;
		s->bytes += (unsigned long long)v;
		break;
	case SM_REJ:
		v = num(m->f[2]);
		if (v < 400 || v > 599) {
			c->bad++;
			break;
		}
		c->rejected[(int)v - 400]++;
		break;
	case SM_END:
		if (c->open > 0)
			c->open--;
		if (!strcmp(m->f[2], "1"))
			c->tls++;
		break;
	case SM_DLV:
		w = num(m->f[2]);
		if (w < 0) {
			c->bad++;
			break;
		}
		pair_add(c->dlv, &c->ndlv, m->f[0], m->f[1], 1);
		for (i = 0; i < COLLECT_NBUCKETS; i++)
			if (w <= collect_buckets[i])
				c->hist[i]++;
		c->hist_count++;
		c->hist_sum += w;
		break;
	case SM_QUEUE:
		for (i = 0; i < COLLECT_QDIRS + 1; i++)
			if (num(m->f[i]) < 0)
				break;
		if (i < COLLECT_QDIRS + 1) {
			c->bad++;
			break;
		}
		for (i = 0; i < COLLECT_QDIRS; i++)
			c->sp_queue[i] = (long long)num(m->f[i]);
		c->sp_oldest = num(m->f[COLLECT_QDIRS]);
		c->sp_at = now_ms;
		break;
	case SM_NTYPES:
		break;
	}
}

void collect_queue(struct collect *c, long long now_ms)
{
	if (c->sp_at && now_ms - c->sp_at < 30000) {
		memcpy(c->queue, c->sp_queue, sizeof(c->queue));
		c->oldest = c->sp_oldest;
	}
}

void collect_tick(struct collect *c, long long now_ms)
{
	struct collect_slot *s = slot_at(c, now_ms);

	if (c->prev_tick && now_ms > c->prev_tick) {
		double dt = (double)(now_ms - c->prev_tick) / 1000.0;

		c->msg_rate = (double)(c->accepted - c->prev_msgs) / dt;
		c->byte_rate = (double)(c->bytes - c->prev_bytes) / dt;
	}
	c->prev_tick = now_ms;
	c->prev_msgs = c->accepted;
	c->prev_bytes = c->bytes;
	s->mem = c->mem;
	if (!c->rank_reset_at)
		c->rank_reset_at = now_ms;
	if (now_ms - c->rank_reset_at >= c->rank_interval) {
		rank_reset(&c->ip);
		rank_reset(&c->domain);
		rank_reset(&c->helo);
		c->rank_reset_at = now_ms;
	}
}

/* read_num - the first number in a small file; -1 if none */
static long long read_num(const char *path, const char *after)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *p = buf;
	unsigned long v;
	size_t len;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (after) {
		p = strstr(buf, after);
		if (!p)
			return -1;
		p += strlen(after);
	}
	p += strspn(p, " \t");
	len = strspn(p, "0123456789");
	if (util_parse_ulong(p, len, (unsigned long)-1 >> 1, &v) < 0)
		return -1;
	return (long long)v;
}

/* session_memory - PSS of every smtpd-session process, else (PSS is
 * unreadable without ptrace rights: sessions are not dumpable) RSS */
static unsigned long long session_memory(const char **src)
{
	unsigned long long pss = 0, rss = 0;
	int pss_ok = 1, any = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], comm[32];
		long long v;
		ssize_t n;
		int fd;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n <= 0)
			continue;
		comm[n] = '\0';
		if (strcmp(comm, "smtpd-session\n"))
			continue;
		any = 1;
		snprintf(path, sizeof(path), "/proc/%s/smaps_rollup",
			 e->d_name);
		v = pss_ok ? read_num(path, "\nPss:") : -1;
		if (v < 0)
			pss_ok = 0;
		else
			pss += (unsigned long long)v * 1024;
		snprintf(path, sizeof(path), "/proc/%s/statm", e->d_name);
		/* statm: size resident ...; resident is the second field */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			char b[128];
			const char *q;
			unsigned long r;

			n = read(fd, b, sizeof(b) - 1);
			close(fd);
			b[n > 0 ? n : 0] = '\0';
			q = strchr(b, ' ');
			if (q && util_parse_ulong(q + 1,
						  strspn(q + 1, "0123456789"),
						  (unsigned long)-1 >> 1,
						  &r) == 0)
				rss += (unsigned long long)r *
				       (unsigned long long)page;
		}
	}
	closedir(d);
	*src = !any ? "pss" : pss_ok ? "pss" : "rss";
	return pss_ok ? pss : rss;
}

void collect_sample(const struct cfg *cfg, unsigned long long *mem,
                    const char **src, long long *queue, double *oldest)
{
	static const char *cgroups[] = {
		"/sys/fs/cgroup/system.slice/"
		"system-smtpd\\x2dsession.slice/memory.current",
		"/sys/fs/cgroup/system.slice/smtpd.service/memory.current",
		NULL};
	const char *cg = cfg->dashboard.memory_cgroup;
	time_t now = time(NULL), old = 0;
	long long v = -1;
	size_t i;

	if (cg && cg[0]) {
		char p[4200];

		snprintf(p, sizeof(p), "%s/memory.current", cg);
		v = read_num(p, NULL);
	}
	for (i = 0; v < 0 && (!cg || !cg[0]) && cgroups[i]; i++)
		v = read_num(cgroups[i], NULL);
	if (v >= 0) {
		*mem = (unsigned long long)v;
		*src = "cgroup";
	} else {
		*mem = session_memory(src);
	}
	for (i = 0; i < COLLECT_QDIRS; i++) {
		char p[4200];
		struct dirent *e;
		DIR *d;
		int dfd;

		queue[i] = -1;
		snprintf(p, sizeof(p), "%s/%s", cfg->spool_dir,
			 collect_qdirs[i]);
		d = opendir(p);
		if (!d)
			continue;
		queue[i] = 0;
		dfd = dirfd(d);
		while ((e = readdir(d))) {
			struct stat st;

			if (e->d_name[0] == '.' ||
			    strstr(e->d_name, ".reason") ||
			    fstatat(dfd, e->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			queue[i]++;
			if (i < 3 && (!old || st.st_mtime < old))
				old = st.st_mtime;
		}
		closedir(d);
	}
	*oldest = old ? (double)(now - old) : 0;
}

/* add_top - a ranking as [[key, count], ...] */
static void add_top(cJSON *o, const char *name, const struct rank *r)
{
	struct rank_ent top[10];
	size_t n = rank_top(r, top, 10), i;
	cJSON *a = cJSON_AddArrayToObject(o, name);

	for (i = 0; a && i < n; i++) {
		cJSON *p = cJSON_CreateArray();

		cJSON_AddItemToArray(p, cJSON_CreateString(top[i].key));
		cJSON_AddItemToArray(p, cJSON_CreateNumber((double)top[i].n));
		cJSON_AddItemToArray(a, p);
	}
}

char *collect_json(struct collect *c, long long now_ms)
{
	cJSON *o = cJSON_CreateObject(), *s, *t, *q, *dl;
	long long k0 = now_ms / c->slot_ms - (COLLECT_SLOTS - 1), k;
	char *out;
	size_t i;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "now", (double)(now_ms / 1000));
	cJSON_AddNumberToObject(o, "clients", (double)c->open);
	cJSON_AddNumberToObject(o, "msg_rate", c->msg_rate);
	cJSON_AddNumberToObject(o, "byte_rate", c->byte_rate);
	cJSON_AddNumberToObject(o, "memory", (double)c->mem);
	cJSON_AddStringToObject(o, "memory_source", c->mem_source);
	cJSON_AddNumberToObject(o, "messages", (double)c->accepted);
	cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
	cJSON_AddNumberToObject(o, "slot_seconds", (double)c->slot_ms / 1000);
	s = cJSON_AddObjectToObject(o, "series");
	if (s) {
		cJSON *st = cJSON_AddArrayToObject(s, "t"),
		      *sc = cJSON_AddArrayToObject(s, "conns"),
		      *sb = cJSON_AddArrayToObject(s, "bytes"),
		      *sm = cJSON_AddArrayToObject(s, "mem");

		/* only slots that hold data: the page spaces them by t */
		for (k = k0; k <= k0 + COLLECT_SLOTS - 1; k++) {
			const struct collect_slot *x =
				&c->slots[k % COLLECT_SLOTS];

			if (x->t != k * c->slot_ms)
				continue;
			cJSON_AddItemToArray(st,
					     cJSON_CreateNumber((double)x->t /
								1000));
			cJSON_AddItemToArray(
				sc, cJSON_CreateNumber((double)x->conns));
			cJSON_AddItemToArray(
				sb, cJSON_CreateNumber((double)x->bytes));
			cJSON_AddItemToArray(
				sm, cJSON_CreateNumber((double)x->mem));
		}
	}
	add_top(o, "top_ip", &c->ip);
	add_top(o, "top_domain", &c->domain);
	add_top(o, "top_helo", &c->helo);
	cJSON_AddNumberToObject(o, "helo_refused", (double)c->helo.refused);
	q = cJSON_AddObjectToObject(o, "queue");
	for (i = 0; q && i < COLLECT_QDIRS; i++)
		cJSON_AddNumberToObject(q, collect_qdirs[i],
					(double)c->queue[i]);
	cJSON_AddNumberToObject(o, "oldest_seconds", c->oldest);
	dl = cJSON_AddArrayToObject(o, "deliveries");
	for (i = 0; dl && i < c->ndlv; i++) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "processor", c->dlv[i].a);
		cJSON_AddStringToObject(t, "result", c->dlv[i].b);
		cJSON_AddNumberToObject(t, "n", (double)c->dlv[i].n);
		cJSON_AddItemToArray(dl, t);
	}
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

/* label - a label value with \, " and newline escaped (exposition
 * format) */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/* head - the HELP and TYPE lines of one metric */
static void head(FILE *f, const char *name, const char *type,
                 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void collect_metrics(struct collect *c, FILE *f)
{
	size_t i;

	head(f, "smtpd_connections_total", "counter",
	     "Connections by server and result.");
	for (i = 0; i < c->nconns; i++) {
		fputs("smtpd_connections_total{server=\"", f);
		label(f, c->conns[i].a);
		fputs("\",result=\"", f);
		label(f, c->conns[i].b);
		fprintf(f, "\"} %llu\n", c->conns[i].n);
	}
	head(f, "smtpd_sessions_open", "gauge", "Sessions open now.");
	fprintf(f, "smtpd_sessions_open %lld\n", c->open);
	head(f, "smtpd_messages_accepted_total", "counter",
	     "Messages written to the spool.");
	fprintf(f, "smtpd_messages_accepted_total %llu\n", c->accepted);
	head(f, "smtpd_messages_rejected_total", "counter",
	     "4xx and 5xx replies by code.");
	for (i = 0; i < 200; i++)
		if (c->rejected[i])
			fprintf(f,
				"smtpd_messages_rejected_total{code=\"%zu\"} "
				"%llu\n",
				i + 400, c->rejected[i]);
	head(f, "smtpd_bytes_received_total", "counter",
	     "Message bytes written to the spool.");
	fprintf(f, "smtpd_bytes_received_total %llu\n", c->bytes);
	head(f, "smtpd_tls_sessions_total", "counter",
	     "Sessions that used TLS.");
	fprintf(f, "smtpd_tls_sessions_total %llu\n", c->tls);
	head(f, "spoolerd_queue_entries", "gauge",
	     "Entries per spool directory.");
	for (i = 0; i < COLLECT_QDIRS; i++)
		if (c->queue[i] >= 0)
			fprintf(f, "spoolerd_queue_entries{dir=\"%s\"} %lld\n",
				collect_qdirs[i], c->queue[i]);
	head(f, "spoolerd_deliveries_total", "counter",
	     "Deliveries by processor and result.");
	for (i = 0; i < c->ndlv; i++) {
		fputs("spoolerd_deliveries_total{processor=\"", f);
		label(f, c->dlv[i].a);
		fputs("\",result=\"", f);
		label(f, c->dlv[i].b);
		fprintf(f, "\"} %llu\n", c->dlv[i].n);
	}
	head(f, "spoolerd_delivery_seconds", "histogram",
	     "Time one processor took for one delivery.");
	for (i = 0; i < COLLECT_NBUCKETS; i++)
		fprintf(f,
			"spoolerd_delivery_seconds_bucket{le=\"%g\"} %llu\n",
			collect_buckets[i], c->hist[i]);
	fprintf(f, "spoolerd_delivery_seconds_bucket{le=\"+Inf\"} %llu\n",
		c->hist_count);
	fprintf(f, "spoolerd_delivery_seconds_sum %.6f\n", c->hist_sum);
	fprintf(f, "spoolerd_delivery_seconds_count %llu\n", c->hist_count);
	head(f, "spoolerd_oldest_entry_seconds", "gauge",
	     "Age of the oldest entry waiting in new/, cur/ or defer/.");
	fprintf(f, "spoolerd_oldest_entry_seconds %.0f\n", c->oldest);
}

int collect_save(struct collect *c, const char *path)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char tmp[4200], *text;
	size_t i;
	int fd, rc = -1;

	if (!o || !path || !path[0])
		goto out;
	cJSON_AddNumberToObject(o, "slot_ms", (double)c->slot_ms);
	cJSON_AddNumberToObject(o, "accepted", (double)c->accepted);
	cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
	cJSON_AddNumberToObject(o, "tls", (double)c->tls);
	a = cJSON_AddArrayToObject(o, "slots");
	for (i = 0; a && i < COLLECT_SLOTS; i++) {
		const struct collect_slot *x = &c->slots[i];
		double v[5] = {(double)x->t, (double)x->conns, (double)x->msgs,
			       (double)x->bytes, (double)x->mem};

		if (x->t)
			cJSON_AddItemToArray(a, cJSON_CreateDoubleArray(v, 5));
	}
	text = cJSON_PrintUnformatted(o);
	if (!text)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (util_write_all(fd, text, strlen(text)) == 0 &&
		    fsync(fd) == 0 && close(fd) == 0 && rename(tmp, path) == 0)
			rc = 0;
		else
			unlink(tmp);
	}
	free(text);
out:
	cJSON_Delete(o);
	return rc;
}

int collect_load(struct collect *c, const char *path)
{
	char *buf = malloc(1 << 20);
	cJSON *o = NULL, *a, *e;
	ssize_t n = -1;
	int fd, rc = -1;

	if (!buf)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, (1 << 20) - 1);
		close(fd);
	}
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	o = cJSON_Parse(buf);
	if (!o || cJSON_GetNumberValue(cJSON_GetObjectItem(o, "slot_ms")) !=
			  (double)c->slot_ms)
		goto out; /* another max_window: start again */
	c->accepted = (unsigned long long)cJSON_GetNumberValue(
		cJSON_GetObjectItem(o, "accepted"));
	c->bytes = (unsigned long long)cJSON_GetNumberValue(
		cJSON_GetObjectItem(o, "bytes"));
	c->tls = (unsigned long long)cJSON_GetNumberValue(
		cJSON_GetObjectItem(o, "tls"));
	a = cJSON_GetObjectItem(o, "slots");
	cJSON_ArrayForEach(e, a)
	{
		double v[5];
		int i;
		long long k;

		if (cJSON_GetArraySize(e) != 5)
			continue;
		for (i = 0; i < 5; i++)
			v[i] = cJSON_GetNumberValue(cJSON_GetArrayItem(e, i));
		if (!(v[0] > 0))
			continue;
		k = (long long)v[0] / c->slot_ms;
		c->slots[k % COLLECT_SLOTS] = (struct collect_slot){
			(long long)v[0], (unsigned long long)v[1],
			(unsigned long long)v[2], (unsigned long long)v[3],
			(unsigned long long)v[4]};
	}
	c->prev_msgs = c->accepted;
	c->prev_bytes = c->bytes;
	rc = 0;
out:
	cJSON_Delete(o);
	free(buf);
	return rc;
}
