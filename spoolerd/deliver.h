/* deliver.h - the workers: claim an entry, run the chain, settle it */
#ifndef DELIVER_H
#define DELIVER_H

#include "chain.h"
#include "queue.h"
#include "scan.h"

#include <pthread.h>
#include <stdatomic.h>

/* gen - one loaded config and its chain; replaced on SIGHUP, freed when
 * the last worker lets go of it */
struct gen {
	struct cfg *cfg;
	struct chain chain;
	unsigned refs;
};

struct ctx {
	struct sd_spool sp;
	struct queue q;
	pthread_mutex_t gmu;
	struct gen *gen; /* current */
	atomic_ulong delivered, deferred, failed;
};

struct worker {
	struct ctx *c;
	pthread_t thread;
	int started;
	struct gen *gen; /* the one its states belong to */
	void *st[CHAIN_MAX];
};

/* gen_new - wrap a loaded config with its chain; NULL with err */
struct gen *gen_new(struct cfg *cfg, char *err, size_t n);
/* gen_get / gen_put - counted references */
struct gen *gen_get(struct ctx *c);
void gen_put(struct ctx *c, struct gen *g);

/* worker_main - the thread: pop, deliver, repeat until the queue stops */
void *worker_main(void *arg);

/* deliver_jobs - n jobs as one batch (each settled on its own) */
void deliver_jobs(struct worker *w, const struct job *j, size_t n);

/* worker_release - drop processor states and the gen */
void worker_release(struct worker *w);

#endif
