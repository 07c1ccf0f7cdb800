/*
 * dirsync.c - group commit of directory fsyncs among spoolerd's worker
 * threads (the contract is in dirsync.h).
 *
 * Many workers deliver into one maildir at once; each has linked its file
 * into new/ and must see new/ fsync'd before it may call the copy
 * delivered. One fsync(new/) that starts after all their links covers
 * them all, so the workers of one directory take turns as leader: the
 * leader runs one fsync round for everyone who arrived before the round
 * began, the others (followers) wait for it. A round that began before a
 * caller arrived may have missed its link, so a caller needs a round
 * numbered above the one counter's value it saw on arrival (PostgreSQL's
 * WAL flush: leader/follower, one flush for all waiters).
 *
 * Per directory (st_dev, st_ino) a slot under one mutex:
 *   begun  - rounds started, numbered 1, 2, ...
 *   ok     - the highest round that completed without error
 *   bad    - the highest round whose fsync failed (its errno in err)
 * A caller needs round need = begun + 1 (the next to start). It returns
 * 0 once ok >= need, -1 with err once bad >= need (and no later round
 * succeeded first: a later round started after it arrived as well), and
 * leads a round itself when none is running. Rounds of one directory
 * never overlap, so ok and bad only grow.
 *
 * Only threads of one process share slots: sessions, which do not trust
 * each other, never use this (smtpd-session/spool.c fsyncs new/ itself).
 * With every slot in use the caller fsyncs alone, as before.
 */
#include "dirsync.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRSYNC_SLOTS 32

struct dirsync_slot {
	dev_t dev;
	ino_t ino;
	unsigned users; /* threads waiting or leading; 0: slot is free */
	int running;    /* a round is in its fsync */
	unsigned long long begun, ok, bad;
	int err;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static struct dirsync_slot slots[DIRSYNC_SLOTS];
static unsigned long long nrounds, ncalls;

/* slot_get - the slot of (dev, ino), taken if free; NULL if none left
 * (called with mu held) */
static struct dirsync_slot *slot_get(dev_t dev, ino_t ino)
{
	struct dirsync_slot *free_slot = NULL;
	size_t i;

	for (i = 0; i < DIRSYNC_SLOTS; i++) {
		struct dirsync_slot *s = &slots[i];

		if (s->users && s->dev == dev && s->ino == ino)
			return s;
		if (!s->users && !free_slot)
			free_slot = s;
	}
	if (free_slot) {
		/* counters start afresh: nobody is waiting on them */
		free_slot->dev = dev;
		free_slot->ino = ino;
		free_slot->running = 0;
		free_slot->begun = free_slot->ok = free_slot->bad = 0;
		free_slot->err = 0;
	}
	return free_slot;
}

int dirsync_fsync(int dirfd)
{
	struct dirsync_slot *s;
	struct stat st;
	unsigned long long need;
	int r = 0, e = 0;

	if (fstat(dirfd, &st) < 0)
		return -1;
	pthread_mutex_lock(&mu);
	ncalls++;
	s = slot_get(st.st_dev, st.st_ino);
	if (!s) {
		pthread_mutex_unlock(&mu);
		return fsync(dirfd);
	}
	s->users++;
	need = s->begun + 1;
	for (;;) {
		if (s->ok >= need) {
			r = 0;
			break;
		}
		if (s->bad >= need) {
			r = -1;
			e = s->err;
			break;
		}
		if (s->running) {
			pthread_cond_wait(&done, &mu);
			continue;
		}
		/* lead round begun + 1 (== need or later: it starts now,
		 * after this caller's link) */
		{
			unsigned long long round = ++s->begun;
			int fr, fe;

			s->running = 1;
			nrounds++;
			pthread_mutex_unlock(&mu);
			fr = fsync(dirfd);
			fe = errno;
			pthread_mutex_lock(&mu);
			s->running = 0;
			if (fr == 0) {
				s->ok = round;
			} else {
				s->bad = round;
				s->err = fe;
			}
			pthread_cond_broadcast(&done);
		}
	}
	s->users--;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

void dirsync_stats(unsigned long long *calls, unsigned long long *rounds)
{
	pthread_mutex_lock(&mu);
	*calls = ncalls;
	*rounds = nrounds;
	pthread_mutex_unlock(&mu);
}
