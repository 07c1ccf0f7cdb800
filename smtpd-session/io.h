/* io.h - bounded, timed reads and writes on the session's fds 0 and 1 */
#ifndef IO_H
#define IO_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

enum io_status {
	IO_EOF = 0,
	IO_ERR = -1,
	IO_TIMEOUT = -2,
};

struct io {
	int rfd, wfd;
	int timeout_ms;
	long long deadline; /* reads end here (io_now_ms clock), 0: none */
	int deadline_hit;   /* the last IO_TIMEOUT was the deadline */
	char *in;
	size_t cap, start, end; /* unread input is in[start..end) */
	/* the transport; plain read/write until TLS replaces them */
	ssize_t (*rd)(struct io *io, void *p, size_t n);
	ssize_t (*wr)(struct io *io, const void *p, size_t n);
	size_t (*pending)(struct io *io); /* bytes buffered below us */
	void *ctx;
	int wr_nosock; /* wfd is no socket: plain writes poll first */
};

/* set by the SIGALRM/SIGTERM handler; every blocking call checks it */
extern volatile sig_atomic_t io_stop;

int io_init(struct io *io, int rfd, int wfd, size_t cap, int timeout_ms);
void io_free(struct io *io);

/* io_fill - read more input (blocking up to the timeout); >0 bytes read,
 * or an io_status */
int io_fill(struct io *io);

/* io_write_all - write everything or fail: 0 or an io_status */
int io_write_all(struct io *io, const char *p, size_t n);

/* io_now_ms - a monotonic clock in milliseconds */
long long io_now_ms(void);

/* io_set_deadline - reads give IO_TIMEOUT (deadline_hit set) at the
 * io_now_ms() time at, however much trickles in before; 0: none */
void io_set_deadline(struct io *io, long long at);

/* io_pause - wait ms milliseconds (the error delay), or less if io_stop
 * is set meanwhile */
void io_pause(long long ms);

#endif
