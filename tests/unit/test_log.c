/* test_log.c - log.c: level filter, the file line format and its cap,
 * reopen (rotation) keeping the fd, the fall-backs to syslog (stdout or
 * fd 2 being the client, an unopenable file), and a write interrupted by
 * a signal. syslog, openlog, closelog, dup3 and write are wrapped
 * (-Wl,--wrap) to record or fail them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

/* what reached syslog */
static int opened, closed, nsys, last_prio;
static char last_sys[4096];
/* failure injection */
static int fail_dup3, eintr_writes;

void __wrap_openlog(const char *ident, int opt, int fac)
{
	(void)ident;
	(void)opt;
	(void)fac;
	opened++;
}

void __wrap_closelog(void)
{
	closed++;
}

/* record - keep one formatted syslog line */
static void record(int prio, const char *fmt, va_list ap)
{
	nsys++;
	last_prio = prio;
	vsnprintf(last_sys, sizeof(last_sys), fmt, ap);
}

void __wrap_syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}

/* with _FORTIFY_SOURCE and -O2, syslog() calls become __syslog_chk */
void __wrap___syslog_chk(int prio, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}

int __real_dup3(int a, int b, int f);
int __wrap_dup3(int a, int b, int f)
{
	if (fail_dup3) {
		errno = EMFILE;
		return -1;
	}
	return __real_dup3(a, b, f);
}

ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	if (eintr_writes > 0) {
		eintr_writes--;
		errno = EINTR;
		return -1;
	}
	return __real_write(fd, p, n);
}

static char dir[256], file[300];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_log.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/log", dir);
	opened = closed = nsys = last_prio = 0;
	last_sys[0] = '\0';
	fail_dup3 = eintr_writes = 0;
	return 0;
}

static int teardown(void **state)
{
	char p[400];

	(void)state;
	log_close();
	unlink(file);
	snprintf(p, sizeof(p), "%s/log.1", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* slurp - the whole of a file (at most 8 KiB) as a string */
static const char *slurp(const char *p)
{
	static char buf[8192];
	int f = open(p, O_RDONLY);
	ssize_t n;

	assert_true(f >= 0);
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

/* lines - how many lines a string has */
static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_file_levels(void **state)
{
	static const struct {
		const char *level;
		int want; /* lines of debug, info, warn, error written */
	} t[] = {
	    {"debug", 4}, {"DEBUG", 4}, {"info", 3}, {"warning", 2},
	    {"warn", 2},  {"error", 1}, {"fatal", 1}, {"panic", 1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unlink(file);
		log_open("t", file, t[i].level, -1);
		log_debug("d");
		log_info("i");
		log_warnx("w");
		log_error("e");
		log_close();
		assert_int_equal(lines(slurp(file)), t[i].want);
	}
	/* a NULL level keeps the last one (here: error) */
	unlink(file);
	log_open("t", file, NULL, -1);
	log_warnx("w");
	log_error("e");
	log_close();
	assert_int_equal(lines(slurp(file)), 1);
	assert_int_equal(nsys, 0);
}

static void test_file_format(void **state)
{
	char want[128], big[3000];
	const char *s;

	(void)state;
	log_open("prog", file, "info", -1);
	log_info("hello %d", 42);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	log_close();
	s = slurp(file);
	/* 2026-12-01T21:04:00.123Z prog[pid]: info: hello 42 */
	assert_true(strlen(s) > 25);
	assert_int_equal(s[4], '-');
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[23], 'Z');
	assert_int_equal(s[24], ' ');
	snprintf(want, sizeof(want), "prog[%ld]: info: hello 42\n",
		 (long)getpid());
	assert_memory_equal(s + 25, want, strlen(want));
	/* the long line is cut at 2047 bytes and still ends in a newline */
	s = strchr(s, '\n') + 1;
	assert_int_equal(strlen(s), 2047);
	assert_int_equal(s[2046], '\n');
	assert_int_equal(s[2045], 'x');
}

static void test_reopen_rotation(void **state)
{
	char old[400];
	struct stat st;

	(void)state;
	snprintf(old, sizeof(old), "%s/log.1", dir);
	log_open("t", file, "info", -1);
	log_info("before");
	assert_int_equal(rename(file, old), 0);
	log_reopen();
	log_info("after");
	assert_int_equal(lines(slurp(old)), 1);
	assert_non_null(strstr(slurp(old), "before"));
	assert_non_null(strstr(slurp(file), "after"));
	assert_null(strstr(slurp(file), "before"));

	/* dup3 failing: the new file is still used */
	assert_int_equal(rename(file, old), 0);
	fail_dup3 = 1;
	log_reopen();
	fail_dup3 = 0;
	log_info("third");
	assert_non_null(strstr(slurp(file), "third"));
	assert_null(strstr(slurp(old), "third"));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(nsys, 0);

	/* after log_close there is no file to reopen: stays on stderr */
	log_close();
	log_reopen();
	assert_int_equal(opened, 0);
}

static void test_open_fails_to_syslog(void **state)
{
	char p[400];

	(void)state;
	snprintf(p, sizeof(p), "%s/no/such/dir/log", dir);
	log_open("t", p, "info", -1);
	assert_int_equal(opened, 1);
	assert_int_equal(nsys, 1);
	assert_int_equal(last_prio, LOG_ERR);
	assert_non_null(strstr(last_sys, "cannot open log file"));
	assert_non_null(strstr(last_sys, "No such file"));
	log_warnx("to syslog %s", "now");
	assert_int_equal(nsys, 2);
	assert_int_equal(last_prio, LOG_WARNING);
	log_close();
	assert_int_equal(closed, 1);
}

static void test_syslog_dests(void **state)
{
	static const char *d[] = {NULL, "", "syslog", "journal"};
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
	size_t i;
	int lv;

	(void)state;
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		log_open("t", d[i], "debug", -1);
		assert_int_equal(opened, (int)i + 1);
		for (lv = LOG_L_DEBUG; lv <= LOG_L_ERROR; lv++) {
			log_msg((enum log_level)lv, "m%d", lv);
			assert_int_equal(last_prio, prio[lv]);
		}
		log_close();
		assert_int_equal(closed, (int)i + 1);
	}
	assert_string_equal(last_sys, "error: m3");
	assert_int_equal(nsys, 16);

	/* a log file open before: closed when switching to syslog */
	log_open("t", file, "info", -1);
	log_open("t", "syslog", "info", -1);
	log_info("x");
	assert_string_equal(last_sys, "info: x");
	assert_int_equal(lines(slurp(file)), 0);
}

/* capture - run log_info with fd `which` pointed at a pipe; what came out */
static const char *capture(int which, const char *dest, int conn_fd)
{
	static char buf[512];
	int p[2], save;
	ssize_t n;

	fflush(stdout);
	fflush(stderr);
	assert_int_equal(pipe(p), 0);
	save = dup(which);
	assert_true(save >= 0);
	assert_true(dup2(p[1], which) >= 0);
	close(p[1]);
	log_open("t", dest, "info", conn_fd);
	log_info("on %s", dest);
	log_close();
	assert_true(dup2(save, which) >= 0);
	close(save);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_stdio_dests(void **state)
{
	char want[64];
	int sv[2], conn;

	(void)state;
	/* no connection: stdout and stderr are used as named */
	snprintf(want, sizeof(want), "t[%ld]: info: on stdout\n",
		 (long)getpid());
	assert_string_equal(capture(1, "stdout", -1), want);
	snprintf(want, sizeof(want), "t[%ld]: info: on /dev/stderr\n",
		 (long)getpid());
	assert_string_equal(capture(2, "/dev/stderr", -1), want);
	assert_int_equal(nsys, 0);

	/* a connection elsewhere: fd 2 is fine; an fd that is not open
	 * cannot be fstat'ed, so it is not the same file either */
	conn = open("/dev/null", O_RDONLY);
	assert_true(conn >= 0);
	assert_non_null(strstr(capture(2, "stderr", conn), "on stderr"));
	assert_non_null(strstr(capture(2, "stderr", 999), "on stderr"));
	assert_int_equal(nsys, 0);

	/* stdout in a session is the client: syslog instead */
	assert_string_equal(capture(1, "/dev/stdout", conn), "");
	assert_int_equal(nsys, 1);
	assert_string_equal(last_sys, "info: on /dev/stdout");
	close(conn);

	/* fd 2 is the client socket itself (xinetd): syslog */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fflush(stderr);
	{
		int save = dup(2);

		assert_true(dup2(sv[0], 2) >= 0);
		log_open("t", "stderr", "info", sv[0]);
		log_info("not to the client");
		log_close();
		dup2(save, 2);
		close(save);
	}
	assert_int_equal(nsys, 2);
	assert_string_equal(last_sys, "info: not to the client");
	close(sv[0]);
	close(sv[1]);
}

static void test_stderr_closed(void **state)
{
	int save;

	(void)state;
	/* fd 2 closed while a connection exists: nowhere safe but syslog */
	fflush(stderr);
	save = dup(2);
	close(2);
	log_open("t", "stderr", "info", 0);
	log_info("x");
	log_close();
	dup2(save, 2);
	close(save);
	assert_int_equal(opened, 1);
	assert_string_equal(last_sys, "info: x");
}

static void test_write_eintr(void **state)
{
	(void)state;
	log_open("t", file, "info", -1);
	eintr_writes = 3;
	log_info("retried");
	log_close();
	assert_int_equal(eintr_writes, 0);
	assert_int_equal(lines(slurp(file)), 1);
	assert_non_null(strstr(slurp(file), "retried"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_rotation, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_open_fails_to_syslog, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_syslog_dests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stdio_dests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stderr_closed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_eintr, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
