/*
 * log.c - logging for both programs.
 *
 * Contract: a log line never reaches the SMTP client. Under xinetd, and
 * under systemd without StandardError=journal, fd 2 is the client socket
 * (README.md "Logging"), so "stderr" is honoured only when fd 2 is not the
 * connection; otherwise lines go to syslog (journald reads /dev/log).
 * Each line is written with a single write(2), so lines of concurrent
 * sessions appending to one file do not interleave.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum dest { D_STDERR, D_FILE, D_SYSLOG };

static enum dest dest = D_STDERR;
static int fd = 2;
static enum log_level minlevel = LOG_L_INFO;
static char path[1024];
static char prog[64] = "smtpd";
static long pid;

/* same_file - do two fds refer to one open socket/file? */
static int same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void use_syslog(void)
{
	if (dest == D_FILE && fd > 2)
		close(fd);
	openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
	dest = D_SYSLOG;
	fd = -1;
}

void log_open(const char *p, const char *d, const char *level, int conn_fd)
{
	snprintf(prog, sizeof(prog), "%s", p);
	pid = (long)getpid();
	if (level) {
		if (!strcasecmp(level, "debug"))
			minlevel = LOG_L_DEBUG;
		else if (!strcasecmp(level, "info"))
			minlevel = LOG_L_INFO;
		else if (!strncasecmp(level, "warn", 4))
			minlevel = LOG_L_WARN;
		else
			minlevel = LOG_L_ERROR;
	}
	if (!d || !*d || !strcmp(d, "syslog") || !strcmp(d, "journal")) {
		use_syslog();
		return;
	}
	if (!strcmp(d, "stderr") || !strcmp(d, "/dev/stderr") ||
	    !strcmp(d, "stdout") || !strcmp(d, "/dev/stdout")) {
		int want = (d[0] == 's' ? d[3] : d[8]) == 'o' ? 1 : 2;

		/* stdout is the client in a session */
		if (conn_fd >= 0 && (want == 1 || same_file(want, conn_fd) ||
				     fcntl(want, F_GETFD) < 0)) {
			use_syslog();
			return;
		}
		dest = D_STDERR;
		fd = want;
		return;
	}
	snprintf(path, sizeof(path), "%s", d);
	log_reopen();
}

void log_reopen(void)
{
	int nfd;

	if (!path[0])
		return;
	nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (nfd < 0) {
		int e = errno;

		use_syslog();
		syslog(LOG_ERR, "cannot open log file %s: %s", path,
		       strerror(e));
		return;
	}
	if (dest == D_FILE && fd > 2) {
		/* swap the file under the same fd number, so a thread
		 * logging meanwhile never writes into a reused fd */
		if (dup3(nfd, fd, O_CLOEXEC) < 0) {
			close(fd);
			fd = nfd;
			return;
		}
		close(nfd);
		return;
	}
	dest = D_FILE;
	fd = nfd;
}

void log_close(void)
{
	if (dest == D_FILE && fd > 2)
		close(fd);
	if (dest == D_SYSLOG)
		closelog();
	dest = D_STDERR;
	fd = 2;
	path[0] = '\0';
}

void log_msg(enum log_level lv, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warning", "error"};
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
	char line[2048];
	size_t n = 0;
	va_list ap;
	int r;

	if (lv < minlevel)
		return;
	if (dest == D_SYSLOG) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(prio[lv], "%s: %s", names[lv], line);
		return;
	}
	if (dest == D_FILE) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = (size_t)snprintf(line, sizeof(line),
				     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
				     tm.tm_year + 1900, tm.tm_mon + 1,
				     tm.tm_mday, tm.tm_hour, tm.tm_min,
				     tm.tm_sec, ts.tv_nsec / 1000000);
	}
	r = snprintf(line + n, sizeof(line) - n, "%s[%ld]: %s: ", prog,
		     pid ? pid : (long)getpid(), names[lv]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(fd, line, n) < 0 && errno == EINTR)
		;
}
