/* queue.h - jobs for the workers and the retry schedule */
#ifndef QUEUE_H
#define QUEUE_H

#include <pthread.h>
#include <stddef.h>

#define JOB_NAME_MAX 208

enum job_from { J_NEW, J_DEFER, J_CUR };

struct job {
	char name[JOB_NAME_MAX];
	enum job_from from;
};

/* an entry in new/ that cannot even be claimed (a directory another uid
 * owns, say): not tried again before until_ms */
#define QUEUE_SKIP_MAX 256
struct skip_item {
	char name[JOB_NAME_MAX];
	long long until_ms;
	unsigned tries;
};

struct defer_item {
	long long due_ms;
	char name[JOB_NAME_MAX];
};

/* queue - FIFO of jobs (bounded) plus a min-heap of deferred entries,
 * one mutex; workers block in queue_pop */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *jobs;
	size_t head, len, cap;
	struct defer_item *heap;
	size_t hlen, hcap;
	unsigned active; /* jobs being worked on */
	struct skip_item skips[QUEUE_SKIP_MAX];
	size_t nskips;
	int stopping;
	int paused;
};

int queue_init(struct queue *q, size_t cap);
void queue_free(struct queue *q);

/* queue_push - add a job; 0, or -1 when full (a rescan finds it later) */
int queue_push(struct queue *q, const char *name, enum job_from from);

/* queue_pop - wait for a job; 0, or -1 when stopping. Counts the job as
 * active until queue_done. */
int queue_pop(struct queue *q, struct job *out);
void queue_done(struct queue *q);

/* queue_pop_many - wait for a job, then take up to max of those ready
 * (a batch for processors that store several at once); how many, 0 when
 * stopping. Each counts as active until its queue_done. */
size_t queue_pop_many(struct queue *q, struct job *out, size_t max);

/* queue_idle - nothing queued and nothing active */
int queue_idle(struct queue *q);
size_t queue_len(struct queue *q);
/* queue_pending - jobs not yet taken by a worker */
size_t queue_pending(struct queue *q);

/* queue_skip - name could not be claimed: leave it alone for a while
 * (10 s, doubling to an hour). 1 the first time (log it), else 0. */
int queue_skip(struct queue *q, const char *name, long long now_ms);
/* queue_skipping - is name being left alone at now_ms? */
int queue_skipping(struct queue *q, const char *name, long long now_ms);

/* queue_stop - wake every worker; pending jobs are dropped (they are
 * still in new/ or defer/, untouched) */
void queue_stop(struct queue *q);

/* queue_pause - wait until no job is active and keep workers from
 * taking new ones (the main thread then changes what workers share, such
 * as the log file descriptor); queue_resume lets them go on */
void queue_pause(struct queue *q);
void queue_resume(struct queue *q);

/* queue_defer - schedule name for due_ms; 0 or -1 */
int queue_defer(struct queue *q, const char *name, long long due_ms);

/* queue_take_due - move deferred entries due at now_ms into the job
 * queue; how many. *next_ms gets the earliest remaining due time or -1. */
size_t queue_take_due(struct queue *q, long long now_ms, long long *next_ms);
size_t queue_deferred(struct queue *q);

/* queue_wait_ms - how long the main loop may sleep: cap_ms, or less when
 * the next deferred entry (due_ms; -1: none) is due sooner; never
 * negative (poll(2) takes a negative timeout as "forever"). now_ms is one
 * reading of the clock due_ms is on. */
long long queue_wait_ms(long long due_ms, long long now_ms, long long cap_ms);

#endif
