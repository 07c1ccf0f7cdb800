/*
 * proc_maildir.c - Maildir: one copy per recipient into the maildir that
 * maildir_path names ("/var/mail/{domain}/{user}/Maildir"), created on
 * demand.
 *
 * The write repeats the spool's durable sequence in the target, with the
 * same code (common/publish.c): an unnamed file in tmp/ (O_TMPFILE),
 * write, fsync, linkat to new/NAME, close, fsync(new/); where the file
 * system has no O_TMPFILE, tmp/NAME, write, fsync, close,
 * renameat2(tmp/NAME, new/NAME, RENAME_NOREPLACE) or link, fsync(new/),
 * and only then the tmp name goes. NAME is not random: it is
 * "<queue id>.R<recipient index>.<host of the session>", the same on every
 * attempt of one entry, so a redelivery after a crash or a retry finds
 * new/NAME (EEXIST) and counts it as delivered instead of storing a
 * duplicate. After a redelivery a reader may already have moved the
 * message to cur/NAME:2,FLAGS; that is checked too (only on redelivery,
 * the scan of cur/ costs). XXX a message the reader already deleted is
 * delivered again: only a journal of deleted names could tell.
 */
#include "path.h"
#include "processor.h"
#include "publish.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct maildir {
	const char *tmpl;
	const char *dflt_domain;
	int crlf; /* maildir_crlf: keep the wire's CRLF */
};

static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	struct maildir *md;
	const char *why;

	if (path_check_template(cfg->backend.maildir_path, &why) < 0) {
		snprintf(err, n, "backend_config.maildir_path: %s", why);
		return -1;
	}
	md = calloc(1, sizeof(*md));
	if (!md) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	md->tmpl = cfg->backend.maildir_path;
	md->dflt_domain = cfg->backend.primary_mail_host;
	md->crlf = cfg->backend.maildir_crlf;
	*state = md;
	return 0;
}

static void fini(void *state)
{
	free(state);
}

/* open_maildir - tmp/ and new/ of the maildir dir, made when missing;
 * no symlink is followed below the template's fixed part */
static int open_maildir(const char *dir, size_t fixed, int *tmpfd,
                        int *newfd)
{
	int d;

	d = path_walk(dir, fixed, 1);
	if (d < 0)
		return -1;
	*tmpfd = openat(d, "tmp",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	*newfd = openat(d, "new",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*tmpfd < 0 || *newfd < 0) {
		if (*tmpfd >= 0)
			close(*tmpfd);
		if (*newfd >= 0)
			close(*newfd);
		if ((mkdirat(d, "tmp", 0700) < 0 && errno != EEXIST) ||
		    (mkdirat(d, "new", 0700) < 0 && errno != EEXIST) ||
		    (mkdirat(d, "cur", 0700) < 0 && errno != EEXIST)) {
			int e = errno;

			close(d);
			errno = e;
			return -1;
		}
		*tmpfd = openat(d, "tmp", O_RDONLY | O_DIRECTORY |
						  O_NOFOLLOW | O_CLOEXEC);
		*newfd = openat(d, "new", O_RDONLY | O_DIRECTORY |
						  O_NOFOLLOW | O_CLOEXEC);
		/* make the new maildir's own entry durable */
		fsync(d);
	}
	close(d);
	if (*tmpfd < 0 || *newfd < 0) {
		int e = errno;

		if (*tmpfd >= 0)
			close(*tmpfd);
		if (*newfd >= 0)
			close(*newfd);
		errno = e;
		return -1;
	}
	return 0;
}

/* in_cur - has a reader moved NAME to cur/ (NAME or NAME:2,...)? */
static int in_cur(const char *dir, const char *name)
{
	char p[4200];
	size_t nl = strlen(name);
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (snprintf(p, sizeof(p), "%s/cur", dir) >= (int)sizeof(p))
		return 0;
	d = opendir(p);
	if (!d)
		return 0;
	for (de = readdir(d); de && !found; de = readdir(d))
		found = !strncmp(de->d_name, name, nl) &&
			(de->d_name[nl] == '\0' || de->d_name[nl] == ':');
	closedir(d);
	return found;
}

/* maildir_name - the idempotency key as a file name */
static int maildir_name(const struct msg *m, size_t i, char *out, size_t n)
{
	char host[PATH_COMPONENT_MAX + 1];
	const char *q;

	for (q = m->env.queue_id; *q; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= '0' && *q <= '9') || *q == '.'))
			return -1;
	if (path_component(m->env.host, strlen(m->env.host), host,
			   sizeof(host)) < 0)
		memcpy(host, "localhost", 10);
	if (snprintf(out, n, "%s.R%zu.%.100s", m->env.queue_id, i, host) >=
	    (int)n)
		return -1;
	return 0;
}

/* deliver_one - OK, TEMP or PERM for recipient i */
static enum proc_res deliver_one(struct maildir *md, struct msg *m, size_t i,
                                 char *why, size_t n)
{
	char dir[4096], name[256];
	const char *head, *pwhy;
	struct stat st;
	const char *tmpname = name; /* NULL: publish_open made it unnamed */
	int tmpfd, newfd, fd;
	enum proc_res res = PROC_TEMP;

	if (path_expand(md->tmpl, m->env.rcpts[i], md->dflt_domain, dir,
			sizeof(dir), &pwhy) < 0) {
		snprintf(why, n, "Maildir: <%.100s>: %s", m->env.rcpts[i],
			 pwhy);
		return PROC_PERM;
	}
	if (maildir_name(m, i, name, sizeof(name)) < 0) {
		snprintf(why, n, "Maildir: queue id not usable as a name");
		return PROC_PERM;
	}
	if (open_maildir(dir, path_fixed_len(md->tmpl), &tmpfd, &newfd) < 0) {
		snprintf(why, n, "Maildir: %.200s: %s", dir, strerror(errno));
		return PROC_TEMP;
	}
	if (fstatat(newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    (m->redelivery && in_cur(dir, name))) {
		res = PROC_OK; /* delivered by an earlier attempt */
		goto out;
	}
	head = msg_head(m, i);
	if (!head) {
		snprintf(why, n, "Maildir: out of memory");
		goto out;
	}
	fd = publish_open(tmpfd, &tmpname, 0600, PUBLISH_STALE);
	if (fd < 0) {
		snprintf(why, n, "Maildir: %.200s/tmp: %s", dir,
			 strerror(errno));
		goto out;
	}
	/* unnamed: a crashed attempt on the named path (an older spoolerd,
	 * another file system) may have left tmp/NAME */
	if (!tmpname && m->redelivery)
		(void)unlinkat(tmpfd, name, 0);
	/* a BINARYMIME body is octets, not lines: never rewritten */
	if (md->crlf || (m->env.body && !strcmp(m->env.body, "BINARYMIME")) ?
		    (util_write_all(fd, head, strlen(head)) < 0 ||
		     io_copy_range(m->fd, (off_t)m->env.received_off,
				   m->file_size - (off_t)m->env.received_off,
				   fd) < 0) :
		    (util_write_lf(fd, head, strlen(head)) < 0 ||
		     io_copy_lf(m->fd, (off_t)m->env.received_off,
				m->file_size - (off_t)m->env.received_off,
				fd) < 0)) {
		snprintf(why, n, "Maildir: %.200s/tmp: write: %s", dir,
			 strerror(errno));
		publish_abort(fd, tmpfd, tmpname);
		goto out;
	}
	if (publish_commit(fd, tmpfd, tmpname, newfd, name, 0) < 0) {
		if (errno != EEXIST) {
			snprintf(why, n, "Maildir: %.200s: publish: %s", dir,
				 strerror(errno));
			goto out;
		}
		/* an earlier attempt stored it; its name may not have
		 * reached the disk before that attempt ended */
		if (fsync(newfd) < 0) {
			snprintf(why, n, "Maildir: %.200s/new: fsync: %s",
				 dir, strerror(errno));
			goto out;
		}
	}
	res = PROC_OK;
out:
	if (res == PROC_OK)
		msg_dest(m, i, "%s", dir);
	close(tmpfd);
	close(newfd);
	return res;
}

static enum proc_res deliver(void *state, struct msg *m, char *why, size_t n)
{
	enum proc_res worst = PROC_OK;
	size_t i;

	/* every recipient is tried; the entry's outcome is the worst one */
	for (i = 0; i < m->env.nrcpts; i++) {
		char w[512];
		enum proc_res r = deliver_one(state, m, i, w, sizeof(w));

		if (r > worst) {
			worst = r;
			snprintf(why, n, "%s", w);
		} else if (r != PROC_OK && worst == PROC_OK) {
			snprintf(why, n, "%s", w);
		}
	}
	return worst;
}

const struct proc_ops proc_maildir = {"Maildir", 1, 1, init, deliver, fini, NULL, NULL};
