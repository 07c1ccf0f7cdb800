/* test_dirsync.c - the group commit of directory fsyncs: callers that
 * arrive while a round runs share the next round (and never the running
 * one, which may have missed their link), a failed round fails exactly
 * its callers, other directories are not held up. fsync is wrapped
 * (-Wl,--wrap=fsync): it counts, can hold one call at a gate, can fail. */
#include "testutil.h"
#include "dirsync.h"
#include "publish.h"

#include <errno.h>
#include <pthread.h>

int __real_fsync(int fd);

static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcv = PTHREAD_COND_INITIALIZER;
static int ncalls;   /* fsyncs made */
static int hold_at;  /* this call (1-based) waits at the gate */
static int fail_at;  /* this call fails with EIO */
static int held;     /* a call is waiting at the gate */
static int released; /* the gate is open */

int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	int n;

	pthread_mutex_lock(&tmu);
	n = ++ncalls;
	if (n == hold_at) {
		held = 1;
		pthread_cond_broadcast(&tcv);
		while (!released)
			pthread_cond_wait(&tcv, &tmu);
	}
	pthread_mutex_unlock(&tmu);
	if (n == fail_at) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

/* reset - the wrap's state for a new case */
static void reset(int hold, int fail)
{
	pthread_mutex_lock(&tmu);
	ncalls = 0;
	hold_at = hold;
	fail_at = fail;
	held = released = 0;
	pthread_mutex_unlock(&tmu);
}

static void wait_held(void)
{
	pthread_mutex_lock(&tmu);
	while (!held)
		pthread_cond_wait(&tcv, &tmu);
	pthread_mutex_unlock(&tmu);
}

static void release_gate(void)
{
	pthread_mutex_lock(&tmu);
	released = 1;
	pthread_cond_broadcast(&tcv);
	pthread_mutex_unlock(&tmu);
}

static int fsyncs(void)
{
	int n;

	pthread_mutex_lock(&tmu);
	n = ncalls;
	pthread_mutex_unlock(&tmu);
	return n;
}

/* calls_now - dirsync_fsync calls made so far */
static unsigned long long calls_now(void)
{
	unsigned long long c, r;

	dirsync_stats(&c, &r);
	return c;
}

/* wait_calls - until N calls have entered dirsync_fsync */
static void wait_calls(unsigned long long n)
{
	while (calls_now() < n)
		usleep(1000);
}

struct caller {
	pthread_t t;
	int fd;
	int r, e;
	int finished;
};

static void *call_main(void *arg)
{
	struct caller *c = arg;

	c->r = dirsync_fsync(c->fd);
	c->e = errno;
	__atomic_store_n(&c->finished, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int open_dir(const char *d)
{
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void one_caller(void **state)
{
	char *d = tu_tmpdir();
	int fd = open_dir(d);
	(void)state;

	reset(0, 0);
	assert_int_equal(dirsync_fsync(fd), 0);
	assert_int_equal(fsyncs(), 1);
	assert_int_equal(dirsync_fsync(fd), 0);
	assert_int_equal(fsyncs(), 2);
	/* a closed fd: fsync's own error */
	close(fd);
	assert_int_equal(dirsync_fsync(fd), -1);
	assert_int_equal(errno, EBADF);
	tu_rm_rf(d);
	free(d);
}

#define NF 8

/* while round 1 runs, NF callers arrive: they must not count round 1 as
 * theirs, and one round 2 serves them all */
static void followers_share_next_round(void **state)
{
	char *d = tu_tmpdir();
	struct caller lead, f[NF];
	unsigned long long c0 = calls_now();
	int i;
	(void)state;

	reset(1, 0);
	lead.fd = open_dir(d);
	assert_int_equal(pthread_create(&lead.t, NULL, call_main, &lead), 0);
	wait_held();
	for (i = 0; i < NF; i++) {
		f[i].fd = open_dir(d); /* each worker has its own fd */
		f[i].finished = 0;
		assert_int_equal(
			pthread_create(&f[i].t, NULL, call_main, &f[i]), 0);
	}
	wait_calls(c0 + 1 + NF);
	usleep(20000);
	for (i = 0; i < NF; i++) /* round 1 began before they came */
		assert_int_equal(__atomic_load_n(&f[i].finished,
						 __ATOMIC_SEQ_CST),
				 0);
	release_gate();
	assert_int_equal(pthread_join(lead.t, NULL), 0);
	assert_int_equal(lead.r, 0);
	for (i = 0; i < NF; i++) {
		assert_int_equal(pthread_join(f[i].t, NULL), 0);
		assert_int_equal(f[i].r, 0);
		close(f[i].fd);
	}
	assert_int_equal(fsyncs(), 2);
	close(lead.fd);
	tu_rm_rf(d);
	free(d);
}

/* the round that serves the followers fails: each of them gets -1 EIO,
 * the leader of round 1 (it succeeded) 0, and the next caller a round of
 * its own */
static void failed_round_fails_its_callers(void **state)
{
	char *d = tu_tmpdir();
	struct caller lead, f[NF];
	unsigned long long c0 = calls_now();
	int i, fd;
	(void)state;

	reset(1, 2);
	lead.fd = open_dir(d);
	assert_int_equal(pthread_create(&lead.t, NULL, call_main, &lead), 0);
	wait_held();
	for (i = 0; i < NF; i++) {
		f[i].fd = lead.fd;
		assert_int_equal(
			pthread_create(&f[i].t, NULL, call_main, &f[i]), 0);
	}
	wait_calls(c0 + 1 + NF);
	release_gate();
	assert_int_equal(pthread_join(lead.t, NULL), 0);
	assert_int_equal(lead.r, 0);
	for (i = 0; i < NF; i++) {
		assert_int_equal(pthread_join(f[i].t, NULL), 0);
		assert_int_equal(f[i].r, -1);
		assert_int_equal(f[i].e, EIO);
	}
	assert_int_equal(fsyncs(), 2);
	fd = lead.fd;
	assert_int_equal(dirsync_fsync(fd), 0);
	assert_int_equal(fsyncs(), 3);
	close(fd);
	tu_rm_rf(d);
	free(d);
}

/* a round held on one directory does not hold up another */
static void directories_apart(void **state)
{
	char *a = tu_tmpdir(), *b = tu_tmpdir();
	struct caller lead;
	int fb;
	(void)state;

	reset(1, 0);
	lead.fd = open_dir(a);
	assert_int_equal(pthread_create(&lead.t, NULL, call_main, &lead), 0);
	wait_held();
	fb = open_dir(b);
	/* a wrong sharing waits for the gate forever: main's alarm */
	assert_int_equal(dirsync_fsync(fb), 0);
	release_gate();
	assert_int_equal(pthread_join(lead.t, NULL), 0);
	assert_int_equal(lead.r, 0);
	assert_int_equal(fsyncs(), 2);
	close(fb);
	close(lead.fd);
	tu_rm_rf(a);
	tu_rm_rf(b);
	free(a);
	free(b);
}

/* publish_commit goes through the hook once it is set: a failure of the
 * shared round takes the new name back, as a failed fsync would */
static void publish_uses_hook(void **state)
{
	char *d = tu_tmpdir();
	int dfd = open_dir(d), fd;
	const char *tmpname = "t";
	struct stat st;
	unsigned long long c0 = calls_now();
	(void)state;

	publish_set_dirsync(dirsync_fsync);
	reset(0, 2); /* 1: the file, 2: the directory */
	fd = publish_open(dfd, &tmpname, 0600, 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(publish_commit(fd, dfd, tmpname, dfd, "m", 0), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fstatat(dfd, "m", &st, 0), -1);
	reset(0, 0);
	tmpname = "t";
	fd = publish_open(dfd, &tmpname, 0600, 0);
	assert_true(fd >= 0);
	assert_int_equal(publish_commit(fd, dfd, tmpname, dfd, "m", 0), 0);
	assert_int_equal(fstatat(dfd, "m", &st, 0), 0);
	assert_int_equal(fsyncs(), 2);
	assert_int_equal(calls_now(), c0 + 2); /* through the hook */
	publish_set_dirsync(NULL);
	close(dfd);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(one_caller),
		cmocka_unit_test(followers_share_next_round),
		cmocka_unit_test(failed_round_fails_its_callers),
		cmocka_unit_test(directories_apart),
		cmocka_unit_test(publish_uses_hook),
	};

	alarm(60); /* a caller that waits for the wrong round hangs */
	return cmocka_run_group_tests(t, NULL, NULL);
}
