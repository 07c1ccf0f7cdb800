/* processor.h - one step of the save_process chain, and the message
 * every step sees. Processors are registered like OpenSMTPD's queue
 * backends: a table of function pointers, looked up by name; the table is
 * processors.def, one row per processor. */
#ifndef PROCESSOR_H
#define PROCESSOR_H

#include "cfg.h"
#include "entry.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum proc_res { PROC_OK, PROC_TEMP, PROC_PERM };

#define PROC_WHY_MAX 600

/* needs and provides: what a processor takes from an earlier one of the
 * chain and what it leaves for later ones (proc_ops.needs, .provides).
 * chain_parse checks that every need is provided further left. Each has
 * an accessor; its product belongs to the per-message state of the
 * processor that made it (msg_provide). */
#define PROV_HEADERS 0x01u    /* parsed headers: msg_headers */
#define PROV_HEAD 0x02u       /* delivery headers made: msg_head */
#define PROV_HASH 0x04u       /* one hash per recipient: msg_hash */
#define PROV_COMPRESSED 0x08u /* compressed payload: msg_payload */
#define PROV_REDIS 0x10u      /* every recipient's copy in Redis */
#define PROV_N 5

/* what HeadersParser found (PROV_HEADERS); strings malloc'd, UTF-8,
 * NULL if absent */
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

/* msg_zbody - Compressor's product (PROV_COMPRESSED): the zlib level,
 * and the message data compressed once, as raw deflate ending on a byte
 * boundary, that msg_payload wraps for each recipient */
struct msg_zbody {
	int level;
	int built;
	unsigned char *z;
	size_t zlen;
	unsigned long adler; /* adler32 of the data */
};

struct msg_rcpt {
	const char *addr; /* env.rcpts[i] */
	char *head;       /* delivery headers (CRLF): msg_head's, once */
	char dest[320];   /* where the stores put it, for the log line:
			   * "path" or "redis:key,mysql:table"; msg_dest */
};

struct proc_ops;

#define MSG_SLOTS 16

/* msg - one spool entry being delivered. The fields are shared and
 * read-only to processors (msg_dest writes dest); what a processor keeps
 * for one message is its per-message state (msg_state), what it gives
 * later processors a product (msg_provide). */
struct msg {
	struct envelope env;
	int fd;            /* the entry, read-only, claimed in cur/ */
	off_t file_size;
	struct timespec mtime, ctime; /* at claim: a change means a writer */
	int redelivery;    /* tried before (crash or retry): check keys */
	const struct cfg *cfg;
	int statefd;       /* spool state/ dir (journals) */
	const char *name;  /* the file name in the spool */
	struct msg_rcpt *rcpt; /* env.nrcpts of them */
	unsigned attempts; /* earlier attempts of this entry */
	int compress;      /* for processors written before msg_compressed:
			    * Compressor's zlib level + 1, else 0; set by
			    * msg_provide, never by a processor */
	char *data;        /* the stored message (Received + data), read
			    * on demand by msg_data; NULL before */
	size_t data_len;
	/* msg.c's own: per-message states, products */
	struct {
		const struct proc_ops *p;
		void *st;
	} slot[MSG_SLOTS];
	size_t nslot;
	void *prod[PROV_N];
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
	 * INSERT); res[i] for each, the reason in why[i] (whylen bytes) */
	void (*deliver_batch)(void *state, struct msg **m, size_t n,
			      enum proc_res *res, char **why, size_t whylen);
	/* check - optional start-up probe: is the store reachable, does
	 * the table exist? 0, or -1 with what is wrong in err */
	int (*check)(const struct cfg *cfg, char *err, size_t errlen);
	/* what it needs from earlier processors and provides (PROV_*) */
	unsigned needs, provides;
	/* autoprovides - needs chain_parse may satisfy by inserting this
	 * processor, unnamed, before the one that has them (go-guerrilla
	 * configs name Redis without Hasher); logged */
	unsigned autoprovides;
	/* mstate_new / mstate_free - optional per-message state, made on
	 * the first msg_state call, freed with the message */
	void *(*mstate_new)(struct msg *m);
	void (*mstate_free)(void *mstate);
};

/* A processor written against the first eight fields (name to check,
 * positional) stays valid: the fields after check are zero for it, which
 * is what it means. -Wextra would call each such row an error. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PROC(sym) extern const struct proc_ops sym;
#include "processors.def"
#undef PROC

/* msg_state - p's per-message state for m, made by p->mstate_new on the
 * first call; NULL (out of memory, or p has none) */
void *msg_state(struct msg *m, const struct proc_ops *p);

/* msg_provide - publish the product of one PROV_* bit (owned by the
 * caller's per-message state; NULL withdraws it) */
void msg_provide(struct msg *m, unsigned what, void *product);

/* msg_product - the product of one PROV_* bit, NULL if not made */
void *msg_product(const struct msg *m, unsigned what);

/* msg_headers - the parsed headers (all NULL without HeadersParser) */
const struct msg_headers *msg_headers(const struct msg *m);

/* msg_hash - recipient i's hex MD5 from Hasher, "" without one */
const char *msg_hash(const struct msg *m, size_t i);

/* msg_compressed - does msg_payload compress (Compressor ran)? */
int msg_compressed(const struct msg *m);

/* prov_name - "a hash" for PROV_HASH etc., for messages */
const char *prov_name(unsigned what);

/* msg_head - the delivery headers for recipient i: Header's text, or the
 * same text built on the spot when the chain has no Header */
const char *msg_head(struct msg *m, size_t i);

/* msg_make_head - "Return-Path: <s>\r\nDelivered-To: r\r\n", malloc'd */
char *msg_make_head(const struct msg *m, size_t i);

/* msg_dest - add where a store put recipient i's copy to its log
 * line (", "-separated when several stores keep it) */
void msg_dest(struct msg *m, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* msg_free_parts - everything processors attached to m (per-message
 * states, products, heads, data; not env, not fd) */
void msg_free_parts(struct msg *m);

/* msg_data - the message as stored (our Received header, then the
 * client's data), read from the entry once; NULL with errno */
const char *msg_data(struct msg *m, size_t *len);

/* msg_payload - what a store keeps for recipient i: the delivery
 * headers and msg_data, zlib-compressed when Compressor ran (one zlib
 * stream; the data is compressed once per message). malloc'd; NULL with
 * errno. */
char *msg_payload(struct msg *m, size_t i, size_t *len);

/* msg_with_head - head (a NUL-terminated header block) followed by
 * msg_data, byte-exact and NUL-terminated. malloc'd; NULL with errno. */
char *msg_with_head(struct msg *m, const char *head, size_t *len);

/* io_copy_range - copy src[off..off+len) to dst's current offset */
int io_copy_range(int src, off_t off, off_t len, int dst);

/* io_copy_lf - io_copy_range with each CRLF written as LF (a CR not
 * followed by LF is kept) */
int io_copy_lf(int src, off_t off, off_t len, int dst);

/* util_write_lf - write p[0..n) to fd with each CRLF as LF */
int util_write_lf(int fd, const char *p, size_t n);

#endif
