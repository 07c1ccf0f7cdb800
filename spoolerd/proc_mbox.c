/*
 * proc_mbox.c - Mbox: append one copy per recipient to the mbox file that
 * mbox_path names ("/var/mail/{domain}/{user}").
 *
 * Format: mboxrd. A "From sender date" line (the date is the entry's
 * queue time, so every attempt writes the same bytes), the delivery
 * headers, our Received header and the message with CRLF turned into LF
 * and every line matching ^>*From  given one more '>', then a blank line.
 *
 * Locking: an fcntl write lock on the whole file (open file description
 * locks, so two worker threads exclude each other too; they conflict with
 * the POSIX locks of mutt and procmail). A failed append is truncated
 * back, so the mbox is never left with half a message.
 *
 * Idempotency: before writing, "mbox R<i> <offset>\n" is appended to the
 * entry's journal state/<name>.mbox and fsync'd. A redelivery that finds
 * a journal line for the recipient compares the mbox at that offset with
 * the bytes it would write: all there, the copy is delivered; a prefix at
 * the end of the file (killed mid-write), truncated and written again;
 * anything else, appended as usual. The journal read and the journal fd
 * are the per-message state (struct mbox_msg), closed with the message.
 */
#include "log.h"
#include "mbox.h"
#include "path.h"
#include "processor.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT_MS 10000

void sink_init(struct sink *s, int fd, int compare, off_t off)
{
	s->fd = fd;
	s->compare = compare;
	s->off = off;
	s->mismatch = s->past_end = s->err = 0;
	s->last[0] = s->last[1] = '\n';
	s->len = 0;
}

int sink_flush(struct sink *s)
{
	if (s->len == 0 || s->err)
		goto done;
	if (!s->compare) {
		if (util_write_all(s->fd, s->buf, s->len) < 0)
			s->err = errno ? errno : EIO;
	} else if (!s->mismatch && !s->past_end) {
		char *cmp = s->cmp;
		size_t got = 0;

		while (got < s->len) {
			ssize_t r = pread(s->fd, cmp + got, s->len - got,
					  s->off + (off_t)got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				s->err = errno;
				break;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (memcmp(cmp, s->buf, got))
			s->mismatch = 1;
		else if (got < s->len)
			s->past_end = 1;
	}
	s->off += (off_t)s->len;
done:
	s->len = 0;
	return s->err ? -1 : 0;
}

void sink_put(struct sink *s, const char *p, size_t n)
{
	if (n >= 2) {
		s->last[0] = p[n - 2];
		s->last[1] = p[n - 1];
	} else if (n == 1) {
		s->last[0] = s->last[1];
		s->last[1] = p[0];
	}
	while (n) {
		size_t room = sizeof(s->buf) - s->len;
		size_t k = n < room ? n : room;

		memcpy(s->buf + s->len, p, k);
		s->len += k;
		p += k;
		n -= k;
		if (s->len == sizeof(s->buf))
			sink_flush(s);
	}
}

void mbq_init(struct mbq *q)
{
	memset(q, 0, sizeof(*q));
	q->bol = 1;
}

/* held - put back what a line start candidate held: '>'s, "From"[0..np) */
static void held(struct mbq *q, struct sink *s)
{
	static const char gts[] = ">>>>>>>>>>>>>>>>";

	while (q->gts) {
		size_t k = q->gts < 16 ? q->gts : 16;

		sink_put(s, gts, k);
		q->gts -= k;
	}
	sink_put(s, "From ", q->np);
	q->np = 0;
}

/* line_byte - one byte after CRLF folding */
static void line_byte(struct mbq *q, struct sink *s, char c)
{
	if (!q->bol) {
		sink_put(s, &c, 1);
		if (c == '\n')
			q->bol = 1;
		return;
	}
	if (c == '>' && q->np == 0) {
		q->gts++;
		return;
	}
	if (c == "From "[q->np]) {
		if (++q->np == 5) {
			sink_put(s, ">", 1);
			held(q, s);
			q->bol = 0;
		}
		return;
	}
	held(q, s);
	sink_put(s, &c, 1);
	q->bol = c == '\n';
}

void mbq_feed(struct mbq *q, struct sink *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (q->cr) {
			q->cr = 0;
			if (c == '\n') {
				line_byte(q, s, '\n');
				continue;
			}
			line_byte(q, s, '\r');
		}
		if (c == '\r') {
			q->cr = 1;
			continue;
		}
		line_byte(q, s, c);
	}
}

void mbq_finish(struct mbq *q, struct sink *s)
{
	if (q->cr) {
		q->cr = 0;
		line_byte(q, s, '\r');
	}
	if (q->bol)
		held(q, s);
	if (s->last[1] != '\n')
		sink_put(s, "\n", 1);
	sink_put(s, "\n", 1);
	q->bol = 1;
}

struct mbox {
	const char *tmpl;
	const char *dflt_domain;
	struct sink sink;
	char cmp[sizeof(((struct sink *)0)->buf)];
	char rbuf[65536];
};

static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct mbox *mb;
	const char *why;

	if (path_check_template(cfg->backend.mbox_path, &why) < 0) {
		snprintf(err, n, "backend_config.mbox_path: %s", why);
		return -1;
	}
	mb = calloc(1, sizeof(*mb));
	if (!mb) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	mb->tmpl = cfg->backend.mbox_path;
	mb->dflt_domain = cfg->backend.primary_mail_host;
	mb->sink.cmp = mb->cmp;
	*state = mb;
	return 0;
}

static void fini(void *state)
{
	free(state);
}

/* emit - the whole copy for recipient i into s; sep is the separator
 * the existing file needs first ("", "\n" or "\n\n") */
static int emit(struct mbox *mb, struct msg *m, size_t i, struct sink *s,
                const char *sep)
{
	char *buf = mb->rbuf;
	char from[1100], date[64];
	const char *head = msg_head(m, i);
	time_t t = (time_t)m->env.time;
	off_t off = (off_t)m->env.received_off;
	struct mbq q;
	struct tm tm;
	size_t k;

	if (!head)
		return -1;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(from, sizeof(from), "From %s %s\n",
		 m->env.sender[0] ? m->env.sender : "MAILER-DAEMON", date);
	/* a space would end the address in a From_ line */
	for (k = 5; k < strlen(from) - strlen(date) - 2; k++)
		if (from[k] == ' ' || from[k] == '\t')
			from[k] = '_';
	sink_put(s, sep, strlen(sep));
	sink_put(s, from, strlen(from));
	mbq_init(&q);
	mbq_feed(&q, s, head, strlen(head));
	while (off < m->file_size) {
		size_t want = m->file_size - off > (off_t)sizeof(mb->rbuf)
				      ? sizeof(mb->rbuf)
				      : (size_t)(m->file_size - off);
		ssize_t r = pread(m->fd, buf, want, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			s->err = r < 0 ? errno : EIO;
			return -1;
		}
		mbq_feed(&q, s, buf, (size_t)r);
		off += r;
		if (s->compare && (s->mismatch || s->past_end))
			break;
	}
	mbq_finish(&q, s);
	return sink_flush(s);
}

/* mbox_msg - per-message state: the journal as read at the start of a
 * redelivery (or NULL), and the journal open for appends (-1 until the
 * first) */
struct mbox_msg {
	char *journal;
	int jfd;
};

static void *mstate_new(struct msg *m)
{
	struct mbox_msg *j = calloc(1, sizeof(*j));

	(void)m;
	if (j)
		j->jfd = -1;
	return j;
}

static void mstate_free(void *p)
{
	struct mbox_msg *j = p;

	free(j->journal);
	if (j->jfd >= 0)
		close(j->jfd);
	free(j);
}

/* journal_offset - the last journalled offset for recipient i, or -1 */
static long long journal_offset(struct msg *m, size_t i)
{
	struct mbox_msg *j = msg_state(m, &proc_mbox);
	char key[64];
	const char *p;
	long long found = -1;
	size_t kl;

	if (!j || !j->journal)
		return -1;
	kl = (size_t)snprintf(key, sizeof(key), "mbox R%zu ", i);
	for (p = j->journal; *p;) {
		const char *eol = strchr(p, '\n');
		unsigned long v;

		if (!eol)
			break; /* torn last line: nothing was written */
		if ((size_t)(eol - p) > kl && !memcmp(p, key, kl) &&
		    util_parse_ulong(p + kl, (size_t)(eol - p) - kl,
				     1UL << 62, &v) == 0)
			found = (long long)v;
		p = eol + 1;
	}
	return found;
}

/* journal_load - read state/<name>.mbox once, on a redelivery */
static void journal_load(struct msg *m)
{
	struct mbox_msg *j = msg_state(m, &proc_mbox);
	char jn[300];
	struct stat st;
	int fd;

	if (!j || j->journal || m->statefd < 0)
		return;
	snprintf(jn, sizeof(jn), "%s.mbox", m->name);
	fd = openat(m->statefd, jn, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size < 1024 * 1024) {
		j->journal = calloc(1, (size_t)st.st_size + 1);
		if (j->journal &&
		    pread(fd, j->journal, (size_t)st.st_size, 0) < 0) {
			free(j->journal);
			j->journal = NULL;
		}
	}
	close(fd);
}

/* journal_add - durably note the offset before writing there */
static int journal_add(struct msg *m, size_t i, off_t off)
{
	struct mbox_msg *j = msg_state(m, &proc_mbox);
	char line[64], jn[300];
	int n;

	if (m->statefd < 0)
		return 0;
	if (!j) {
		errno = ENOMEM;
		return -1;
	}
	if (j->jfd < 0) {
		snprintf(jn, sizeof(jn), "%s.mbox", m->name);
		j->jfd = openat(m->statefd, jn,
				O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
					O_CLOEXEC,
				0600);
		if (j->jfd < 0 || fsync(m->statefd) < 0)
			return -1;
	}
	n = snprintf(line, sizeof(line), "mbox R%zu %lld\n", i,
		     (long long)off);
	if (util_write_all(j->jfd, line, (size_t)n) < 0 || fsync(j->jfd) < 0)
		return -1;
	return 0;
}

/* The tail mark: user.spoolerd.tail on the mbox holds the offset an
 * append started at, from before its first byte until after its fsync.
 * Whoever takes the lock next and finds it cuts the file back there: a
 * delivery killed mid-append leaves no torn copy for another entry's copy
 * to land behind (its own redelivery then writes it whole, once). Where
 * the file system has no user xattrs this is skipped, and only a torn
 * copy at the very end can be cut. */
#define TAIL_XATTR "user.spoolerd.tail"

/* tail_cut - a torn append left by a crash: cut it; 0, or -1 */
static int tail_cut(int fd, const char *qid, const char *path)
{
	char v[32];
	ssize_t n = fgetxattr(fd, TAIL_XATTR, v, sizeof(v) - 1);
	unsigned long off;

	if (n <= 0)
		return 0; /* none (ENODATA), or no xattrs here */
	v[n] = '\0';
	if (util_parse_ulong(v, (size_t)n, 1UL << 62, &off) < 0)
		return fremovexattr(fd, TAIL_XATTR);
	log_warnx("%s mbox %s: cut a torn append at %lu", qid, path, off);
	if (ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0)
		return -1;
	return fremovexattr(fd, TAIL_XATTR);
}

/* tail_mark - note (or with off < 0, drop) an append in progress */
static int tail_mark(int fd, long long off)
{
	char v[32];
	int n;

	if (off < 0)
		return fremovexattr(fd, TAIL_XATTR) < 0 && errno != ENODATA &&
				       errno != ENOTSUP
			       ? -1
			       : 0;
	n = snprintf(v, sizeof(v), "%lld", off);
	if (fsetxattr(fd, TAIL_XATTR, v, (size_t)n, 0) < 0)
		return errno == ENOTSUP ? 0 : -1;
	return fsync(fd);
}

/* lock_file - OFD write lock on the whole file, waiting a bounded time */
static int lock_file(int fd)
{
	struct flock fl;
	int waited = 0;

	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if ((errno != EAGAIN && errno != EACCES) ||
		    waited >= LOCK_WAIT_MS)
			return -1;
		usleep(20000);
		waited += 20;
	}
}

/* separator - what the file needs before a new From_ line */
static const char *separator(int fd, off_t size)
{
	char t[2];

	if (size == 0)
		return "";
	if (size == 1) {
		if (pread(fd, t + 1, 1, 0) != 1)
			return "\n\n";
		return t[1] == '\n' ? "\n" : "\n\n";
	}
	if (pread(fd, t, 2, size - 2) != 2)
		return "\n\n";
	if (t[1] != '\n')
		return "\n\n";
	return t[0] == '\n' ? "" : "\n";
}

static enum proc_res deliver_one(struct mbox *mb, struct msg *m, size_t i,
                                 char *why, size_t n)
{
	struct sink *s = &mb->sink;
	char path[4096], dir[4096];
	const char *pwhy;
	struct stat st;
	long long joff;
	off_t start;
	char *slash;
	const char *base;
	size_t fixed;
	int fd, dfd;

	if (path_expand(mb->tmpl, m->env.rcpts[i], mb->dflt_domain, path,
			sizeof(path), &pwhy) < 0) {
		snprintf(why, n, "Mbox: <%.100s>: %s", m->env.rcpts[i], pwhy);
		return PROC_PERM;
	}
	/* the directory walked without symlinks below the template's
	 * fixed part, the file opened beneath it with O_NOFOLLOW */
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	fixed = path_fixed_len(mb->tmpl);
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		if (fixed > (size_t)(slash - dir))
			fixed = (size_t)(slash - dir);
		dfd = path_walk(slash == dir ? "/" : dir, slash == dir ? 1 : fixed,
				1);
	} else {
		base = dir;
		dfd = path_walk(".", 1, 0);
	}
	if (dfd < 0) {
		/* a symlink (ELOOP) is refused like a directory in the
		 * mbox's place: temporary, an admin may remove it */
		snprintf(why, n, "Mbox: %.200s: %s", dir, strerror(errno));
		return PROC_TEMP;
	}
	fd = openat(dfd, base, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	close(dfd);
	if (fd < 0) {
		snprintf(why, n, "Mbox: %.200s: %s", path, strerror(errno));
		return PROC_TEMP;
	}
	if (lock_file(fd) < 0) {
		snprintf(why, n, "Mbox: %.200s: lock: %s", path,
			 strerror(errno));
		close(fd);
		return PROC_TEMP;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, n, "Mbox: %.200s: not a regular file", path);
		close(fd);
		return PROC_TEMP;
	}
	if (tail_cut(fd, m->env.queue_id, path) < 0 || fstat(fd, &st) < 0) {
		snprintf(why, n, "Mbox: %.200s: torn append: %s", path,
			 strerror(errno));
		close(fd);
		return PROC_TEMP;
	}
	start = st.st_size;
	if (m->redelivery) {
		journal_load(m);
		joff = journal_offset(m, i);
		if (joff >= 0 && joff < (long long)st.st_size) {
			sink_init(s, fd, 1, (off_t)joff);
			emit(mb, m, i, s, separator(fd, (off_t)joff));
			if (!s->err && !s->mismatch && !s->past_end) {
				close(fd); /* all there: delivered before */
				msg_dest(m, i, "%s", path);
				return PROC_OK;
			}
			if (!s->err && !s->mismatch && s->past_end &&
			    s->off >= st.st_size) {
				/* our own torn append at the end */
				log_warnx("%s mbox %s: cut a partial copy at "
					  "%lld",
					  m->env.queue_id, path, joff);
				start = (off_t)joff;
			}
		}
	}
	if (journal_add(m, i, start) < 0) {
		snprintf(why, n, "Mbox: journal: %s", strerror(errno));
		close(fd);
		return PROC_TEMP;
	}
	sink_init(s, fd, 0, start);
	if (tail_mark(fd, (long long)start) < 0 ||
	    lseek(fd, start, SEEK_SET) < 0 || ftruncate(fd, start) < 0 ||
	    emit(mb, m, i, s, separator(fd, start)) < 0 || fsync(fd) < 0) {
		int e = s->err ? s->err : errno;

		/* never leave half a message: cut back to where we began */
		if (ftruncate(fd, start) < 0 || fsync(fd) < 0)
			log_error("%s mbox %s: cannot truncate back to %lld: "
				  "%s",
				  m->env.queue_id, path, (long long)start,
				  strerror(errno));
		snprintf(why, n, "Mbox: %.200s: write: %s", path, strerror(e));
		tail_mark(fd, -1);
		close(fd);
		return PROC_TEMP;
	}
	/* a crash from here to the settle redelivers: the cut of a whole
	 * copy then is followed by writing it again, once */
	tail_mark(fd, -1);
	close(fd);
	msg_dest(m, i, "%s", path);
	return PROC_OK;
}

static enum proc_res deliver(void *state, struct msg *m, char *why, size_t n)
{
	enum proc_res worst = PROC_OK;
	size_t i;

	if (!msg_state(m, &proc_mbox)) {
		snprintf(why, n, "Mbox: out of memory");
		return PROC_TEMP;
	}
	for (i = 0; i < m->env.nrcpts; i++) {
		char w[512];
		enum proc_res r = deliver_one(state, m, i, w, sizeof(w));

		if (r > worst || (r != PROC_OK && worst == PROC_OK)) {
			worst = r > worst ? r : worst;
			snprintf(why, n, "%s", w);
		}
	}
	return worst;
}

const struct proc_ops proc_mbox = {
	.name = "Mbox",
	.available = 1,
	.stores = 1,
	.init = init,
	.deliver = deliver,
	.fini = fini,
	.mstate_new = mstate_new,
	.mstate_free = mstate_free,
};
