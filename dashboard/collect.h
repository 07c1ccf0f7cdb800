/* collect.h - the collector's figures: what the datagrams said, the
 * samples it took, series over max_window, rankings; rendered as the
 * page's JSON and as Prometheus text. Not thread-safe: the caller holds
 * collect_lock around every call but collect_init. */
#ifndef COLLECT_H
#define COLLECT_H

#include "cfg.h"
#include "rank.h"
#include "statsmsg.h"

#include <pthread.h>
#include <stdio.h>

#define COLLECT_SLOTS 1440
#define COLLECT_PAIRS 64
#define COLLECT_NBUCKETS 10
#define COLLECT_QDIRS 5

struct collect_pair {
	char a[64], b[16];
	unsigned long long n;
};

struct collect_slot {
	long long t; /* slot start, unix ms; 0 unused */
	unsigned long long conns, msgs, bytes, mem;
};

struct collect {
	pthread_mutex_t lock;
	struct collect_pair conns[COLLECT_PAIRS]; /* server, result */
	size_t nconns;
	struct collect_pair dlv[COLLECT_PAIRS]; /* processor, result */
	size_t ndlv;
	unsigned long long rejected[200]; /* code 400..599 */
	long long open;
	unsigned long long accepted, bytes, tls, bad;
	unsigned long long hist[COLLECT_NBUCKETS], hist_count;
	double hist_sum;
	struct collect_slot slots[COLLECT_SLOTS];
	long long slot_ms;
	struct rank ip, domain, helo;
	long long rank_reset_at, rank_interval; /* ms */
	double msg_rate, byte_rate;
	unsigned long long prev_msgs, prev_bytes;
	long long prev_tick; /* ms */
	unsigned long long mem;
	const char *mem_source;
	long long queue[COLLECT_QDIRS];
	double oldest;
	/* spoolerd's last SM_QUEUE report (it can read every directory)
	 * and when it came, ms; 0: none yet */
	long long sp_queue[COLLECT_QDIRS];
	double sp_oldest;
	long long sp_at;
};

/* collect_queue - the queue figures to show: spoolerd's report while it
 * is fresh (30 s), else what the collector could count itself */
void collect_queue(struct collect *c, long long now_ms);

extern const char *const collect_qdirs[COLLECT_QDIRS];
extern const double collect_buckets[COLLECT_NBUCKETS];

/* collect_init - empty figures for the dashboard config; 0 or -1 */
int collect_init(struct collect *c, const struct cfg_dashboard *d);
void collect_free(struct collect *c);

/* collect_apply - one decoded datagram at wall time now_ms */
void collect_apply(struct collect *c, const struct statsmsg *m,
                   long long now_ms);

/* collect_tick - rates, the memory sample into its slot, rankings reset
 * every ranking_aggregation_interval */
void collect_tick(struct collect *c, long long now_ms);

/* collect_sample - memory of the sessions and the spool's queue (file
 * system reads: call without the lock, then collect_tick) */
void collect_sample(const struct cfg *cfg, unsigned long long *mem,
                    const char **src, long long *queue, double *oldest);

/* collect_json - the page's frame, malloc'd */
char *collect_json(struct collect *c, long long now_ms);

/* collect_metrics - Prometheus text exposition into f */
void collect_metrics(struct collect *c, FILE *f);

/* collect_save / collect_load - the series and totals in path (kept
 * across a restart); 0 or -1 */
int collect_save(struct collect *c, const char *path);
int collect_load(struct collect *c, const char *path);

#endif
