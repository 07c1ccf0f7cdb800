/*
 * pipe_run.c - run one command for the Pipe processor: fork, exec, feed
 * its stdin, collect its output, wait for it within a deadline.
 *
 * Between fork and exec only async-signal-safe calls (spoolerd has
 * threads): the child leads its own process group (setsid), gets default
 * signal dispositions (spoolerd ignores SIGPIPE, and exec keeps SIG_IGN)
 * and an empty mask, fds 0-2 on our pipes and nothing else (close_range
 * from 4; 3 reports a failed exec and is closed by it), umask 077, cwd /,
 * and under root setgroups, setgid, setuid to pipe_user's ids, resolved
 * before the fork. A failure there is an errno on fd 3.
 *
 * The parent writes stdin while it drains stdout and stderr, all three
 * non-blocking under one poll(), so a child that does not read (EPIPE:
 * stdin is closed, the exit status decides) or writes a lot cannot block
 * it. The exit is seen through a pidfd in the same poll (every 20 ms with
 * waitpid where there is none). Past the deadline the whole group gets
 * SIGKILL. At most OUT_KEEP bytes of stdout and of stderr are kept.
 */
#include "pipe_run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_KEEP 512

/* child - between fork and exec: only async-signal-safe calls; a failure
 * is reported as an errno on fd 3 (close-on-exec) */
static void child(const struct pipe_job *pp, int in, int out, int errfd,
                  int rep, char **argv, char **envp)
{
	struct sigaction sa;
	sigset_t none;
	int fi, fo, fe, fx, s, e;

	setsid(); /* its own process group: the timeout kills all of it */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL); /* SIGPIPE was ignored */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* above 2 first, so that no dup2 below clobbers another */
	fi = fcntl(in, F_DUPFD, 4);
	fo = fcntl(out, F_DUPFD, 4);
	fe = fcntl(errfd, F_DUPFD, 4);
	fx = fcntl(rep, F_DUPFD_CLOEXEC, 4);
	if (fi < 0 || fo < 0 || fe < 0 || fx < 0 || dup2(fi, 0) < 0 ||
	    dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || dup3(fx, 3, O_CLOEXEC) < 0)
		goto fail;
	if (close_range(4, ~0U, 0) < 0)
		goto fail;
	if (pp->setid && (setgroups((size_t)pp->ngroups, pp->groups) < 0 ||
			  setgid(pp->gid) < 0 || setuid(pp->uid) < 0))
		goto fail;
	umask(077);
	if (chdir("/") < 0)
		goto fail;
	execve(argv[0], argv, envp);
fail:
	e = errno;
	(void)!write(fx >= 0 ? 3 : rep, &e, sizeof(e));
	_exit(127);
}

/* keep - append up to OUT_KEEP bytes of what was read */
static void keep(char *dst, size_t *len, const char *p, size_t n)
{
	size_t room = OUT_KEEP - *len;

	if (n > room)
		n = room;
	memcpy(dst + *len, p, n);
	*len += n;
}

/* drain - read what fd has now; 0 open, 1 at EOF (or an error) */
static int drain(int fd, char *dst, size_t *len)
{
	char buf[16384];
	int k;

	for (k = 0; k < 64; k++) { /* bounded: a flood waits its turn */
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r > 0) {
			keep(dst, len, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		return 1;
	}
	return 0;
}

/* first_line - the first non-empty line of p[0..n), printable */
static void first_line(const char *p, size_t n, char *out, size_t on)
{
	size_t s = 0, e;

	while (s < n && (p[s] == '\n' || p[s] == '\r' || p[s] == ' '))
		s++;
	for (e = s; e < n && p[e] != '\n' && p[e] != '\r'; e++)
		;
	util_printable(out, on, p + s, e - s, 200);
}

/* pipe_run - one command, from fork to its exit or the deadline */
enum proc_res pipe_run(const struct pipe_job *pp, char **argv, char **envp,
                       const char *const *in, const size_t *inlen,
                       size_t nin, char *why, size_t n)
{
	int pi[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
	int px[2] = {-1, -1}, pidfd = -1, status = 0, e = 0;
	char out[OUT_KEEP], err[OUT_KEEP], line[900];
	size_t outl = 0, errl = 0, seg = 0, off = 0;
	long long deadline;
	int done_out = 0, done_err = 0, exited = 0, timed_out = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(pi, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
	    pipe2(pe, O_CLOEXEC) < 0 || pipe2(px, O_CLOEXEC) < 0) {
		snprintf(why, n, "Pipe: pipe: %s", strerror(errno));
		goto fail_fds;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, n, "Pipe: fork: %s", strerror(errno));
		goto fail_fds;
	}
	if (pid == 0)
		child(pp, pi[0], po[1], pe[1], px[1], argv, envp);
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	close(px[1]);
	pi[0] = po[1] = pe[1] = px[1] = -1;
	/* EOF here: the exec happened (or the child died before it) */
	do
		r = read(px[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(px[0]);
	px[0] = -1;
	if (r == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		snprintf(why, n, "Pipe: %.200s: cannot execute: %s", argv[0],
			 strerror(e));
		close(pi[1]);
		close(po[0]);
		close(pe[0]);
		return PROC_TEMP;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	fcntl(pi[1], F_SETFL, O_NONBLOCK);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	while (seg < nin && inlen[seg] == 0)
		seg++;
	if (seg == nin) {
		close(pi[1]);
		pi[1] = -1;
	}
	deadline = util_mono_ms() + pp->timeout_ms;
	while (!exited) {
		struct pollfd fds[4];
		nfds_t nf = 0;
		int wi = -1, oi = -1, ei = -1, xi = -1, wait_ms;
		long long left = deadline - util_mono_ms();

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (pi[1] >= 0) {
			wi = (int)nf;
			fds[nf].fd = pi[1];
			fds[nf++].events = POLLOUT;
		}
		if (!done_out) {
			oi = (int)nf;
			fds[nf].fd = po[0];
			fds[nf++].events = POLLIN;
		}
		if (!done_err) {
			ei = (int)nf;
			fds[nf].fd = pe[0];
			fds[nf++].events = POLLIN;
		}
		if (pidfd >= 0) {
			xi = (int)nf;
			fds[nf].fd = pidfd;
			fds[nf++].events = POLLIN;
		}
		/* without a pidfd, look for the exit every 20 ms */
		wait_ms = pidfd >= 0 ? (int)(left > 60000 ? 60000 : left)
				     : (int)(left > 20 ? 20 : left);
		if (poll(fds, nf, wait_ms) < 0 && errno != EINTR) {
			snprintf(why, n, "Pipe: poll: %s", strerror(errno));
			timed_out = 2;
			break;
		}
		if (wi >= 0 && fds[wi].revents) {
			r = write(pi[1], in[seg] + off, inlen[seg] - off);
			if (r > 0) {
				off += (size_t)r;
				while (seg < nin && off == inlen[seg]) {
					seg++;
					off = 0;
				}
			}
			/* EPIPE: it stopped reading; its status decides */
			if (seg == nin ||
			    (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(pi[1]);
				pi[1] = -1;
			}
		}
		if (oi >= 0 && fds[oi].revents)
			done_out = drain(po[0], out, &outl);
		if (ei >= 0 && fds[ei].revents)
			done_err = drain(pe[0], err, &errl);
		if (xi >= 0 && !fds[xi].revents)
			continue;
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			exited = 1;
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else {
		/* what it wrote just before it exited */
		if (!done_out)
			drain(po[0], out, &outl);
		if (!done_err)
			drain(pe[0], err, &errl);
	}
	if (pi[1] >= 0)
		close(pi[1]);
	close(po[0]);
	close(pe[0]);
	if (pidfd >= 0)
		close(pidfd);
	if (timed_out == 2)
		return PROC_TEMP;
	if (timed_out) {
		char d[32];

		util_format_duration(pp->timeout_ms, d, sizeof(d));
		snprintf(why, n, "Pipe: %.200s: timed out after %s, killed",
			 argv[0], d);
		return PROC_TEMP;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return PROC_OK;
	first_line(err, errl, line, sizeof(line));
	if (!line[0])
		first_line(out, outl, line, sizeof(line));
	if (WIFSIGNALED(status)) {
		snprintf(why, n, "Pipe: %.200s: killed by signal %d%s%s",
			 argv[0], WTERMSIG(status), line[0] ? ": " : "", line);
		return PROC_TEMP;
	}
	snprintf(why, n, "Pipe: %.200s: exit %d: %s", argv[0],
		 WEXITSTATUS(status), line[0] ? line : "(no message)");
	return WEXITSTATUS(status) == 75 ? PROC_TEMP : PROC_PERM;
fail_fds:
	for (e = 0; e < 2; e++) {
		if (pi[e] >= 0)
			close(pi[e]);
		if (po[e] >= 0)
			close(po[e]);
		if (pe[e] >= 0)
			close(pe[e]);
		if (px[e] >= 0)
			close(px[e]);
	}
	return PROC_TEMP;
}
