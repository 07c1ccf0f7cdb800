/*
 * spool.c - the session's durable write, the exact sequence of README.md
 * "The spool":
 *
 *   statvfs (refuse before 354 when short of space)
 *   openat(tmp, O_TMPFILE) ; envelope ; data ...
 *   pwrite the size ; fsync(fd) ; linkat(fd, new/ID) ; close ; fsync(new)
 *
 * and only then 250; the file has no name at all until it is complete
 * and on disk, so a session killed at any point leaves nothing behind.
 * Where the file system has no O_TMPFILE the named sequence is used:
 *   openat(tmp, ID, O_CREAT|O_EXCL|O_NOFOLLOW) ; ... ; fsync ; close
 *   renameat2(tmp, ID, new, ID, RENAME_NOREPLACE) ; fsync(new)
 * Both are publish_open and publish_commit (common/publish.c, shared
 * with spoolerd's writers). Any failure unlinks what exists, so a file
 * in new/ is always complete.
 *
 * The queue id (also the file name) holds time, microseconds, pid and a
 * per-session counter, so concurrent sessions never collide, and 128
 * random bits, so no other session can guess it (all sessions share one
 * uid: a name is the only key to an entry, see sandbox.c); O_EXCL, or
 * on the unnamed path linkat's EEXIST, turns a collision into a failure
 * (a retry when creating), never an overwrite.
 */
#include "spool.h"
#include "publish.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

void spool_init(struct spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->tmpfd = sp->newfd = sp->fd = -1;
}

int spool_open_dirs(struct spool *sp, const char *dir)
{
	int d;

	if (sp->tmpfd >= 0 && sp->newfd >= 0)
		return 0;
	/* O_PATH: sessions may search the spool and tmp/ but not read
	 * them; only new/ must be readable, for its fsync (sandbox.c) */
	d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -1;
	if (sp->tmpfd < 0)
		sp->tmpfd = openat(d, "tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sp->newfd < 0)
		sp->newfd = openat(d, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(d);
	if (sp->tmpfd < 0 || sp->newfd < 0) {
		int e = errno;

		if (sp->tmpfd >= 0)
			close(sp->tmpfd);
		if (sp->newfd >= 0)
			close(sp->newfd);
		sp->tmpfd = sp->newfd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

int spool_space_ok(struct spool *sp, long long need, long long min_free)
{
	struct statvfs vfs;
	long long avail;

	if (fstatvfs(sp->tmpfd, &vfs) < 0)
		return -1;
	avail = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
	if (avail < need + min_free)
		return 0;
	if (vfs.f_files > 0 && vfs.f_favail < 16)
		return 0;
	return 1;
}

static int flush_wbuf(struct spool *sp)
{
	if (sp->wlen && util_write_all(sp->fd, sp->wbuf, sp->wlen) < 0) {
		sp->err = errno;
		sp->wlen = 0;
		return -1;
	}
	sp->wlen = 0;
	return 0;
}

int spool_begin(struct spool *sp, struct envelope *env)
{
	struct buf b = {NULL, 0, 0, ENTRY_MAX_ENVELOPE};
	struct timeval tv;
	unsigned char rnd[ENTRY_ID_RANDOM];
	int tries;

	sp->err = 0;
	sp->wlen = 0;
	if (!sp->wbuf) {
		sp->wbuf = malloc(SPOOL_WBUF);
		if (!sp->wbuf)
			return -1;
	}
	for (tries = 0; tries < 5; tries++) {
		gettimeofday(&tv, NULL);
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		entry_make_id(sp->id, sizeof(sp->id), (long long)tv.tv_sec,
			      (long)tv.tv_usec, (long)getpid(), ++sp->counter,
			      rnd);
		sp->tmpname = sp->id;
		sp->fd = publish_open(sp->tmpfd, &sp->tmpname, 0640, 0);
		if (sp->fd >= 0 || errno != EEXIST)
			break;
	}
	if (sp->fd < 0)
		return -1;
	env->queue_id = sp->id;
	env->time = (long long)tv.tv_sec;
	if (entry_format(&b, env) < 0) {
		buf_free(&b);
		spool_abort(sp);
		errno = EINVAL;
		return -1;
	}
	sp->size_off = env->size_off;
	sp->doff_off = env->doff_off;
	sp->data_off = env->data_off;
	sp->started = sp->shifted = 0;
	if (util_write_all(sp->fd, b.p, b.len) < 0) {
		int e = errno;

		buf_free(&b);
		spool_abort(sp);
		errno = e;
		return -1;
	}
	buf_free(&b);
	return 0;
}

int spool_write(struct spool *sp, const char *p, size_t n)
{
	if (sp->err)
		return -1;
	if (!sp->started && n) {
		sp->started = 1;
		if (p[0] == ' ' || p[0] == '\t') {
			/* it would continue our Received header: end that
			 * first (entry.c) */
			memcpy(sp->wbuf, "\r\n", 2);
			sp->wlen = 2;
			sp->shifted = 1;
		}
	}
	if (sp->wlen + n > SPOOL_WBUF) {
		if (flush_wbuf(sp) < 0)
			return -1;
		if (n >= SPOOL_WBUF) {
			if (util_write_all(sp->fd, p, n) < 0) {
				sp->err = errno;
				return -1;
			}
			return 0;
		}
	}
	memcpy(sp->wbuf + sp->wlen, p, n);
	sp->wlen += n;
	return 0;
}

int spool_commit(struct spool *sp, long long size)
{
	char digits[ENTRY_SIZE_WIDTH + 1], odigits[ENTRY_OFFSET_WIDTH + 1];
	int fd = sp->fd;

	if (sp->err || flush_wbuf(sp) < 0)
		goto fail;
	entry_size_digits(digits, size);
	if (pwrite(fd, digits, ENTRY_SIZE_WIDTH, (off_t)sp->size_off) !=
	    ENTRY_SIZE_WIDTH) {
		sp->err = errno ? errno : EIO;
		goto fail;
	}
	if (sp->shifted &&
	    (entry_offset_digits(odigits, sp->data_off + 2) < 0 ||
	     pwrite(fd, odigits, ENTRY_OFFSET_WIDTH, (off_t)sp->doff_off) !=
		     ENTRY_OFFSET_WIDTH)) {
		sp->err = errno ? errno : EIO;
		goto fail;
	}
	sp->fd = -1;
	if (publish_commit(fd, sp->tmpfd, sp->tmpname, sp->newfd, sp->id, 0) <
	    0) {
		sp->err = errno;
		return -1;
	}
	return 0;
fail:
	sp->fd = -1;
	publish_abort(fd, sp->tmpfd, sp->tmpname);
	errno = sp->err;
	return -1;
}

void spool_abort(struct spool *sp)
{
	if (sp->fd >= 0) {
		publish_abort(sp->fd, sp->tmpfd, sp->tmpname);
		sp->fd = -1;
	}
	sp->wlen = 0;
}

void spool_close_dirs(struct spool *sp)
{
	if (sp->tmpfd >= 0)
		close(sp->tmpfd);
	if (sp->newfd >= 0)
		close(sp->newfd);
	sp->tmpfd = sp->newfd = -1;
}

void spool_close(struct spool *sp)
{
	spool_abort(sp);
	spool_close_dirs(sp);
	free(sp->wbuf);
	spool_init(sp);
}
