/* processor.h - one step of the save_process chain, and the message
 * every step sees. Processors are registered in chain.c like OpenSMTPD's
 * queue backends: a table of function pointers, looked up by name. */
#ifndef PROCESSOR_H
#define PROCESSOR_H

#include "cfg.h"
#include "entry.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum proc_res { PROC_OK, PROC_TEMP, PROC_PERM };

#define PROC_WHY_MAX 600

/* what HeadersParser found; strings malloc'd, UTF-8, NULL if absent */
struct msg_headers {
	int parsed;
	char *subject;
	char *from;
	char *to;
	char *message_id;
	char *reply_to;
	char *sender;
	char *content_type; /* "type/subtype", lower-case */
	char *charset;      /* lower-case */
	int has_attachment;
};

struct msg_rcpt {
	const char *addr; /* env.rcpts[i] */
	char *head;       /* delivery headers (CRLF), set by Header */
	char hash[33];    /* hex MD5, set by Hasher, "" before */
	char dest[320];   /* where the stores put it, for the log line:
			   * "path" or "redis:key,mysql:table"; msg_dest */
};

/* msg - one spool entry being delivered */
struct msg {
	struct envelope env;
	int fd;            /* the entry, read-only, claimed in cur/ */
	off_t file_size;
	struct timespec mtime, ctime; /* at claim: a change means a writer */
	int redelivery;    /* tried before (crash or retry): check keys */
	const struct cfg *cfg;
	int statefd;       /* spool state/ dir (mbox journals) */
	const char *name;  /* the file name in the spool */
	struct msg_rcpt *rcpt; /* env.nrcpts of them */
	struct msg_headers hdr;
	char *journal;     /* mbox journal contents read at start, or NULL */
	int jfd;           /* mbox journal, -1 until the first append */
	unsigned attempts; /* earlier attempts of this entry */
	int compress;      /* Compressor ran: zlib level + 1, else 0 */
	int in_redis;      /* Redis holds every recipient's copy */
	char *data;        /* the stored message (Received + data), read
			    * on demand by msg_data; NULL before */
	size_t data_len;
	char why[PROC_WHY_MAX]; /* the reason of a batch delivery */
};

struct proc_ops {
	const char *name;
	int available; /* 0: name known, processor not in this build */
	int stores;    /* keeps the message somewhere */
	/* init - per worker state; 0, or -1 with a reason in err */
	int (*init)(const struct cfg *cfg, void **state, char *err,
		    size_t errlen);
	/* deliver - OK, TEMP or PERM with a reason in why */
	enum proc_res (*deliver)(void *state, struct msg *m, char *why,
				 size_t whylen);
	void (*fini)(void *state);
	/* deliver_batch - optional: n messages at once (one multi-row
	 * INSERT); res[i] for each, the reason in m[i]->why */
	void (*deliver_batch)(void *state, struct msg **m, size_t n,
			      enum proc_res *res);
	/* check - optional start-up probe: is the store reachable, does
	 * the table exist? 0, or -1 with what is wrong in err */
	int (*check)(const struct cfg *cfg, char *err, size_t errlen);
};

extern const struct proc_ops proc_headersparser, proc_header, proc_hasher,
	proc_debugger, proc_maildir, proc_mbox, proc_compressor, proc_redis,
	proc_mysql, proc_sql;
extern const struct proc_ops proc_webhook;
extern const struct proc_ops proc_pipe;
extern const struct proc_ops proc_amqp;

/* msg_head - the delivery headers for recipient i: Header's text, or the
 * same text built on the spot when the chain has no Header */
const char *msg_head(struct msg *m, size_t i);

/* msg_make_head - "Return-Path: <s>\r\nDelivered-To: r\r\n", malloc'd */
char *msg_make_head(const struct msg *m, size_t i);

/* msg_dest - add where a store put recipient i's copy to its log
 * line (", "-separated when several stores keep it) */
void msg_dest(struct msg *m, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* msg_free_parts - everything processors attached to m (not env, not fd) */
void msg_free_parts(struct msg *m);

/* msg_data - the message as stored (our Received header, then the
 * client's data), read from the entry once; NULL with errno */
const char *msg_data(struct msg *m, size_t *len);

/* msg_payload - what a store keeps for recipient i: the delivery
 * headers and msg_data, zlib-compressed when Compressor ran. malloc'd;
 * NULL with errno. */
char *msg_payload(struct msg *m, size_t i, size_t *len);

/* io_copy_range - copy src[off..off+len) to dst's current offset */
int io_copy_range(int src, off_t off, off_t len, int dst);

/* io_copy_lf - io_copy_range with each CRLF written as LF (a CR not
 * followed by LF is kept) */
int io_copy_lf(int src, off_t off, off_t len, int dst);

/* util_write_lf - write p[0..n) to fd with each CRLF as LF */
int util_write_lf(int fd, const char *p, size_t n);

#endif
