/* data.h - the DATA byte machine: dot-unstuffing, CRLF.CRLF, limits */
#ifndef DATA_H
#define DATA_H

#include <stddef.h>

/* sink for unstuffed message bytes; returns 0 or -1 (latched by caller) */
typedef int (*data_sink_fn)(void *arg, const char *p, size_t n);

struct data_rd {
	int state;
	long long size;  /* message bytes seen (after unstuffing) */
	long long max;   /* max_size: past it nothing more is emitted */
	int bare;        /* a bare CR or LF was seen */
	int toolarge;    /* size went past max */
	int sink_failed; /* the sink returned -1 once */
};

enum data_status { DATA_MORE, DATA_END };

void data_init(struct data_rd *d, long long max);

/* data_feed - consume in[0..n); *used tells how much, which is less than
 * n only at DATA_END (the rest are the next commands). */
enum data_status data_feed(struct data_rd *d, const char *in, size_t n,
                           size_t *used, data_sink_fn sink, void *arg);

#endif
