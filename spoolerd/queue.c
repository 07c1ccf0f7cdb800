/*
 * queue.c - the hand-off between the main thread and the workers.
 *
 * The main thread pushes names it saw in new/ (inotify, rescans) and
 * deferred names whose time has come; workers pop them and claim the file
 * themselves, so a name queued twice is harmless (the second claim finds
 * nothing). The job queue is bounded: when it is full, names are simply
 * not queued and the next rescan finds them still in new/. The retry
 * schedule is a binary min-heap on the due time.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int queue_init(struct queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->jobs = calloc(cap, sizeof(*q->jobs));
	if (!q->jobs)
		return -1;
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	return 0;
}

void queue_free(struct queue *q)
{
	free(q->jobs);
	free(q->heap);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	memset(q, 0, sizeof(*q));
}

int queue_push(struct queue *q, const char *name, enum job_from from)
{
	struct job *j;
	int r = -1;

	if (strlen(name) >= JOB_NAME_MAX)
		return -1;
	pthread_mutex_lock(&q->mu);
	if (q->len < q->cap) {
		j = &q->jobs[(q->head + q->len) % q->cap];
		snprintf(j->name, sizeof(j->name), "%s", name);
		j->from = from;
		q->len++;
		pthread_cond_signal(&q->cv);
		r = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

int queue_pop(struct queue *q, struct job *out)
{
	int r = -1;

	pthread_mutex_lock(&q->mu);
	while (!q->stopping && (q->len == 0 || q->paused))
		pthread_cond_wait(&q->cv, &q->mu);
	if (!q->stopping) {
		*out = q->jobs[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		q->active++;
		r = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

size_t queue_pop_many(struct queue *q, struct job *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&q->mu);
	while (!q->stopping && (q->len == 0 || q->paused))
		pthread_cond_wait(&q->cv, &q->mu);
	while (!q->stopping && q->len && k < max) {
		out[k++] = q->jobs[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		q->active++;
	}
	pthread_mutex_unlock(&q->mu);
	return k;
}

void queue_done(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->active--;
	if (q->paused && q->active == 0)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void queue_pause(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->paused = 1;
	while (q->active > 0)
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

void queue_resume(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->paused = 0;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int queue_idle(struct queue *q)
{
	int idle;

	pthread_mutex_lock(&q->mu);
	idle = q->len == 0 && q->active == 0;
	pthread_mutex_unlock(&q->mu);
	return idle;
}

size_t queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len + q->active;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t queue_pending(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void queue_stop(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	q->len = 0;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void heap_swap(struct defer_item *a, struct defer_item *b)
{
	struct defer_item t = *a;

	*a = *b;
	*b = t;
}

int queue_defer(struct queue *q, const char *name, long long due_ms)
{
	size_t i;

	if (strlen(name) >= JOB_NAME_MAX)
		return -1;
	pthread_mutex_lock(&q->mu);
	if (q->hlen == q->hcap) {
		size_t nc = q->hcap ? q->hcap * 2 : 64;
		struct defer_item *nh = realloc(q->heap, nc * sizeof(*nh));

		if (!nh) {
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
		q->heap = nh;
		q->hcap = nc;
	}
	i = q->hlen++;
	q->heap[i].due_ms = due_ms;
	snprintf(q->heap[i].name, sizeof(q->heap[i].name), "%s", name);
	while (i > 0 && q->heap[(i - 1) / 2].due_ms > q->heap[i].due_ms) {
		heap_swap(&q->heap[(i - 1) / 2], &q->heap[i]);
		i = (i - 1) / 2;
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* heap_pop_min - remove the root; caller holds the mutex */
static void heap_pop_min(struct queue *q)
{
	size_t i = 0;

	q->heap[0] = q->heap[--q->hlen];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->hlen && q->heap[l].due_ms < q->heap[m].due_ms)
			m = l;
		if (r < q->hlen && q->heap[r].due_ms < q->heap[m].due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
}

size_t queue_take_due(struct queue *q, long long now_ms, long long *next_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&q->mu);
	while (q->hlen && q->heap[0].due_ms <= now_ms && q->len < q->cap) {
		struct job *j = &q->jobs[(q->head + q->len) % q->cap];

		memcpy(j->name, q->heap[0].name, sizeof(j->name));
		j->from = J_DEFER;
		q->len++;
		heap_pop_min(q);
		n++;
	}
	*next_ms = q->hlen ? q->heap[0].due_ms : -1;
	if (n)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return n;
}

long long queue_wait_ms(long long due_ms, long long now_ms, long long cap_ms)
{
	long long d;

	if (cap_ms < 0)
		cap_ms = 0;
	if (due_ms < 0)
		return cap_ms;
	d = due_ms - now_ms;
	if (d < 0)
		d = 0;
	return d < cap_ms ? d : cap_ms;
}

size_t queue_deferred(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->hlen;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* skip_find - the slot of name, or -1; q->mu held */
static long skip_find(const struct queue *q, const char *name)
{
	size_t i;

	for (i = 0; i < q->nskips; i++)
		if (!strcmp(q->skips[i].name, name))
			return (long)i;
	return -1;
}

int queue_skip(struct queue *q, const char *name, long long now_ms)
{
	struct skip_item *it;
	long i;
	int first = 0;

	if (strlen(name) >= JOB_NAME_MAX)
		return 0;
	pthread_mutex_lock(&q->mu);
	i = skip_find(q, name);
	if (i < 0) {
		size_t k, old = 0;

		if (q->nskips < QUEUE_SKIP_MAX) {
			i = (long)q->nskips++;
		} else { /* full: forget the one due soonest */
			for (k = 1; k < q->nskips; k++)
				if (q->skips[k].until_ms <
				    q->skips[old].until_ms)
					old = k;
			i = (long)old;
		}
		it = &q->skips[i];
		snprintf(it->name, sizeof(it->name), "%s", name);
		it->tries = 0;
		first = 1;
	}
	it = &q->skips[i];
	if (it->tries < 9)
		it->tries++;
	it->until_ms = now_ms + (10000LL << (it->tries - 1) > 3600000LL
					 ? 3600000LL
					 : 10000LL << (it->tries - 1));
	pthread_mutex_unlock(&q->mu);
	return first;
}

int queue_skipping(struct queue *q, const char *name, long long now_ms)
{
	long i;
	int r;

	pthread_mutex_lock(&q->mu);
	i = skip_find(q, name);
	r = i >= 0 && q->skips[i].until_ms > now_ms;
	pthread_mutex_unlock(&q->mu);
	return r;
}
