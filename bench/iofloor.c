/*
 * iofloor.c - the CPU floor of our durable path: only the file system
 * calls that a message costs, with no SMTP, no TCP, no fork and no
 * parsing. P processes share one spool and one Maildir, as sessions and
 * spoolerd's workers do; each message is
 *
 *   intake (the session, smtpd-session/spool.c + common/publish.c):
 *     openat(tmp, O_TMPFILE) ; write envelope ; write 5 KB ; pwrite ;
 *     fsync ; linkat(new/ID) ; close ; fsync(new/)
 *   delivery (spoolerd: claim, Maildir copy, done):
 *     renameat(new/ID, cur/ID) ; openat ; pread ; openat(maildir tmp,
 *     O_TMPFILE) ; write ; fsync ; linkat(maildir new/NAME) ; close ;
 *     fsync(maildir new/) ; unlinkat(cur/ID) ; close
 *
 * and prints the rate and the CPU (user + system of every process, from
 * getrusage) per message of each half and of both. Whatever a server
 * adds to this, it cannot go below it on this machine and file system.
 * A third phase measures what one process per connection costs at the
 * least, apart: fork, the child's _exit and the parent's wait, P
 * processes forking at once (a child that does nothing: the sessions'
 * own page faults after the fork come on top).
 *
 *   iofloor DIR [PROCS [MESSAGES [SIZE]]]    (50, 4000, 5120)
 *
 * DIR must not exist or be empty; it is left empty. Built with
 * common/util.c: cc -O2 -Icommon bench/iofloor.c common/util.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static _Noreturn void die(const char *what)
{
	perror(what);
	_exit(1);
}

static int opendir_at(int d, const char *name)
{
	if (mkdirat(d, name, 0700) < 0 && errno != EEXIST)
		die(name);
	int fd = openat(d, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die(name);
	return fd;
}

struct dirs {
	int tmp, new, cur, mtmp, mnew;
};

static void intake(const struct dirs *d, const char *id, const char *msg,
		   size_t size)
{
	static const char env[] =
		"X-Spool-Version: 1\nX-Spool-Size: 0000000000\n"
		"X-Spool-From: <bench@client.test>\n"
		"X-Spool-Rcpt: <to@example.com>\n\n";
	int fd = openat(d->tmp, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);

	if (fd < 0)
		die("openat O_TMPFILE");
	if (util_write_all(fd, env, sizeof(env) - 1) < 0 ||
	    util_write_all(fd, msg, size) < 0)
		die("write");
	if (pwrite(fd, "0000005120", 10, 29) != 10)
		die("pwrite");
	if (fsync(fd) < 0)
		die("fsync");
	if (linkat(fd, "", d->new, id, AT_EMPTY_PATH) < 0)
		die("linkat");
	if (close(fd) < 0 || fsync(d->new) < 0)
		die("fsync new/");
}

static void deliver(const struct dirs *d, const char *id, char *buf,
		    size_t size)
{
	char name[128];
	int fd, out;
	ssize_t n;

	if (renameat(d->new, id, d->cur, id) < 0)
		die("renameat");
	fd = openat(d->cur, id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("openat cur");
	n = pread(fd, buf, size + 256, 0);
	if (n < 0)
		die("pread");
	out = openat(d->mtmp, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (out < 0)
		die("openat maildir O_TMPFILE");
	if (util_write_all(out, buf, (size_t)n) < 0)
		die("write");
	snprintf(name, sizeof(name), "%s.R0.localhost", id);
	if (fsync(out) < 0 || linkat(out, "", d->mnew, name, AT_EMPTY_PATH) < 0)
		die("maildir publish");
	if (close(out) < 0 || fsync(d->mnew) < 0)
		die("fsync maildir new/");
	if (unlinkat(d->cur, id, 0) < 0)
		die("unlinkat");
	close(fd);
}

/* count - argument i as a number up to max, dflt when absent, 0 when
 * it is not one */
static unsigned long count(int argc, char **argv, int i, unsigned long dflt,
			   unsigned long max)
{
	unsigned long v;

	if (i >= argc)
		return dflt;
	return util_parse_ulong(argv[i], strlen(argv[i]), max, &v) < 0 ? 0
									  : v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double child_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* spawn - one connection's process at the least */
static void spawn(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, NULL, 0) != pid)
		die("waitpid");
}

/* phase - PROCS processes, MESSAGES in all; 0 intake, 1 delivery,
 * 2 fork */
static void phase(const struct dirs *d, int procs, int msgs, size_t size,
		  int which, const char *label, double *cpu_ms)
{
	double t0 = now(), c0 = child_cpu(), t, c;
	int p;

	for (p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			char *buf = malloc(size + 512), id[64];
			int i;

			if (!buf) {
				perror("malloc");
				_exit(1);
			}
			memset(buf, 'x', size);
			for (i = p; i < msgs; i += procs) {
				snprintf(id, sizeof(id), "%d.P%d", i, p);
				if (which == 0)
					intake(d, id, buf, size);
				else if (which == 1)
					deliver(d, id, buf, size);
				else
					spawn();
			}
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	t = now() - t0;
	c = child_cpu() - c0;
	*cpu_ms = c * 1000.0 / msgs;
	/* the fields stay where bench/targets.sh reads them ($4, $6) */
	if (which == 2)
		printf("%-9s %6d forks     %8.0f fork/s %6.3f ms CPU per fork\n",
		       label, msgs, msgs / t, *cpu_ms);
	else
		printf("%-9s %6d messages  %8.0f msg/s  %6.3f ms CPU per "
		       "message\n", label, msgs, msgs / t, *cpu_ms);
}

int main(int argc, char **argv)
{
	int procs = (int)count(argc, argv, 2, 50, 10000);
	int msgs = (int)count(argc, argv, 3, 4000, 100000000);
	size_t size = count(argc, argv, 4, 5120, 1 << 30);
	double a, b, f;
	struct dirs d;
	int top, md;

	if (argc < 2 || argc > 5 || procs < 1 || msgs < 1 || size < 1) {
		fprintf(stderr, "usage: iofloor DIR [PROCS [MESSAGES [SIZE]]]\n");
		return 2;
	}
	if (mkdir(argv[1], 0700) < 0 && errno != EEXIST)
		die(argv[1]);
	top = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		die(argv[1]);
	d.tmp = opendir_at(top, "tmp");
	d.new = opendir_at(top, "new");
	d.cur = opendir_at(top, "cur");
	md = opendir_at(top, "Maildir");
	d.mtmp = opendir_at(md, "tmp");
	d.mnew = opendir_at(md, "new");
	printf("iofloor: %d processes, %zu-byte messages, %s\n", procs, size,
	       argv[1]);
	phase(&d, procs, msgs, size, 0, "intake", &a);
	phase(&d, procs, msgs, size, 1, "delivery", &b);
	printf("%-9s %6d messages  %17s %6.3f ms CPU per message\n", "both",
	       msgs, "", a + b);
	phase(&d, procs, msgs, size, 2, "fork", &f);
	/* leave DIR empty: the Maildir copies go */
	for (int i = 0; i < msgs; i++) {
		char name[128];

		snprintf(name, sizeof(name), "%d.P%d.R0.localhost", i, i % procs);
		unlinkat(d.mnew, name, 0);
	}
	return 0;
}
