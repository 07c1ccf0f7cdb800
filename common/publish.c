/*
 * publish.c - durable publication of a file under its final name (the
 * contract is in publish.h). Every step is checked, every failure undoes
 * what exists, and the order is fixed: the file's data before its name,
 * the name's directory before the tmp name goes. No syscall is added to
 * the session's commit (fsync, close, renameat2, fsync: four, as before).
 */
#include "publish.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat, renameat2 */
#include <unistd.h>

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

void publish_abort(int fd, int tmpdir, const char *tmpname)
{
	int e = errno;

	if (fd >= 0)
		close(fd);
	unlinkat(tmpdir, tmpname, 0);
	errno = e;
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
