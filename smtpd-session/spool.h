/* spool.h - durable write of one entry into the spool (tmp -> new) */
#ifndef SPOOL_H
#define SPOOL_H

#include "entry.h"

#include <stddef.h>

#define SPOOL_WBUF 16384

struct spool {
	int tmpfd, newfd; /* directory fds, -1 until opened */
	int fd;           /* the entry being written, -1 if none */
	char id[96];
	const char *tmpname; /* id, or NULL: the file has no name yet */
	unsigned counter;
	int err;         /* errno of the first failure, latched */
	size_t size_off; /* where X-Spool-Size digits are */
	size_t doff_off; /* where X-Spool-Data-Offset digits are */
	size_t data_off; /* the client's first byte, as formatted */
	int started;     /* a message byte has been written */
	int shifted;     /* an empty line went before the message */
	size_t wlen;
	char *wbuf; /* SPOOL_WBUF bytes, allocated at the first entry */
};

/* spool_init - no fds open yet */
void spool_init(struct spool *sp);

/* spool_open_dirs - open DIR/tmp and DIR/new; 0 or -1 (errno) */
int spool_open_dirs(struct spool *sp, const char *dir);

/* spool_space_ok - 1 if the spool filesystem has need + min_free bytes
 * (and inodes) free, 0 if not, -1 on statvfs error */
int spool_space_ok(struct spool *sp, long long need, long long min_free);

/* spool_begin - new queue id, create the entry in tmp/ (unnamed, or as
 * tmp/ID exclusively), write the envelope (env->queue_id is set to
 * sp->id). 0, or -1 with errno. */
int spool_begin(struct spool *sp, struct envelope *env);

/* spool_write - buffered append of message bytes; latches errors */
int spool_write(struct spool *sp, const char *p, size_t n);

/* spool_commit - patch the size, fsync, name it new/ID (link or
 * rename), close, fsync new/. Only after 0 may the client hear 250. On
 * -1 nothing is in new/ and the tmp file is gone. */
int spool_commit(struct spool *sp, long long size);

/* spool_abort - drop the entry being written (close; unlink a tmp name) */
void spool_abort(struct spool *sp);

/* spool_close_dirs - forget the directory fds (reopened at next use) */
void spool_close_dirs(struct spool *sp);

void spool_close(struct spool *sp);

#endif
