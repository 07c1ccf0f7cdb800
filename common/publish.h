/*
 * publish.h - make a file appear durably under its final name: the one
 * implementation of STYLE.md 7 steps 2 and 4-7, used by the session's
 * spool, spoolerd's Maildir, its retry state and its failure reasons.
 *
 *   fd = publish_create(tmpdir, tmpname, mode, flags)
 *   ... write ...   (on a write error: publish_abort)
 *   publish_commit(fd, tmpdir, tmpname, dstdir, dstname, flags)
 *
 * publish_commit, without PUBLISH_REPLACE (an entry: never overwritten):
 *   fsync(fd) ; close(fd) ;
 *   renameat2(tmpdir/tmpname, dstdir/dstname, RENAME_NOREPLACE)
 *     or, where the file system refuses the flag (EINVAL, ENOSYS),
 *     linkat(tmpdir/tmpname, dstdir/dstname), which never overwrites
 *     either ;
 *   fsync(dstdir) ; only then (link path) unlink tmpdir/tmpname.
 * Returns 0: the data and the name dstdir/dstname are on stable storage
 * (after a crash the file is there, complete); tmpdir/tmpname is gone
 * (XXX on the link path an unlink that fails leaves a second name in
 * tmpdir; the data is published, the stray name is swept with tmp/).
 * Returns -1 with errno: fd is closed, tmpdir/tmpname is gone, and
 * nothing of ours is visible under dstdir/dstname: a failed fsync of
 * dstdir takes the new name back, since it cannot be promised. With
 * EEXIST, dstdir/dstname existed before and is left as it was.
 *
 * With PUBLISH_REPLACE (a state file: each version replaces the last):
 *   fsync(fd) ; close(fd) ; renameat(tmp -> dst) ; fsync(dstdir).
 * Returns 0: the new version is durable under dstname. Returns -1 with
 * errno: fd is closed and tmpname gone; a failure before the rename
 * leaves the old version (or none) in place; a failed fsync of dstdir
 * leaves the new version visible (it is complete; the old one cannot be
 * brought back) but not promised: after a crash either version, whole.
 *
 * Unnamed files (publish_open; what the session's spool and spoolerd's
 * Maildir use): where the file system has O_TMPFILE, the file is made
 * in tmpdir without any name (*tmpname set to NULL) and publish_commit
 * with tmpname NULL does
 *   fsync(fd) ; linkat(fd, dstdir/dstname) ; close(fd) ; fsync(dstdir)
 * so no name is ever made or removed in tmpdir (no lock of tmpdir, no
 * cross-directory rename), and a writer killed at any point leaves
 * nothing at all: the kernel frees the unnamed inode with its last fd.
 * tmpdir only decides where the inode is allocated. linkat never
 * overwrites (EEXIST), a failure after it takes the name back as above.
 * The link is made with AT_EMPTY_PATH, or where the kernel wants
 * CAP_DAC_READ_SEARCH for that, through /proc/self/fd/N.
 *
 * tmpname is created exclusively (O_EXCL), never truncated: on the link
 * path a crash can leave tmpname and dstname as one inode, and O_TRUNC
 * would empty the published file through its tmp name. A caller whose
 * tmp names are fixed (the same on every attempt) passes PUBLISH_STALE,
 * and a leftover of that name is unlinked before a second try.
 * tmpdir and dstdir must be on one file system; they may be the same.
 */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stddef.h>
#include <sys/types.h>

#define PUBLISH_STALE 1   /* publish_create: unlink a leftover tmpname */
#define PUBLISH_REPLACE 2 /* publish_commit: dstname may be overwritten */

/* publish_create - open tmpdir/tmpname for writing, created exclusively
 * with mode (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC); fd, or -1 with errno
 * (EEXIST without PUBLISH_STALE: pick another name) */
int publish_create(int tmpdir, const char *tmpname, mode_t mode, int flags);

/* publish_open - publish_create, but an unnamed file where the file
 * system can (then *tmpname is set to NULL: pass it on as it is to
 * publish_commit and publish_abort); fd, or -1 with errno */
int publish_open(int tmpdir, const char **tmpname, mode_t mode, int flags);

/* publish_commit - the sequence above (tmpname NULL: the unnamed one);
 * 0, or -1 with errno. fd is closed either way. */
int publish_commit(int fd, int tmpdir, const char *tmpname, int dstdir,
                   const char *dstname, int flags);

/* publish_abort - give up before the commit: close fd (if >= 0), unlink
 * tmpdir/tmpname (unless NULL); errno is kept */
void publish_abort(int fd, int tmpdir, const char *tmpname);

/* publish_file - create, write the n bytes at p, commit: the whole
 * sequence for content already in memory; 0, or -1 with errno and
 * nothing left behind in tmpdir */
int publish_file(int tmpdir, const char *tmpname, int dstdir,
                 const char *dstname, mode_t mode, const void *p, size_t n,
                 int flags);

#endif
