/*
 * spoolq.c - the queue tool: mailq, postcat, postsuper -r/-d and qshape
 * for the spool that smtpd-session writes and spoolerd delivers.
 *
 *   spoolq [-c FILE] [--json] list
 *   spoolq [-c FILE] [--json] show ID
 *   spoolq [-c FILE] requeue ID... | requeue --all-failed
 *   spoolq [-c FILE] flush
 *   spoolq [-c FILE] delete ID...
 *   spoolq [-c FILE] [--json] summary
 *   spoolq hash-password            (a yescrypt hash for the dashboard)
 *
 * Contract with a running spoolerd (spoolerd/scan.c): every change is one
 * rename or unlink, and never of an entry a deliverer holds.
 *   - requeue: failed/ID -> new/ID (RENAME_NOREPLACE), then ID.reason
 *     and the retry state go: a fresh start, as postsuper -r.
 *   - flush: each defer/ID -> new/ID; the retry state stays (attempts
 *     count on), spoolerd's inotify on new/ picks it up at once and its
 *     timer for the old place finds nothing (ENOENT is no error there).
 *   - delete: claimed as spoolerd claims (rename into cur/, then flock);
 *     an entry that a deliverer holds (cur/ and locked) is refused, never
 *     removed under it; then the file, its state and reason are unlinked.
 * Reading (list, show, summary) takes no lock: entries are whole files
 * that change only by rename.
 */
#include "cfg.h"
#include "entry.h"
#include "pwhash.h"
#include "retry.h"
#include "scan.h"
#include "util.h"
#include "version.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "spoolq"
#define EX_USAGE_ 64
#define EX_DATAERR_ 65
#define EX_NOINPUT_ 66
#define EX_SOFTWARE_ 70
#define EX_TEMPFAIL_ 75
#define EX_CONFIG_ 78

/* the states an entry can be in, by directory */
enum st { S_NEW, S_ACTIVE, S_DEFER, S_FAILED, S_N };
static const char *const st_dir[S_N] = {"new", "cur", "defer", "failed"};
static const char *const st_name[S_N] = {"new", "active", "deferred",
					 "failed"};

struct q {
	int dir[S_N];
	int state; /* state/, -1 when missing */
	struct sd_spool sp; /* for scan_claim: new, cur and state */
};

/* one entry as read from the spool */
struct ent {
	char id[256];
	enum st st;
	struct envelope env;
	long long fsize;
	unsigned attempts;
	char why[600]; /* last error: defer's retry state, failed's reason */
};

static int json;

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " [-c FILE] [--json] list | show ID | summary\n"
		"       " PROG " [-c FILE] requeue ID... | requeue --all-failed\n"
		"       " PROG " [-c FILE] flush | delete ID...\n"
		"       " PROG " hash-password | --version\n");
	exit(EX_USAGE_);
}

/* q_open - the spool's directories, opened, never created (a missing
 * spool is an error to report, not something to make as root) */
static int q_open(struct q *q, const char *dir)
{
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int i;

	if (top < 0) {
		fprintf(stderr, PROG ": spool_dir %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	for (i = 0; i < S_N; i++) {
		q->dir[i] = openat(top, st_dir[i],
				   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (q->dir[i] < 0 && errno != ENOENT) {
			fprintf(stderr, PROG ": %s/%s: %s\n", dir, st_dir[i],
				strerror(errno));
			close(top);
			return -1;
		}
	}
	q->state = openat(top, "state", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(top);
	if (q->dir[S_NEW] < 0) {
		fprintf(stderr, PROG ": %s/new: no such directory (not a "
			"spool?)\n", dir);
		return -1;
	}
	memset(&q->sp, 0, sizeof(q->sp));
	q->sp.dir = q->sp.tmp = q->sp.done = -1;
	q->sp.new = q->dir[S_NEW];
	q->sp.cur = q->dir[S_ACTIVE];
	q->sp.defer = q->dir[S_DEFER];
	q->sp.failed = q->dir[S_FAILED];
	q->sp.state = q->state;
	return 0;
}

/* first_line - the first line of dir/name into out ("" if none) */
static void first_line(int dir, const char *name, char *out, size_t n)
{
	char buf[1024];
	ssize_t r;
	int fd;

	out[0] = '\0';
	if (dir < 0)
		return;
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, n, "%s", buf);
}

/* ent_read - read entry st/id; 0, or -1 (gone, or not an entry: why) */
static int ent_read(const struct q *q, enum st st, const char *id,
                    struct ent *e)
{
	const char *err = NULL;
	struct retry_state rs;
	struct stat sb;
	int fd;

	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->st = st;
	fd = openat(q->dir[st], id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    entry_read_fd(fd, &e->env, &err) < 0) {
		snprintf(e->why, sizeof(e->why), "not a spool entry: %s",
			 err ? err : "not a regular file");
		close(fd);
		return -1;
	}
	close(fd);
	e->fsize = (long long)sb.st_size;
	if (q->state >= 0 && retry_load(q->state, id, &rs) == 0) {
		e->attempts = rs.attempts;
		if (st == S_DEFER || st == S_ACTIVE)
			snprintf(e->why, sizeof(e->why), "%s", rs.reason);
	}
	if (st == S_FAILED) {
		char rn[300];

		snprintf(rn, sizeof(rn), "%s.reason", id);
		first_line(q->dir[S_FAILED], rn, e->why, sizeof(e->why));
	}
	return 0;
}

/* each_fn - called per entry; return nonzero to stop */
typedef int (*each_fn)(void *arg, const struct q *q, struct ent *e);

/* each - every entry of every state, in name (= time) order per state */
static int each(const struct q *q, each_fn fn, void *arg)
{
	int s;

	for (s = 0; s < S_N; s++) {
		struct dirent **names = NULL;
		int n, i, stop = 0;

		if (q->dir[s] < 0)
			continue;
		{
			/* scandir wants a path; /proc/self/fd names ours */
			char p[64];

			snprintf(p, sizeof(p), "/proc/self/fd/%d", q->dir[s]);
			n = scandir(p, &names, NULL, alphasort);
		}
		for (i = 0; i < n; i++) {
			struct ent e;

			if (!stop && scan_name_ok(names[i]->d_name) &&
			    ent_read(q, (enum st)s, names[i]->d_name, &e) == 0) {
				stop = fn(arg, q, &e);
				entry_free(&e.env);
			}
			free(names[i]);
		}
		free(names);
		if (stop)
			return stop;
	}
	return 0;
}

/* age_text - "42s", "5m", "3h", "2d" */
static void age_text(long long secs, char *out, size_t n)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, n, "%llds", secs);
	else if (secs < 7200)
		snprintf(out, n, "%lldm", secs / 60);
	else if (secs < 172800)
		snprintf(out, n, "%lldh", secs / 3600);
	else
		snprintf(out, n, "%lldd", secs / 86400);
}

static cJSON *ent_json(const struct ent *e)
{
	cJSON *o = cJSON_CreateObject(), *r = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "state", st_name[e->st]);
	cJSON_AddNumberToObject(o, "time", (double)e->env.time);
	cJSON_AddNumberToObject(o, "age_seconds",
				(double)(time(NULL) - e->env.time));
	cJSON_AddNumberToObject(o, "size", (double)e->env.size);
	cJSON_AddStringToObject(o, "sender", e->env.sender);
	for (i = 0; i < e->env.nrcpts; i++)
		cJSON_AddItemToArray(r, cJSON_CreateString(e->env.rcpts[i]));
	cJSON_AddItemToObject(o, "recipients", r);
	cJSON_AddStringToObject(o, "client", e->env.client_ip);
	cJSON_AddStringToObject(o, "helo", e->env.helo);
	cJSON_AddNumberToObject(o, "attempts", e->attempts);
	if (e->why[0])
		cJSON_AddStringToObject(o, "error", e->why);
	else
		cJSON_AddNullToObject(o, "error");
	return o;
}

/* print_json - print and free */
static int print_json(cJSON *j)
{
	char *s = cJSON_Print(j);

	cJSON_Delete(j);
	if (!s) {
		fprintf(stderr, PROG ": out of memory\n");
		return EX_SOFTWARE_;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

struct listing {
	cJSON *arr;
	unsigned long n;
	long long bytes;
};

static int list_one(void *arg, const struct q *q, struct ent *e)
{
	struct listing *l = arg;
	char age[32], s[300];
	size_t i;

	(void)q;
	l->n++;
	l->bytes += e->env.size;
	if (json) {
		cJSON_AddItemToArray(l->arr, ent_json(e));
		return 0;
	}
	age_text((long long)time(NULL) - e->env.time, age, sizeof(age));
	util_printable(s, sizeof(s), e->env.sender, strlen(e->env.sender),
		       200);
	printf("%-60s %-8s %5s %9lld  <%s>\n", e->id, st_name[e->st], age,
	       e->env.size, s);
	for (i = 0; i < e->env.nrcpts; i++) {
		util_printable(s, sizeof(s), e->env.rcpts[i],
			       strlen(e->env.rcpts[i]), 200);
		printf("%61s <%s>\n", "", s);
	}
	if (e->why[0]) {
		util_printable(s, sizeof(s), e->why, strlen(e->why), 250);
		printf("%61s (%s%s%u)\n", "", s,
		       e->attempts ? ", attempts " : "",
		       e->attempts ? e->attempts : 0);
	}
	return 0;
}

static int cmd_list(const struct q *q)
{
	struct listing l = {NULL, 0, 0};

	if (json) {
		l.arr = cJSON_CreateArray();
		each(q, list_one, &l);
		return print_json(l.arr);
	}
	each(q, list_one, &l);
	if (l.n == 0)
		printf("spool is empty\n");
	else
		printf("-- %lld bytes in %lu entr%s\n", l.bytes, l.n,
		       l.n == 1 ? "y" : "ies");
	return 0;
}

/* utf8_ok - is p[0..n) well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF)? JSON strings must be. */
static int utf8_ok(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (i + need >= n)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* find - the state an entry id is in, or -1 */
static int find(const struct q *q, const char *id)
{
	struct stat sb;
	int s;

	if (!scan_name_ok(id))
		return -1;
	for (s = 0; s < S_N; s++)
		if (q->dir[s] >= 0 &&
		    fstatat(q->dir[s], id, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode))
			return s;
	return -1;
}

static int cmd_show(const struct q *q, const char *id)
{
	struct ent e;
	char buf[65536];
	off_t off;
	int s = find(q, id), fd;
	size_t i;

	if (s < 0 || ent_read(q, (enum st)s, id, &e) < 0) {
		fprintf(stderr, PROG ": %s: no such entry\n", id);
		return EX_NOINPUT_;
	}
	fd = openat(q->dir[s], id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", id, strerror(errno));
		entry_free(&e.env);
		return EX_TEMPFAIL_;
	}
	if (json) {
		cJSON *o = ent_json(&e);
		size_t len = (size_t)(e.fsize - (long long)e.env.data_off);
		char *msg = malloc(len + 1);
		ssize_t r;

		r = msg ? pread(fd, msg, len, (off_t)e.env.data_off) : -1;
		close(fd);
		if (r != (ssize_t)len) {
			free(msg);
			cJSON_Delete(o);
			entry_free(&e.env);
			fprintf(stderr, PROG ": %s: read failed\n", id);
			return EX_TEMPFAIL_;
		}
		msg[len] = '\0';
		cJSON_AddStringToObject(o, "protocol", e.env.protocol);
		cJSON_AddStringToObject(o, "tls", e.env.tls);
		cJSON_AddStringToObject(o, "body", e.env.body);
		cJSON_AddNumberToObject(o, "data_offset", (double)e.env.data_off);
		/* the message as text when it is UTF-8 without NUL, which
		 * JSON strings carry; else only where it is in the file */
		if (memchr(msg, 0, len) == NULL && utf8_ok(msg, len))
			cJSON_AddStringToObject(o, "message", msg);
		else
			cJSON_AddNullToObject(o, "message");
		free(msg);
		entry_free(&e.env);
		return print_json(o);
	}
	printf("queue id:  %s\nstate:     %s\narrived:   %lld (%s ago)\n",
	       e.id, st_name[e.st], e.env.time, "");
	printf("size:      %lld\nsender:    <%s>\n", e.env.size, e.env.sender);
	for (i = 0; i < e.env.nrcpts; i++)
		printf("recipient: <%s>\n", e.env.rcpts[i]);
	printf("client:    %s port %u\nhelo:      %s\nprotocol:  %s\n"
	       "tls:       %s\nbody:      %s\n",
	       e.env.client_ip, e.env.client_port, e.env.helo,
	       e.env.protocol, e.env.tls, e.env.body);
	if (e.attempts || e.why[0])
		printf("attempts:  %u\nerror:     %s\n", e.attempts, e.why);
	printf("\n");
	fflush(stdout);
	/* the message as stored: our Received header, then the client's */
	for (off = (off_t)e.env.received_off;;) {
		ssize_t r = pread(fd, buf, sizeof(buf), off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (util_write_all(1, buf, (size_t)r) < 0)
			break;
		off += r;
	}
	close(fd);
	entry_free(&e.env);
	return 0;
}

/* unlink_aux - the retry state, mbox journal and reason of id */
static void unlink_aux(const struct q *q, const char *id, int state_too)
{
	char n[300];

	snprintf(n, sizeof(n), "%s.reason", id);
	if (q->dir[S_FAILED] >= 0)
		unlinkat(q->dir[S_FAILED], n, 0);
	if (state_too && q->state >= 0) {
		unlinkat(q->state, id, 0);
		snprintf(n, sizeof(n), "%s.mbox", id);
		unlinkat(q->state, n, 0);
		snprintf(n, sizeof(n), "%s.pipe", id);
		unlinkat(q->state, n, 0);
	}
}

/* requeue_one - failed/ID back to new/, fresh */
static int requeue_one(const struct q *q, const char *id)
{
	if (!scan_name_ok(id) || q->dir[S_FAILED] < 0) {
		fprintf(stderr, PROG ": %s: not an entry name\n", id);
		return -1;
	}
	if (renameat2(q->dir[S_FAILED], id, q->dir[S_NEW], id,
		      RENAME_NOREPLACE) < 0) {
		int s = errno == ENOENT ? find(q, id) : -1;

		if (s >= 0)
			fprintf(stderr, PROG ": %s: %s, not failed\n", id,
				st_name[s]);
		else
			fprintf(stderr, PROG ": %s: %s\n", id,
				errno == ENOENT ? "no such entry"
						: strerror(errno));
		return -1;
	}
	/* the mbox journal stays: it keeps a redelivery from appending
	 * a copy twice */
	unlink_aux(q, id, 0);
	if (q->state >= 0)
		unlinkat(q->state, id, 0);
	fsync(q->dir[S_NEW]);
	printf("%s: requeued\n", id);
	return 0;
}

static int requeue_failed(void *arg, const struct q *q, struct ent *e)
{
	int *errors = arg;

	if (e->st == S_FAILED && requeue_one(q, e->id) < 0)
		(*errors)++;
	return 0;
}

static int cmd_requeue(const struct q *q, int argc, char **argv)
{
	int i, errors = 0;

	if (argc == 1 && !strcmp(argv[0], "--all-failed")) {
		each(q, requeue_failed, &errors);
		return errors ? EX_TEMPFAIL_ : 0;
	}
	if (argc == 0)
		usage();
	for (i = 0; i < argc; i++)
		if (requeue_one(q, argv[i]) < 0)
			errors++;
	return errors ? EX_DATAERR_ : 0;
}

static int cmd_flush(const struct q *q)
{
	struct dirent *de;
	unsigned long n = 0;
	DIR *d;

	if (q->dir[S_DEFER] < 0)
		return 0;
	d = scan_opendir(q->dir[S_DEFER]);
	if (!d) {
		fprintf(stderr, PROG ": defer/: %s\n", strerror(errno));
		return EX_TEMPFAIL_;
	}
	while ((de = readdir(d)) != NULL) {
		if (!scan_name_ok(de->d_name))
			continue;
		/* a claim by spoolerd meanwhile wins: ENOENT is fine */
		if (renameat2(q->dir[S_DEFER], de->d_name, q->dir[S_NEW],
			      de->d_name, RENAME_NOREPLACE) == 0)
			n++;
		else if (errno != ENOENT)
			fprintf(stderr, PROG ": %s: %s\n", de->d_name,
				strerror(errno));
	}
	closedir(d);
	fsync(q->dir[S_NEW]);
	printf("%lu deferred entr%s retried now\n", n, n == 1 ? "y" : "ies");
	return 0;
}

/* delete_one - claim as spoolerd claims, then remove */
static int delete_one(struct q *q, const char *id)
{
	char why[300];
	int s = find(q, id), fd;

	if (s < 0) {
		fprintf(stderr, PROG ": %s: no such entry\n", id);
		return -1;
	}
	if (q->dir[S_ACTIVE] < 0) {
		fprintf(stderr, PROG ": cur/ is missing\n");
		return -1;
	}
	fd = scan_claim(&q->sp, q->dir[s], id, why, sizeof(why));
	if (fd == SCAN_BAD) {
		/* not a regular file or unreadable: it is in cur/ now */
		fd = -1;
	} else if (fd < 0) {
		if (errno == EWOULDBLOCK)
			fprintf(stderr, PROG ": %s: being delivered now; "
				"not deleted (try again)\n", id);
		else
			fprintf(stderr, PROG ": %s: %s\n", id,
				errno == ENOENT ? "taken by spoolerd meanwhile"
						: strerror(errno));
		return -1;
	}
	if (unlinkat(q->dir[S_ACTIVE], id, 0) < 0) {
		fprintf(stderr, PROG ": %s: unlink: %s\n", id, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	unlink_aux(q, id, 1);
	fsync(q->dir[S_ACTIVE]);
	if (fd >= 0)
		close(fd);
	printf("%s: deleted\n", id);
	return 0;
}

static int cmd_delete(struct q *q, int argc, char **argv)
{
	int i, errors = 0;

	if (argc == 0)
		usage();
	for (i = 0; i < argc; i++)
		if (delete_one(q, argv[i]) < 0)
			errors++;
	return errors ? EX_DATAERR_ : 0;
}

/* ---- summary: qshape's age buckets by recipient domain ---- */

#define NB 11
static const long bucket_min[NB] = {0,   5,   10,   20,   40,  80,
				    160, 320, 640, 1280, 2560};
#define MAXDOM 64

struct shape {
	char dom[MAXDOM][128];
	unsigned long count[MAXDOM + 2][NB]; /* + "other" and TOTAL */
	size_t ndom;
	unsigned long states[S_N];
};

static int shape_one(void *arg, const struct q *q, struct ent *e)
{
	struct shape *sh = arg;
	long mins = (long)((time(NULL) - e->env.time) / 60);
	size_t i, k;
	int b;

	(void)q;
	sh->states[e->st]++;
	for (b = NB - 1; b > 0 && mins < bucket_min[b]; b--)
		;
	for (i = 0; i < e->env.nrcpts; i++) {
		const char *at = strrchr(e->env.rcpts[i], '@');
		char dom[128];

		snprintf(dom, sizeof(dom), "%s", at ? at + 1 : "(none)");
		for (k = 0; dom[k]; k++)
			if (dom[k] >= 'A' && dom[k] <= 'Z')
				dom[k] = (char)(dom[k] - 'A' + 'a');
		for (k = 0; k < sh->ndom; k++)
			if (!strcmp(sh->dom[k], dom))
				break;
		if (k == sh->ndom && sh->ndom < MAXDOM)
			memcpy(sh->dom[sh->ndom++], dom, sizeof(dom));
		sh->count[k < sh->ndom ? k : MAXDOM][b]++;
		sh->count[MAXDOM + 1][b]++;
	}
	return 0;
}

static unsigned long row_total(const unsigned long *r)
{
	unsigned long t = 0;
	int b;

	for (b = 0; b < NB; b++)
		t += r[b];
	return t;
}

static int cmd_summary(const struct q *q)
{
	struct shape *sh = calloc(1, sizeof(*sh));
	size_t k;
	int b, s;

	if (!sh) {
		fprintf(stderr, PROG ": out of memory\n");
		return EX_SOFTWARE_;
	}
	each(q, shape_one, sh);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *bk = cJSON_CreateArray(),
		      *st = cJSON_CreateObject(), *dm = cJSON_CreateObject(),
		      *tot = cJSON_CreateArray();

		for (b = 0; b < NB; b++)
			cJSON_AddItemToArray(bk,
					     cJSON_CreateNumber(bucket_min[b]));
		cJSON_AddItemToObject(o, "bucket_minutes", bk);
		for (s = 0; s < S_N; s++)
			cJSON_AddNumberToObject(st, st_name[s],
						(double)sh->states[s]);
		cJSON_AddItemToObject(o, "entries", st);
		for (k = 0; k <= sh->ndom; k++) {
			cJSON *r = cJSON_CreateArray();
			const char *name = k < sh->ndom ? sh->dom[k] : "(other)";
			size_t row = k < sh->ndom ? k : MAXDOM;

			if (k == sh->ndom && row_total(sh->count[MAXDOM]) == 0) {
				cJSON_Delete(r);
				break;
			}
			for (b = 0; b < NB; b++)
				cJSON_AddItemToArray(
					r, cJSON_CreateNumber(
						   (double)sh->count[row][b]));
			cJSON_AddItemToObject(dm, name, r);
		}
		cJSON_AddItemToObject(o, "recipients_by_domain", dm);
		for (b = 0; b < NB; b++)
			cJSON_AddItemToArray(
				tot, cJSON_CreateNumber(
					     (double)sh->count[MAXDOM + 1][b]));
		cJSON_AddItemToObject(o, "recipients_total", tot);
		free(sh);
		return print_json(o);
	}
	printf("%-32s %6s", "", "T");
	for (b = 0; b < NB; b++)
		printf(" %5s%ld", b == NB - 1 ? "+" : "", bucket_min[b]);
	printf("\n%-32s %6lu", "TOTAL", row_total(sh->count[MAXDOM + 1]));
	for (b = 0; b < NB; b++)
		printf(" %6lu", sh->count[MAXDOM + 1][b]);
	printf("\n");
	for (k = 0; k <= sh->ndom; k++) {
		size_t row = k < sh->ndom ? k : MAXDOM;

		if (k == sh->ndom && row_total(sh->count[MAXDOM]) == 0)
			break;
		printf("%-32.32s %6lu", k < sh->ndom ? sh->dom[k] : "(other)",
		       row_total(sh->count[row]));
		for (b = 0; b < NB; b++)
			printf(" %6lu", sh->count[row][b]);
		printf("\n");
	}
	printf("entries:");
	for (s = 0; s < S_N; s++)
		printf(" %s %lu", st_name[s], sh->states[s]);
	printf(" (recipients by age in minutes; T = total)\n");
	free(sh);
	return 0;
}

/* ---- hash-password ---- */

int main(int argc, char **argv)
{
	const char *path = CFG_DEFAULT_PATH, *cmd;
	struct cfg *cfg;
	struct q q;
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf(PROG " " SMTPD_VERSION "\n");
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	cmd = argv[i++];
	if (!strcmp(cmd, "hash-password"))
		return i == argc ? pwhash_main(PROG) : (usage(), 0);
	/* the session's view of the file: spool_dir, no secrets needed */
	cfg = cfg_load_file_as(path, CFG_SESSION, cfg_diag_stderr, PROG);
	if (!cfg)
		return EX_CONFIG_;
	if (q_open(&q, cfg->spool_dir) < 0) {
		cfg_free(cfg);
		return EX_NOINPUT_;
	}
	cfg_free(cfg);
	if (!strcmp(cmd, "list") && i == argc)
		rc = cmd_list(&q);
	else if (!strcmp(cmd, "show") && i + 1 == argc)
		rc = cmd_show(&q, argv[i]);
	else if (!strcmp(cmd, "requeue"))
		rc = cmd_requeue(&q, argc - i, argv + i);
	else if (!strcmp(cmd, "flush") && i == argc)
		rc = cmd_flush(&q);
	else if (!strcmp(cmd, "delete"))
		rc = cmd_delete(&q, argc - i, argv + i);
	else if (!strcmp(cmd, "summary") && i == argc)
		rc = cmd_summary(&q);
	else
		usage();
	return rc;
}
