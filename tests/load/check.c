/*
 * check.c - after the load: wait until spoolerd has emptied the spool,
 * then read every file of every maildir under the root and hold it
 * against what the generator recorded.
 *
 * A delivered copy is (spoolerd/msg.c):
 *   Return-Path: <sender>\r\n
 *   Delivered-To: user@domain\r\n
 *   Received: ... id QUEUE-ID ...\r\n (with continuation lines)
 *   the client's message, byte-exact (dot-unstuffed, CRLF)
 * and is named new/QUEUE-ID.R<recipient index>.<host> (cur/ with :2,...).
 * The message starts with our "X-Load-Id: <16 hex>" line, which finds
 * the record; the SHA-256 of the message part must equal the digest the
 * generator computed while sending.
 *
 * Verdicts per accepted message: lost (a recipient's copy missing),
 * duplicated (a copy found twice, or a second queue id for the message),
 * corrupted (a copy not byte-exact or with wrong delivery headers). A
 * file no accepted message explains (a message cut before its dot, a
 * refused one, junk) counts as unexpected and as corrupted.
 */
#include "loadgen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *spool_dirs[] = {"new", "cur", "defer", "failed", "tmp",
				   "state"};

static long long count_dir(const char *base, const char *sub)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	long long n = 0;

	snprintf(path, sizeof(path), "%s/%s", base, sub);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int check_wait_drain(const char *spool, double max_secs, double *waited,
		     char *detail, size_t dn, long long *left)
{
	double t0 = now_s();
	int quiet = 0;

	for (;;) {
		long long busy = count_dir(spool, "new") +
				 count_dir(spool, "cur") +
				 count_dir(spool, "defer");

		if (busy == 0) {
			if (++quiet >= 3)
				break;
		} else {
			quiet = 0;
		}
		if (now_s() - t0 > max_secs)
			break;
		usleep(200000);
	}
	*waited = now_s() - t0;
	{
		size_t off = 0;
		long long tot = 0;

		detail[0] = '\0';
		for (size_t i = 0; i < sizeof(spool_dirs) / sizeof(*spool_dirs);
		     i++) {
			long long n = count_dir(spool, spool_dirs[i]);

			tot += n;
			if (off < dn)
				off += (size_t)snprintf(detail + off, dn - off,
							"%s%s=%lld",
							i ? " " : "",
							spool_dirs[i], n);
		}
		*left = tot;
		return tot == 0 ? 0 : -1;
	}
}

/* token index: open addressing, token -> record index + 1 */
struct idx {
	uint64_t *key;
	size_t *val;
	size_t mask;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int idx_build(struct idx *ix, struct recs *rs)
{
	size_t cap = 1024;

	while (cap < rs->n * 2 + 1)
		cap *= 2;
	ix->key = calloc(cap, sizeof(*ix->key));
	ix->val = calloc(cap, sizeof(*ix->val));
	if (!ix->key || !ix->val)
		return -1;
	ix->mask = cap - 1;
	for (size_t i = 0; i < rs->n; i++) {
		size_t h = mix(rs->v[i].token) & ix->mask;

		while (ix->val[h])
			h = (h + 1) & ix->mask;
		ix->key[h] = rs->v[i].token;
		ix->val[h] = i + 1;
	}
	return 0;
}

static struct rec *idx_find(struct idx *ix, struct recs *rs, uint64_t tok)
{
	size_t h = mix(tok) & ix->mask;

	while (ix->val[h]) {
		if (ix->key[h] == tok)
			return &rs->v[ix->val[h] - 1];
		h = (h + 1) & ix->mask;
	}
	return NULL;
}

struct scan {
	struct idx ix;
	struct recs *rs;
	struct check_result *cr;
	FILE *log;
	int logged;
	char *buf;
	size_t cap;
};

static void problem(struct scan *sc, const char *path, const char *why)
{
	if (sc->log && sc->logged++ < 200)
		fprintf(sc->log, "check: %s: %s\n", path, why);
}

static int read_all(const char *path, char **buf, size_t *cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t off = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size > (1LL << 28)) {
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size + 1 > *cap) {
		size_t nc = (size_t)st.st_size + 1;
		char *nb = realloc(*buf, nc);

		if (!nb) {
			close(fd);
			return -1;
		}
		*buf = nb;
		*cap = nc;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, *buf + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	*len = off;
	return 0;
}

/* take_line - "PREFIX value\r\n" at *p: the value, *p moved past */
static int take_line(const char **p, const char *end, const char *prefix,
		     const char **v, size_t *vl)
{
	size_t pl = strlen(prefix);
	const char *e;

	if ((size_t)(end - *p) < pl || memcmp(*p, prefix, pl))
		return -1;
	e = memchr(*p, '\n', (size_t)(end - *p));
	if (!e || e == *p || e[-1] != '\r')
		return -1;
	*v = *p + pl;
	*vl = (size_t)(e - 1 - *v);
	*p = e + 1;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void check_file(struct scan *sc, const char *path, const char *name)
{
	const char *p, *end, *v, *msg, *r, *qid_end = NULL;
	char want[512], qid[128];
	size_t vl, len, ql;
	struct rec *rec;
	uint64_t tok = 0;
	uint8_t dig[32];
	long ri = -1;
	int bad = 0;

	/* name: QID.R<i>.HOST[:2,FLAGS]; QID has no ".R" */
	r = strstr(name, ".R");
	if (r) {
		char *e;

		ri = strtol(r + 2, &e, 10);
		if (e == r + 2 || *e != '.')
			ri = -1;
		qid_end = r;
	}
	if (ri < 0 || ri >= MAXRCPT || !qid_end ||
	    (size_t)(qid_end - name) >= sizeof(qid)) {
		sc->cr->unexpected++;
		problem(sc, path, "name not QID.R<n>.HOST");
		return;
	}
	ql = (size_t)(qid_end - name);
	memcpy(qid, name, ql);
	qid[ql] = '\0';
	if (read_all(path, &sc->buf, &sc->cap, &len) < 0) {
		sc->cr->unexpected++;
		problem(sc, path, "unreadable");
		return;
	}
	p = sc->buf;
	end = p + len;
	/* the message is after Return-Path, Delivered-To and Received */
	{
		const char *rp, *dt;
		size_t rpl, dtl;

		if (take_line(&p, end, "Return-Path: ", &rp, &rpl) < 0 ||
		    take_line(&p, end, "Delivered-To: ", &dt, &dtl) < 0) {
			sc->cr->unexpected++;
			problem(sc, path, "no Return-Path/Delivered-To");
			return;
		}
		if ((size_t)(end - p) < 10 || memcmp(p, "Received: ", 10)) {
			sc->cr->unexpected++;
			problem(sc, path, "no Received after Delivered-To");
			return;
		}
		{
			const char *rs = p, *idp;
			char idpat[160];

			for (;;) {
				const char *e = memchr(p, '\n',
						       (size_t)(end - p));

				if (!e)
					break;
				p = e + 1;
				if (p >= end || (*p != ' ' && *p != '\t'))
					break;
			}
			snprintf(idpat, sizeof(idpat), " id %s", qid);
			idp = memmem(rs, (size_t)(p - rs), idpat,
				     strlen(idpat));
			if (!idp) {
				bad = 1;
				problem(sc, path,
					"Received does not name the queue id");
			}
		}
		msg = p;
		if (take_line(&p, end, "X-Load-Id: ", &v, &vl) < 0 ||
		    vl != 16) {
			sc->cr->unexpected++;
			problem(sc, path, "no X-Load-Id first in the message");
			return;
		}
		for (size_t i = 0; i < 16; i++) {
			int h = hexval(v[i]);

			if (h < 0) {
				sc->cr->unexpected++;
				problem(sc, path, "bad X-Load-Id");
				return;
			}
			tok = tok << 4 | (uint64_t)h;
		}
		rec = idx_find(&sc->ix, sc->rs, tok);
		if (!rec) {
			sc->cr->unexpected++;
			problem(sc, path, "X-Load-Id of no message we sent");
			return;
		}
		if (rec->outcome == OUT_TEMPFAIL) {
			/* checked below like an accepted copy, and counted */
			sc->cr->tempfail_delivered++;
			problem(sc, path,
				"stored although its dot got a 4xx reply "
				"(the sender retries: a duplicate)");
		} else if (rec->outcome != OUT_ACCEPTED &&
			   rec->outcome != OUT_UNKNOWN) {
			sc->cr->unexpected++;
			rec->bad[ri] = 1;
			problem(sc, path,
				rec->outcome == OUT_REJECTED
					? "a message the server refused"
					: "a message cut before its end");
			return;
		}
		if (rec->outcome == OUT_ACCEPTED && strcmp(rec->qid, qid)) {
			/* the same message under a second queue id */
			rec->seen[ri < rec->nrcpt ? ri : 0] += 2;
			problem(sc, path, "message stored under a second id");
			return;
		}
		if (ri >= rec->nrcpt) {
			sc->cr->unexpected++;
			problem(sc, path, "recipient index beyond the accepted");
			return;
		}
		if (rec->sender < 0)
			want[0] = '\0';
		else
			addr_sender(rec->sender, want, sizeof(want));
		if (rpl != strlen(want) + 2 || rp[0] != '<' ||
		    memcmp(rp + 1, want, strlen(want)) || rp[rpl - 1] != '>') {
			bad = 1;
			problem(sc, path, "Return-Path differs");
		}
		addr_rcpt(rec->rcpt[ri], want, sizeof(want));
		if (dtl != strlen(want) || memcmp(dt, want, dtl)) {
			bad = 1;
			problem(sc, path, "Delivered-To differs");
		}
	}
	if ((long long)(end - msg) != rec->size) {
		bad = 1;
		problem(sc, path, "size differs");
	} else {
		gnutls_hash_fast(GNUTLS_DIG_SHA256, msg, (size_t)(end - msg),
				 dig);
		if (memcmp(dig, rec->digest, 32)) {
			bad = 1;
			problem(sc, path, "SHA-256 differs");
		}
	}
	rec->seen[ri]++;
	if (bad)
		rec->bad[ri] = 1;
}

/* walk - ROOT/DOMAIN/USER/Maildir/{new,cur,tmp}/FILE, any depth */
static void walk(struct scan *sc, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	const char *base = strrchr(dir, '/');
	int in_box = 0, in_tmp = 0;

	if (!d)
		return;
	base = base ? base + 1 : dir;
	if (!strcmp(base, "new") || !strcmp(base, "cur") ||
	    !strcmp(base, "tmp")) {
		size_t bl = strlen(dir) - strlen(base);

		/* parent named Maildir */
		if (bl >= 8 && !strncmp(dir + bl - 8, "Maildir/", 8)) {
			in_box = 1;
			in_tmp = !strcmp(base, "tmp");
		}
	}
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 8)
				walk(sc, path, depth + 1);
			continue;
		}
		if (in_tmp) {
			sc->cr->maildir_tmp_left++;
			sc->cr->unexpected++;
			problem(sc, path, "left in a maildir's tmp/");
		} else if (in_box) {
			sc->cr->copies_found++;
			check_file(sc, path, de->d_name);
		} else {
			sc->cr->unexpected++;
			problem(sc, path, "a file outside any maildir");
		}
	}
	closedir(d);
}

int check_maildirs(const char *root, struct recs *rs,
		   struct check_result *cr, FILE *log)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.rs = rs;
	sc.cr = cr;
	sc.log = log;
	if (idx_build(&sc.ix, rs) < 0)
		return -1;
	for (size_t i = 0; i < rs->n; i++) {
		memset(rs->v[i].seen, 0, sizeof(rs->v[i].seen));
		memset(rs->v[i].bad, 0, sizeof(rs->v[i].bad));
	}
	walk(&sc, root, 0);
	for (size_t i = 0; i < rs->n; i++) {
		struct rec *r = &rs->v[i];
		int lost = 0, dup = 0, bad = 0, any = 0;

		for (int k = 0; k < MAXRCPT; k++) {
			if (k < r->nrcpt && !r->seen[k])
				lost = 1;
			if (r->seen[k] > 1)
				dup = 1;
			if (r->seen[k])
				any = 1;
			if (r->bad[k])
				bad = 1;
		}
		switch (r->outcome) {
		case OUT_ACCEPTED:
			cr->accepted++;
			cr->copies_expected += r->nrcpt;
			cr->lost += lost;
			cr->duplicated += dup;
			cr->corrupted += bad;
			if ((lost || dup || bad) && log && sc.logged++ < 200)
				fprintf(log,
					"check: message %016llx queued as %s:"
					"%s%s%s\n",
					(unsigned long long)r->token, r->qid,
					lost ? " lost" : "",
					dup ? " duplicated" : "",
					bad ? " corrupted" : "");
			break;
		case OUT_UNKNOWN:
		case OUT_TEMPFAIL:
			cr->duplicated += dup;
			cr->corrupted += bad;
			if (r->outcome == OUT_UNKNOWN)
				cr->unknown_delivered += any;
			break;
		default:
			break; /* counted as unexpected in check_file */
		}
	}
	cr->corrupted += cr->unexpected;
	free(sc.ix.key);
	free(sc.ix.val);
	free(sc.buf);
	return 0;
}
