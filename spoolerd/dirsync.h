/*
 * dirsync.h - fsync of a directory, shared among the threads of one
 * process (group commit; see dirsync.c):
 *
 *   linkat(..., dir, name) ; dirsync_fsync(dir) == 0
 *
 * promises what fsync(dir) == 0 would: the directory, as it was when
 * dirsync_fsync was called (every entry linked before the call), is on
 * stable storage; one fsync round may serve every thread that asked for
 * the same directory while it waited. -1 with errno: the round that
 * served this caller failed (its fsync's errno), nothing is promised.
 */
#ifndef DIRSYNC_H
#define DIRSYNC_H

/* dirsync_fsync - as fsync(dirfd), possibly one fsync for several
 * callers; 0, or -1 with errno */
int dirsync_fsync(int dirfd);

/* dirsync_stats - calls so far and fsync rounds they took */
void dirsync_stats(unsigned long long *calls, unsigned long long *rounds);

#endif
