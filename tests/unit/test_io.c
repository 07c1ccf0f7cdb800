/* test_io.c - io.c on pipes: reads into the fixed buffer (compaction, a
 * full buffer, EOF), timeouts and io_stop, writes in pieces, and every
 * error the transport or poll() can give (the transport through io's own
 * function pointers, poll wrapped with -Wl,--wrap) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

/* poll fails with these errnos in turn (0 ends the list) */
static int poll_errs[4], poll_next;

int __real_poll(struct pollfd *p, nfds_t n, int t);
int __wrap_poll(struct pollfd *p, nfds_t n, int t)
{
	if (poll_errs[poll_next]) {
		errno = poll_errs[poll_next++];
		return -1;
	}
	return __real_poll(p, n, t);
}

/* fortified builds may call __poll_chk instead */
int __real___poll_chk(struct pollfd *p, nfds_t n, int t, size_t len);
int __wrap___poll_chk(struct pollfd *p, nfds_t n, int t, size_t len)
{
	if (poll_errs[poll_next]) {
		errno = poll_errs[poll_next++];
		return -1;
	}
	return __real___poll_chk(p, n, t, len);
}

/* a scripted transport: each call takes the next result; >0 moves that
 * many bytes, 0 is EOF, <0 fails with -result as errno */
static int script[8], step, calls;
static char wrote[64];
static size_t nwrote;
static size_t pend;

static ssize_t next(void)
{
	int r = script[step++];

	calls++;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static ssize_t fake_rd(struct io *io, void *p, size_t n)
{
	ssize_t r = next();

	(void)io;
	if (r > 0) {
		r = (size_t)r < n ? r : (ssize_t)n;
		memset(p, 'x', (size_t)r);
	}
	return r;
}

static ssize_t fake_wr(struct io *io, const void *p, size_t n)
{
	ssize_t r = next();

	(void)io;
	if (r > 0) {
		r = (size_t)r < n ? r : (ssize_t)n;
		memcpy(wrote + nwrote, p, (size_t)r);
		nwrote += (size_t)r;
	}
	return r;
}

static size_t fake_pending(struct io *io)
{
	(void)io;
	return pend;
}

static int pfd[2];
static struct io io;

static int setup(void **state)
{
	(void)state;
	memset(script, 0, sizeof(script));
	memset(poll_errs, 0, sizeof(poll_errs));
	step = calls = poll_next = 0;
	nwrote = pend = 0;
	io_stop = 0;
	if (pipe(pfd) < 0)
		return -1;
	return io_init(&io, pfd[0], pfd[1], 8, 50);
}

static int teardown(void **state)
{
	(void)state;
	io_free(&io);
	assert_null(io.in);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

static void test_fill(void **state)
{
	(void)state;
	assert_int_equal(write(pfd[1], "abcdef", 6), 6);
	assert_int_equal(io_fill(&io), 6);
	assert_memory_equal(io.in, "abcdef", 6);
	/* 4 consumed: the next read appends after the 2 left */
	io.start = 4;
	assert_int_equal(write(pfd[1], "gh", 2), 2);
	assert_int_equal(io_fill(&io), 2);
	assert_int_equal(io.end, 8);
	/* the buffer is full: what is unread moves to the front */
	assert_int_equal(write(pfd[1], "ijkl", 4), 4);
	assert_int_equal(io_fill(&io), 4);
	assert_int_equal(io.start, 0);
	assert_memory_equal(io.in, "efghijkl", 8);
	/* full and nothing consumed: the caller's bug, not a read */
	assert_int_equal(io_fill(&io), IO_ERR);
	/* all consumed: start again at the front */
	io.start = io.end;
	assert_int_equal(write(pfd[1], "m", 1), 1);
	assert_int_equal(io_fill(&io), 1);
	assert_int_equal(io.start, 0);
	assert_int_equal(io.in[0], 'm');
	io.start = io.end;
	close(pfd[1]);
	pfd[1] = -1;
	assert_int_equal(io_fill(&io), IO_EOF);
}

static void test_fill_timeout(void **state)
{
	(void)state;
	/* nothing for 50 ms */
	assert_int_equal(io_fill(&io), IO_TIMEOUT);
	/* the session alarm: no wait at all, even with input there */
	assert_int_equal(write(pfd[1], "a", 1), 1);
	io_stop = 1;
	assert_int_equal(io_fill(&io), IO_TIMEOUT);
	io_stop = 0;
	/* a signal interrupts poll: it waits again */
	poll_errs[0] = EINTR;
	assert_int_equal(io_fill(&io), 1);
	assert_int_equal(poll_next, 1);
	/* any other poll error is an I/O error */
	poll_errs[1] = ENOMEM;
	assert_int_equal(io_fill(&io), IO_ERR);
}

/* a deadline ends reads however the input trickles in: bytes keep
 * coming faster than the idle timeout, the deadline still ends it */
static void test_fill_deadline(void **state)
{
	long long t0 = io_now_ms();
	int n = 0, st;

	(void)state;
	io.timeout_ms = 5000;
	io_set_deadline(&io, t0 + 120);
	for (;;) {
		assert_int_equal(write(pfd[1], "a", 1), 1);
		st = io_fill(&io);
		if (st < 0)
			break;
		io.start = io.end;
		n++;
		assert_true(n < 1000);
		usleep(10000);
	}
	assert_int_equal(st, IO_TIMEOUT);
	assert_int_equal(io.deadline_hit, 1);
	assert_true(io_now_ms() - t0 >= 110);
	assert_true(io_now_ms() - t0 < 2000);
	assert_true(n >= 3);
	/* silence: the poll waits only what is left of the deadline */
	io_set_deadline(&io, io_now_ms() + 50);
	io.start = io.end;
	while (io_fill(&io) > 0)
		io.start = io.end;
	assert_int_equal(io.deadline_hit, 1);
	/* none: reads as before */
	io_set_deadline(&io, 0);
	assert_int_equal(write(pfd[1], "b", 1), 1);
	assert_int_equal(io_fill(&io), 1);
	assert_int_equal(io.deadline_hit, 0);
}

static void test_fill_transport(void **state)
{
	static const struct {
		int script[4];
		int want, calls;
	} t[] = {
	    {{-EINTR, -EAGAIN, 3}, 3, 3},
	    {{-ETIMEDOUT}, IO_TIMEOUT, 1},
	    {{-EIO}, IO_ERR, 1},
	    {{0}, IO_EOF, 1},
	};
	size_t i;

	(void)state;
	io.rd = fake_rd;
	io.pending = fake_pending;
	/* TLS holds decrypted bytes: read without waiting for the fd */
	pend = 1;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(script, t[i].script, sizeof(t[i].script));
		step = calls = 0;
		io.start = io.end = 0;
		assert_int_equal(io_fill(&io), t[i].want);
		assert_int_equal(calls, t[i].calls);
	}
}

static void test_write(void **state)
{
	char big[70000];
	int fl;

	(void)state;
	assert_int_equal(io_write_all(&io, "hello", 5), 0);
	assert_int_equal(read(pfd[0], big, sizeof(big)), 5);
	/* a pipe that nobody drains: the write times out */
	fl = fcntl(pfd[1], F_GETFL);
	fcntl(pfd[1], F_SETFL, fl | O_NONBLOCK);
	memset(big, 'a', sizeof(big));
	assert_int_equal(io_write_all(&io, big, sizeof(big)), IO_TIMEOUT);
	/* io_stop does not stop replies already queued */
	while (read(pfd[0], big, sizeof(big)) == sizeof(big))
		;
	io_stop = 1;
	assert_int_equal(io_write_all(&io, "x", 1), 0);
	io_stop = 0;
	/* poll failing */
	poll_errs[0] = EBADF;
	assert_int_equal(io_write_all(&io, "x", 1), IO_ERR);
}

static void test_write_transport(void **state)
{
	(void)state;
	io.wr = fake_wr;
	/* pieces, interruptions, then all of it */
	script[0] = 2;
	script[1] = -EINTR;
	script[2] = -EAGAIN;
	script[3] = 3;
	assert_int_equal(io_write_all(&io, "hello", 5), 0);
	assert_int_equal(nwrote, 5);
	assert_memory_equal(wrote, "hello", 5);
	/* a write that writes nothing, or fails */
	script[4] = 0;
	assert_int_equal(io_write_all(&io, "x", 1), IO_ERR);
	script[5] = -EPIPE;
	assert_int_equal(io_write_all(&io, "x", 1), IO_ERR);
	assert_int_equal(io_write_all(&io, "", 0), 0);
	assert_int_equal(step, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fill_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fill_deadline, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fill_transport, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_transport, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
