/*
 * scan.c - find spool entries and claim them.
 *
 * Layout under spool_dir (the session writes tmp/ and new/):
 *   tmp/     being written by a session (unnamed, O_TMPFILE, where the
 *            file system can: nothing to see); never read here, old
 *            files swept
 *   new/     complete entries, not yet claimed
 *   cur/     claimed by a spoolerd and being delivered; left here by a
 *            crash, delivered again at start
 *   defer/   waiting for a retry; the schedule is in state/ID
 *   failed/  permanent failure or expiry: ID plus ID.reason
 *   state/   ID (retry state), ID.mbox (mbox journal), ID.pipe (runs
 *            of Pipe that exited 0)
 *   done/    delivered entries, only with keep_done
 *
 * Claiming: renameat(new/ID, cur/ID) is atomic, so of two spoolerds only
 * one succeeds, the other sees ENOENT. The claimer then holds
 * flock(LOCK_EX) on the open entry while it delivers; recovery of cur/
 * skips entries locked by a live process, and after taking the lock the
 * claimer checks that
 * cur/ID is still the file it opened (someone may have finished it).
 */
#include "scan.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int sub(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/* tmp/ and new/ are the sessions' way in; the rest is ours
		 * alone (units/tmpfiles.conf sets the same modes) */
		mode_t mode = !strcmp(name, "tmp")   ? 0730
			      : !strcmp(name, "new") ? 0770
						     : 0700;

		if (mkdirat(dir, name, mode) < 0 && errno != EEXIST)
			return -1;
		fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return fd;
}

int scan_open(struct sd_spool *sp, const char *dir, int keep_done,
              const char **what)
{
	struct {
		int *fd;
		const char *name;
	} subs[] = {{&sp->tmp, "tmp"},       {&sp->new, "new"},
		    {&sp->cur, "cur"},       {&sp->defer, "defer"},
		    {&sp->failed, "failed"}, {&sp->state, "state"},
		    {&sp->done, "done"}};
	size_t i, n = keep_done ? 7 : 6;

	sp->tmp = sp->new = sp->cur = sp->defer = sp->failed = sp->state =
		sp->done = -1;
	*what = dir;
	sp->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir < 0 && errno == ENOENT && mkdir(dir, 0750) == 0)
		sp->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir < 0)
		return -1;
	for (i = 0; i < n; i++) {
		*subs[i].fd = sub(sp->dir, subs[i].name);
		if (*subs[i].fd < 0) {
			int e = errno;

			*what = subs[i].name;
			scan_close(sp);
			errno = e;
			return -1;
		}
	}
	return 0;
}

void scan_close(struct sd_spool *sp)
{
	int *fds[] = {&sp->dir,    &sp->tmp,   &sp->new,  &sp->cur,
		      &sp->defer,  &sp->failed, &sp->state, &sp->done};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int scan_name_ok(const char *name)
{
	size_t i;

	if (name[0] == '.' || name[0] == '\0')
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	if (i > 200)
		return 0;
	if (i > 7 && !strcmp(name + i - 7, ".reason"))
		return 0;
	return 1;
}

DIR *scan_opendir(int dirfd)
{
	int fd = dirfd >= 0 ? dup(dirfd) : -1;
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}

long scan_list(int dirfd, void (*fn)(void *arg, const char *name), void *arg)
{
	struct dirent *de;
	long n = 0;
	DIR *d = scan_opendir(dirfd);

	if (!d)
		return -1;
	for (de = readdir(d); de; de = readdir(d)) {
		if (!scan_name_ok(de->d_name))
			continue;
		fn(arg, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* file_type - a name for st_mode, for the reason file */
static const char *file_type(mode_t m)
{
	return S_ISDIR(m)    ? "a directory"
	       : S_ISLNK(m)  ? "a symbolic link"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
			     : "not a regular file";
}

/* transient - an open failure that says nothing about the entry */
static int transient(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EINTR ||
	       e == EAGAIN;
}

int scan_claim(struct sd_spool *sp, int fromfd, const char *name,
               char *why, size_t whysize)
{
	struct stat a, b;
	int fd, tries = 0;

	if (fromfd != sp->cur && renameat(fromfd, name, sp->cur, name) < 0)
		return -1;
	/* look before opening: a FIFO would block open(2), a directory
	 * would open; neither is mail */
	if (fstatat(sp->cur, name, &a, AT_SYMLINK_NOFOLLOW) < 0)
		return -1; /* ENOENT: finished by another process */
	if (!S_ISREG(a.st_mode)) {
		snprintf(why, whysize, "not a regular file: %s",
			 file_type(a.st_mode));
		return SCAN_BAD;
	}
	fd = openat(sp->cur, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -1;
	if (fd < 0 && transient(errno))
		goto give_back;
	if (fd < 0) {
		snprintf(why, whysize, "cannot open: %s", strerror(errno));
		return SCAN_BAD;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		/* from new/ or defer/, a lock can only be a deliverer that
		 * has just settled it (moved it out of cur/, an admin moved
		 * it back) and is about to close: wait for that, briefly */
		if (e == EWOULDBLOCK && fromfd != sp->cur && ++tries < 100) {
			usleep(10000);
			continue;
		}
		close(fd);
		errno = e; /* EWOULDBLOCK: another process delivers it */
		return -1;
	}
	if (fstat(fd, &a) < 0) {
		close(fd);
		goto give_back;
	}
	if (!S_ISREG(a.st_mode)) { /* swapped between fstatat and open */
		close(fd);
		snprintf(why, whysize, "not a regular file: %s",
			 file_type(a.st_mode));
		return SCAN_BAD;
	}
	/* still the file we opened, not finished by another process? */
	if (fstatat(sp->cur, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
give_back:
	/* out of fds or the like: put it back where a later scan finds it
	 * rather than strand it in cur/ until the next start */
	{
		int e = errno;

		if (fromfd != sp->cur)
			renameat(sp->cur, name, fromfd, name);
		errno = e;
	}
	return -1;
}

struct sweep {
	int dirfd;
	time_t now;
	long max_age;
	long removed;
};

static void sweep_one(void *arg, const char *name)
{
	struct sweep *sw = arg;
	struct stat st;

	if (fstatat(sw->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && sw->now - st.st_mtime > sw->max_age &&
	    unlinkat(sw->dirfd, name, 0) == 0)
		sw->removed++;
}

long scan_clean_tmp(struct sd_spool *sp, time_t now, long max_age)
{
	struct sweep sw = {sp->tmp, now, max_age, 0};

	scan_list(sp->tmp, sweep_one, &sw);
	return sw.removed;
}

struct orphan {
	struct sd_spool *sp;
	long removed;
};

static void orphan_one(void *arg, const char *name)
{
	struct orphan *o = arg;
	char id[256];
	size_t n = strlen(name);
	struct stat st;
	int dirs[4], i;

	if (n >= sizeof(id))
		return;
	memcpy(id, name, n + 1);
	if (n > 5 && (!strcmp(id + n - 5, ".mbox") ||
		      !strcmp(id + n - 5, ".pipe")))
		id[n - 5] = '\0';
	dirs[0] = o->sp->new;
	dirs[1] = o->sp->cur;
	dirs[2] = o->sp->defer;
	dirs[3] = o->sp->failed;
	for (i = 0; i < 4; i++)
		if (fstatat(dirs[i], id, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT)
			return;
	if (unlinkat(o->sp->state, name, 0) == 0)
		o->removed++;
}

long scan_clean_state(struct sd_spool *sp)
{
	struct orphan o = {sp, 0};
	struct dirent *de;
	DIR *d;

	scan_list(sp->state, orphan_one, &o);
	/* ".ID.tmp" of a retry_save cut short by a crash */
	d = scan_opendir(sp->state);
	if (!d)
		return o.removed;
	for (de = readdir(d); de; de = readdir(d)) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' && n > 5 &&
		    !strcmp(de->d_name + n - 4, ".tmp") &&
		    unlinkat(sp->state, de->d_name, 0) == 0)
			o.removed++;
	}
	closedir(d);
	return o.removed;
}

/* mutt_id - the entry id of a name a maildir reader gave it: "ID:2,FLAGS"
 * (or ":1,...") with ID a valid entry name; 0 when name is not one */
static int mutt_id(const char *name, char *id, size_t n)
{
	const char *colon = strchr(name, ':');
	size_t k;

	if (!colon || (colon[1] != '1' && colon[1] != '2') ||
	    colon[2] != ',')
		return 0;
	k = (size_t)(colon - name);
	if (k == 0 || k >= n)
		return 0;
	memcpy(id, name, k);
	id[k] = '\0';
	return scan_name_ok(id);
}

/* mutt_dir - move each "ID:2,..." of dirfd back to new/ID */
static long mutt_dir(struct sd_spool *sp, int dirfd, const char *dirname)
{
	struct dirent *de;
	char id[256];
	long n = 0;
	DIR *d = scan_opendir(dirfd);

	if (!d)
		return 0;
	for (de = readdir(d); de; de = readdir(d)) {
		struct stat st;

		if (!mutt_id(de->d_name, id, sizeof(id)) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (renameat2(dirfd, de->d_name, sp->new, id,
			      RENAME_NOREPLACE) == 0) {
			log_info("%s: %s/%s (renamed by a maildir reader) "
				 "back in new/",
				 id, dirname, de->d_name);
			n++;
		} else if (errno == EEXIST) {
			log_warnx("%s: %s/%s left alone: new/%s exists", id,
				  dirname, de->d_name, id);
		}
	}
	closedir(d);
	return n;
}

long scan_mutt_names(struct sd_spool *sp)
{
	return mutt_dir(sp, sp->new, "new") + mutt_dir(sp, sp->cur, "cur");
}
