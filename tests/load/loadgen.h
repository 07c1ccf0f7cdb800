/*
 * loadgen.h - shared parts of the chaos load generator (loadgen.c: the
 * clients and the event loop, check.c: the maildir/spool verification,
 * sampler.c: the server's processes, memory and session ages).
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MAXRCPT 8

/* outcome of one message (a DATA transaction we started) */
enum outcome {
	OUT_NONE = 0,  /* not finished */
	OUT_ACCEPTED,  /* 250 queued as ID: must be delivered exactly once */
	OUT_UNKNOWN,   /* final dot sent, no reply (cut): 0 or 1 copy */
	OUT_REJECTED,  /* refused after the dot (550/552/451...): no copy */
	OUT_ABORTED,   /* we cut the connection before the dot: no copy */
	OUT_TEMPFAIL,  /* 4xx after the dot (421 included): a sender would
	                  send it again, so a stored copy is a duplicate */
};

/* one message we sent (or began to send) */
struct rec {
	uint64_t token;          /* X-Load-Id, unique in the run */
	char qid[128];           /* queue id from the 250 */
	uint8_t digest[32];      /* SHA-256 of the message as stored */
	long long size;          /* bytes as stored (dot-unstuffed, CRLF) */
	int sender;              /* sender id (-1: null sender) */
	uint16_t rcpt[MAXRCPT];  /* recipient ids, in the order accepted */
	uint8_t nrcpt;           /* recipients the server accepted */
	uint8_t outcome;         /* enum outcome */
	uint8_t tls;             /* sent over STARTTLS */
	uint8_t seen[MAXRCPT];   /* copies found, per recipient (check.c) */
	uint8_t bad[MAXRCPT];    /* a copy found that was not byte-exact */
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

/* names of senders and recipients, shared by generator and checker */
void addr_sender(int id, char *buf, size_t n);
void addr_rcpt(int id, char *buf, size_t n);  /* user@domain */
void addr_rcpt_parts(int id, char *user, size_t un, char *dom, size_t dn);

struct check_result {
	long long accepted;     /* messages answered 250 */
	long long lost;         /* accepted messages missing a copy */
	long long duplicated;   /* messages with a copy found twice */
	long long corrupted;    /* messages with a copy not byte-exact */
	long long unexpected;   /* copies of messages never accepted, or
	                           files we cannot attribute (in corrupted) */
	long long unknown_delivered; /* cut after the dot, found (allowed) */
	long long tempfail_delivered; /* 4xx after the dot, yet stored */
	long long copies_expected, copies_found;
	long long spool_left;   /* entries left in the spool */
	long long maildir_tmp_left;
	char spool_detail[256];
	double drain_secs;      /* waiting for the spool to empty */
	int drained;
};

/* check.c */
int check_wait_drain(const char *spool, double max_secs, double *waited,
		     char *detail, size_t dn, long long *left);
int check_maildirs(const char *root, struct recs *rs,
		   struct check_result *cr, FILE *log);

/* sampler.c */
struct sample_stats {
	int samples;
	int peak_procs;          /* children of the launcher */
	int peak_zombies;        /* of them ended, not yet reaped */
	long long peak_rss_kib;  /* sum of RSS over sessions */
	long long peak_pss_kib;  /* sum of PSS over sessions */
	int pss_procs_at_peak;
	double max_pss_per_session_kib;
	double max_age_s;        /* oldest session seen */
	long long sessions_over_age; /* older than the age limit */
	double age_limit_s;
	long long spoolerd_peak_rss_kib;
	long long peak_spool_new; /* entries waiting in spool new/ */
	long long min_mem_avail_kib, mem_avail_start_kib;
	double sample_cpu_s;     /* CPU the sampler itself used */
	int peak_running;        /* runnable tasks on the machine */
	double peak_loadavg;     /* 1-minute load average */
	int oldest_pid;          /* the session of max_age_s */
};

int sampler_start(int launcher_pid, int spoolerd_pid, const char *spool,
		  double age_limit, double interval, int pss_every);
void sampler_stop(struct sample_stats *out);

double now_s(void);

#endif
