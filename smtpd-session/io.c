/*
 * io.c - the session's only reads and writes.
 *
 * Every wait is bounded: poll() with the server's `timeout` before each
 * read and before each write that could block (a plain write to a socket
 * is tried first with MSG_DONTWAIT and polls only when the socket's
 * buffer is full: one syscall per reply instead of two); reads also end
 * at a deadline (io_set_deadline:
 * run.c gives each command line and each DATA phase one, so a client
 * that sends a byte now and then cannot hold a session past it), and
 * io_stop (set by the whole-session alarm or
 * SIGTERM, installed without SA_RESTART) ends any wait. read and write
 * (send only where it is a socket), so a plain pipe works as well as a
 * socket. The input buffer
 * has a fixed size taken at start; nothing grows with client input.
 */
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t io_stop;

static ssize_t plain_rd(struct io *io, void *p, size_t n)
{
	return read(io->rfd, p, n);
}

/* plain_wr - never blocks on a socket (MSG_DONTWAIT: the fd's own flags
 * are left alone, the file description may be shared with a launcher);
 * anything else after a poll, at most PIPE_BUF at a time: a pipe that
 * polls writable has room for that much, where a longer write could
 * block past the timeout */
static ssize_t plain_wr(struct io *io, const void *p, size_t n)
{
	if (!io->wr_nosock) {
		ssize_t r = send(io->wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r >= 0 || errno != ENOTSOCK)
			return r;
		io->wr_nosock = 1;
	}
	return write(io->wfd, p, n > PIPE_BUF ? PIPE_BUF : n);
}

/* polls_first - must the next write wait for POLLOUT before it is tried?
 * Not a plain write to a socket (MSG_DONTWAIT: it cannot block) */
static int polls_first(const struct io *io)
{
	return io->wr != plain_wr || io->wr_nosock;
}

static size_t plain_pending(struct io *io)
{
	(void)io;
	return 0;
}

int io_init(struct io *io, int rfd, int wfd, size_t cap, int timeout_ms)
{
	memset(io, 0, sizeof(*io));
	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout_ms = timeout_ms;
	io->cap = cap;
	io->in = malloc(cap);
	io->rd = plain_rd;
	io->wr = plain_wr;
	io->pending = plain_pending;
	return io->in ? 0 : -1;
}

void io_free(struct io *io)
{
	free(io->in);
	io->in = NULL;
}

long long io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void io_set_deadline(struct io *io, long long at)
{
	io->deadline = at;
	io->deadline_hit = 0;
}

/* wait_ms - the poll timeout for ev: the idle timeout, or what is left
 * before the deadline for a read; -1 when the deadline has passed */
static int wait_ms(struct io *io, short ev)
{
	long long left;

	if (ev != POLLIN || !io->deadline)
		return io->timeout_ms;
	left = io->deadline - io_now_ms();
	if (left <= 0) {
		io->deadline_hit = 1;
		return -1;
	}
	return left < io->timeout_ms ? (int)left : io->timeout_ms;
}

/* wait_fd - poll one fd for ev; 1 ready, or an io_status. Only reads
 * give up at io_stop: replies already queued (a 250 for a message that is
 * in the spool, a 221) are still written, bounded by the timeout, so the
 * client never hears 421 for a message we accepted. */
static int wait_fd(struct io *io, int fd, short ev)
{
	struct pollfd pfd = {fd, ev, 0};

	for (;;) {
		int r;

		int ms;

		if (io_stop && ev == POLLIN)
			return IO_TIMEOUT;
		ms = wait_ms(io, ev);
		if (ms < 0)
			return IO_TIMEOUT;
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0) {
			/* the deadline, when it came before the idle time */
			if (ms < io->timeout_ms)
				io->deadline_hit = 1;
			return IO_TIMEOUT;
		}
		if (errno != EINTR)
			return IO_ERR;
	}
}

int io_fill(struct io *io)
{
	if (io->start == io->end) {
		io->start = io->end = 0;
	} else if (io->end == io->cap && io->start > 0) {
		memmove(io->in, io->in + io->start, io->end - io->start);
		io->end -= io->start;
		io->start = 0;
	}
	if (io->end == io->cap)
		return IO_ERR; /* caller's bug: nothing consumed */
	for (;;) {
		ssize_t r;

		if (!io->pending(io)) {
			int w = wait_fd(io, io->rfd, POLLIN);

			if (w < 0)
				return w;
		}
		r = io->rd(io, io->in + io->end, io->cap - io->end);
		if (r > 0) {
			io->end += (size_t)r;
			return (int)r;
		}
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		return errno == ETIMEDOUT ? IO_TIMEOUT : IO_ERR;
	}
}

int io_write_all(struct io *io, const char *p, size_t n)
{
	int wait = polls_first(io);

	while (n) {
		ssize_t r;

		if (wait) {
			int w = wait_fd(io, io->wfd, POLLOUT);

			if (w < 0)
				return w;
		}
		r = io->wr(io, p, n);
		wait = polls_first(io);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait = 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return IO_ERR;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void io_pause(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	/* SIGALRM and SIGTERM interrupt it (no SA_RESTART) */
	while (!io_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
