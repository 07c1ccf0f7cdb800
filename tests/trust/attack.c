/*
 * attack.c - what a compromised session could try, run with the session's
 * own sandbox (smtpd-session/sandbox.c) as the session's uid; each step
 * prints "STEP ARG: ok" or "STEP ARG: ERRNO-NAME". The suite decides
 * what must fail.
 *
 *   trust-attack [--sandbox|--inherited] STEP ARG [ARG2] ...
 *
 * --inherited takes the accept mode's way into the sandbox: the filter
 * installed on a parent (sandbox_prepare), the steps run in a forked
 * child after its sandbox_enter.
 *
 * steps: list DIR | read FILE | write FILE | rename FROM TO |
 *        unlink FILE | watch DIR | chmod FILE
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *step, const char *arg, int r)
{
	if (r < 0)
		printf("%s %s: %s\n", step, arg, strerrorname_np(errno));
	else
		printf("%s %s: ok\n", step, arg);
}

static int do_list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL)
		n++;
	if (errno) {
		int e = errno;

		closedir(d);
		errno = e;
		return -1;
	}
	closedir(d);
	return n;
}

static int do_read(const char *f)
{
	char b[64];
	int fd = open(f, O_RDONLY | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b));
	close(fd);
	return n < 0 ? -1 : 0;
}

static int do_write(const char *f)
{
	int fd = open(f, O_WRONLY | O_APPEND | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, "forged\r\n", 8);
	close(fd);
	return n < 0 ? -1 : 0;
}

static int do_watch(const char *dir)
{
	int fd = inotify_init1(IN_CLOEXEC);

	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* run_steps - each step of argv from i on, in order; 0, or 64 on a bad
 * step */
static int run_steps(int i, int argc, char **argv)
{
	while (i + 1 < argc) {
		const char *step = argv[i], *a = argv[i + 1];

		if (!strcmp(step, "list")) {
			say(step, a, do_list(a));
		} else if (!strcmp(step, "read")) {
			say(step, a, do_read(a));
		} else if (!strcmp(step, "write")) {
			say(step, a, do_write(a));
		} else if (!strcmp(step, "unlink")) {
			say(step, a, unlink(a));
		} else if (!strcmp(step, "chmod")) {
			say(step, a, chmod(a, 0666));
		} else if (!strcmp(step, "watch")) {
			say(step, a, do_watch(a));
		} else if (!strcmp(step, "rename") && i + 2 < argc) {
			say(step, a, rename(a, argv[i + 2]));
			i++;
		} else {
			fprintf(stderr, "trust-attack: bad step %s\n", step);
			return 64;
		}
		i += 2;
	}
	fflush(stdout);
	return 0;
}

/* inherited - the filter on this process, the steps in a child */
static int inherited(int i, int argc, char **argv)
{
	int st;
	pid_t pid;

	if (sandbox_prepare() != 0) {
		printf("sandbox: %s\n", strerrorname_np(errno));
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		if (sandbox_enter() != 0) {
			printf("sandbox: %s\n", strerrorname_np(errno));
			fflush(stdout);
			_exit(2);
		}
		_exit(run_steps(i, argc, argv));
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return 2;
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	int i = 1;

	if (i < argc && !strcmp(argv[i], "--inherited"))
		return inherited(i + 1, argc, argv);
	if (i < argc && !strcmp(argv[i], "--sandbox")) {
		if (sandbox_enter() != 0) {
			printf("sandbox: %s\n", strerrorname_np(errno));
			return 2;
		}
		i++;
	}
	return run_steps(i, argc, argv);
}
