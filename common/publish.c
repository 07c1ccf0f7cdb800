/*
 * publish.c - durable publication of a file under its final name (the
 * contract is in publish.h). Every step is checked, every failure undoes
 * what exists, and the order is fixed: the file's data before its name,
 * the name's directory before the tmp name goes. No syscall is added to
 * the session's commit (fsync, close, renameat2, fsync: four, as before;
 * for an unnamed file fsync, linkat, close, fsync).
 */
#include "publish.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h> /* renameat, renameat2 */
#include <unistd.h>

/* what this process found missing, learnt once (spoolerd's workers are
 * threads): O_TMPFILE on the spool's file system, linkat AT_EMPTY_PATH
 * without CAP_DAC_READ_SEARCH (kernels before 6.10) */
static atomic_int no_tmpfile, no_empty_path;

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

int publish_create(int tmpdir, const char *tmpname, mode_t mode, int flags)
{
	const int of = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(tmpdir, tmpname, of, mode);

	if (fd < 0 && errno == EEXIST && (flags & PUBLISH_STALE)) {
		/* a crash's leftover: drop the name, never the inode's data
		 * (it may be linked from dstdir too) */
		if (unlinkat(tmpdir, tmpname, 0) < 0 && errno != ENOENT)
			return -1;
		fd = openat(tmpdir, tmpname, of, mode);
	}
	return fd;
}

int publish_open(int tmpdir, const char **tmpname, mode_t mode, int flags)
{
	if (!atomic_load_explicit(&no_tmpfile, memory_order_relaxed)) {
		int fd = openat(tmpdir, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC,
				mode);

		if (fd >= 0) {
			*tmpname = NULL;
			return fd;
		}
		/* EOPNOTSUPP: not on this file system; EISDIR: a kernel
		 * without O_TMPFILE took it for O_DIRECTORY */
		if (errno != EOPNOTSUPP && errno != EISDIR)
			return -1;
		atomic_store_explicit(&no_tmpfile, 1, memory_order_relaxed);
	}
	return publish_create(tmpdir, *tmpname, mode, flags);
}

void publish_abort(int fd, int tmpdir, const char *tmpname)
{
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (tmpname)
		unlinkat(tmpdir, tmpname, 0);
	errno = e;
}

/* link_fd - give the unnamed file fd the name dstdir/dstname; never
 * overwrites (EEXIST) */
static int link_fd(int fd, int dstdir, const char *dstname)
{
	char p[48];

	if (!atomic_load_explicit(&no_empty_path, memory_order_relaxed)) {
		if (linkat(fd, "", dstdir, dstname, AT_EMPTY_PATH) == 0)
			return 0;
		/* ENOENT: this kernel wants CAP_DAC_READ_SEARCH for it */
		if (errno != ENOENT)
			return -1;
		atomic_store_explicit(&no_empty_path, 1,
				      memory_order_relaxed);
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, p, dstdir, dstname, AT_SYMLINK_FOLLOW);
}

/* commit_unnamed - publish_commit of a publish_open file without a name */
static int commit_unnamed(int fd, int dstdir, const char *dstname)
{
	if (fsync(fd) < 0 || link_fd(fd, dstdir, dstname) < 0) {
		publish_abort(fd, -1, NULL);
		return -1;
	}
	/* the name is there, the data under it complete (fsync'd): from
	 * here a failure takes the name back */
	if (close(fd) < 0 || fsync(dstdir) < 0) {
		int e = errno;

		unlinkat(dstdir, dstname, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* undo - unlink the names in the list that exist now; errno = e, -1 */
static int undo(int e, int dir1, const char *name1, int dir2,
                const char *name2)
{
	if (name1)
		unlinkat(dir1, name1, 0);
	if (name2)
		unlinkat(dir2, name2, 0);
	errno = e;
	return -1;
}

/* replace - the PUBLISH_REPLACE tail: rename over, fsync the directory */
static int replace(int tmpdir, const char *tmpname, int dstdir,
                   const char *dstname)
{
	if (renameat(tmpdir, tmpname, dstdir, dstname) < 0)
		return undo(errno, tmpdir, tmpname, -1, NULL);
	/* the new version stays: it is whole, and the old one is gone */
	return fsync(dstdir) < 0 ? -1 : 0;
}

int publish_commit(int fd, int tmpdir, const char *tmpname, int dstdir,
                   const char *dstname, int flags)
{
	int linked = 0;

	if (!tmpname) {
		if (flags & PUBLISH_REPLACE) { /* linkat cannot replace */
			publish_abort(fd, -1, NULL);
			errno = EINVAL;
			return -1;
		}
		return commit_unnamed(fd, dstdir, dstname);
	}
	if (fsync(fd) < 0) {
		publish_abort(fd, tmpdir, tmpname);
		return -1;
	}
	/* close reports late write errors (NFS): checked, like fsync */
	if (close(fd) < 0)
		return undo(errno, tmpdir, tmpname, -1, NULL);
	if (flags & PUBLISH_REPLACE)
		return replace(tmpdir, tmpname, dstdir, dstname);
	if (renameat2(tmpdir, tmpname, dstdir, dstname, RENAME_NOREPLACE) <
	    0) {
		/* file systems without RENAME_NOREPLACE: link never
		 * overwrites either (EEXIST), and tmpname stays until
		 * dstname is durable */
		if (errno != EINVAL && errno != ENOSYS)
			return undo(errno, tmpdir, tmpname, -1, NULL);
		if (linkat(tmpdir, tmpname, dstdir, dstname, 0) < 0)
			return undo(errno, tmpdir, tmpname, -1, NULL);
		linked = 1;
	}
	if (fsync(dstdir) < 0) {
		/* the name may or may not be on disk: we cannot promise it,
		 * so take it back */
		return undo(errno, dstdir, dstname, tmpdir,
			    linked ? tmpname : NULL);
	}
	if (linked)
		unlinkat(tmpdir, tmpname, 0);
	return 0;
}

int publish_file(int tmpdir, const char *tmpname, int dstdir,
                 const char *dstname, mode_t mode, const void *p, size_t n,
                 int flags)
{
	int fd = publish_create(tmpdir, tmpname, mode, flags);

	if (fd < 0)
		return -1;
	if (util_write_all(fd, p, n) < 0) {
		publish_abort(fd, tmpdir, tmpname);
		return -1;
	}
	return publish_commit(fd, tmpdir, tmpname, dstdir, dstname, flags);
}
