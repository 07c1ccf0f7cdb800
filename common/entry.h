/* entry.h - the spool entry: an envelope block, our Received header,
 * then the client's message byte-exact; X-Spool-Data-Offset says where
 * the message starts. Format in README.md "The spool". */
#ifndef ENTRY_H
#define ENTRY_H

#include "buf.h"

#include <stddef.h>

#define ENTRY_VERSION 2 /* 1: no X-Spool-Data-Offset (still read) */
#define ENTRY_MAX_ENVELOPE (1024 * 1024)
#define ENTRY_SIZE_WIDTH 20 /* X-Spool-Size is patched in place */
#define ENTRY_OFFSET_WIDTH 10 /* X-Spool-Data-Offset, filled in last */

struct envelope {
	char *queue_id;
	long long time; /* seconds since the epoch */
	char *host;     /* our host_name */
	char *sender;   /* without <>, "" for the null sender */
	char **rcpts;   /* without <> */
	size_t nrcpts;
	char *client_ip;
	unsigned client_port;
	char *proxy;       /* "IP port N via PROXYv2|PROXYv1|XCLIENT": who
			      handed the client over, NULL for a direct one */
	char *client_name; /* XCLIENT NAME, for Received only; NULL unknown */
	char *helo;
	char *protocol; /* SMTP, ESMTP, ESMTPS, SMTPS, UTF8SMTP, UTF8SMTPS */
	char *tls;      /* "none" or "TLS1.3 TLS_AES_256_GCM_SHA384" */
	char *body;     /* 7BIT or 8BITMIME */
	int smtputf8;   /* SMTPUTF8 transaction: X-Spool-SMTPUTF8: yes */
	long long size; /* bytes of message data, -1 before the end */
	/* offsets in the file, set by the reader and by entry_format */
	size_t size_off;     /* where the X-Spool-Size digits start */
	size_t received_off; /* our Received: line */
	size_t data_off;     /* the client's first byte: X-Spool-Data-Offset */
	size_t doff_off;     /* where X-Spool-Data-Offset's digits start */
};

/* entry_field_ok - may this string go into the envelope? No control
 * bytes (CR, LF, NUL, DEL ...): they could forge envelope lines. */
int entry_field_ok(const char *s, size_t len);

#define ENTRY_ID_RANDOM 16 /* random bytes in a queue id */

/* entry_make_id - a queue id unique across processes and hosts: time,
 * microseconds, pid, per-process counter (maildir style), then the random
 * bytes in hex, so that nobody can guess another session's id. Also the
 * file name in the spool, so only [A-Za-z0-9.] appear. */
void entry_make_id(char *buf, size_t size, long long sec, long usec,
                   long pid, unsigned counter,
                   const unsigned char rnd[ENTRY_ID_RANDOM]);

/* entry_format - envelope block plus Received header into b (which must
 * be empty: X-Spool-Data-Offset counts from b's start); sets
 * env->size_off, received_off, data_off. -1 on a field entry_field_ok
 * refuses or on the buffer cap. */
int entry_format(struct buf *b, struct envelope *env);

/* entry_size_digits - the decimal digits to pwrite at size_off */
void entry_size_digits(char out[ENTRY_SIZE_WIDTH + 1], long long size);

/* entry_offset_digits - X-Spool-Data-Offset's digits for off, to pwrite
 * at doff_off; 0, or -1 if off needs more than ENTRY_OFFSET_WIDTH */
int entry_offset_digits(char out[ENTRY_OFFSET_WIDTH + 1], size_t off);

/* entry_parse - parse the envelope at the start of p[0..len) (which must
 * hold at least the envelope and Received header). Fills env with
 * malloc'd strings; data_off from X-Spool-Data-Offset (version 2) or, in
 * a version 1 entry, from the shape of our Received header. 0, or -1
 * with a reason in err. */
int entry_parse(const char *p, size_t len, struct envelope *env,
                const char **err);

/* entry_read_fd - read the envelope from an open spool file (pread from
 * 0); env as entry_parse. */
int entry_read_fd(int fd, struct envelope *env, const char **err);

void entry_free(struct envelope *env);

#endif
