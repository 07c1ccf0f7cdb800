/* test_pipe.c - Pipe: stdin, environment, exit classes, timeout, a child
 * that does not read, no shell, closed fds, the journal of runs, config
 * errors */
#include "testutil.h"

#include <signal.h>
#include <time.h>

/* setup - a temp dir; SIGPIPE ignored, as spoolerd does */
struct fx {
	char *d;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	signal(SIGPIPE, SIG_IGN);
	f->d = tu_tmpdir();
	/* as root the command runs as nobody: it must write here */
	if (geteuid() == 0)
		assert_int_equal(chmod(f->d, 0777), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rm_rf(f->d);
	free(f->d);
	free(f);
	return 0;
}

/* cfg_for - a config with pipe_command = argv (JSON list text); as
 * root, pipe_user is nobody (required then) */
static struct cfg *cfg_for(const char *argv_json, const char *extra)
{
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\"backend_config\":{\"pipe_command\":%s%s%s%s}}",
		 argv_json, extra ? "," : "", extra ? extra : "",
		 geteuid() == 0 ? ",\"pipe_user\":\"nobody\"" : "");
	return tu_cfg(json);
}

static enum proc_res deliver_state(struct fx *f, struct cfg *c,
                                   const char **rcpts, size_t n,
                                   const char *body, int statefd,
                                   int redelivery, char *why, size_t wn);

/* deliver_with - one entry for rcpts through Pipe, no state dir */
static enum proc_res deliver_with(struct fx *f, struct cfg *c,
                                  const char **rcpts, size_t n,
                                  const char *body, char *why, size_t wn)
{
	return deliver_state(f, c, rcpts, n, body, -1, 0, why, wn);
}

/* deliver_state - the same with state/ (statefd) and m->redelivery */
static enum proc_res deliver_state(struct fx *f, struct cfg *c,
                                   const char **rcpts, size_t n,
                                   const char *body, int statefd,
                                   int redelivery, char *why, size_t wn)
{
	char ep[700], err[512];
	struct msg m;
	void *st = NULL;
	enum proc_res r;

	snprintf(ep, sizeof(ep), "%s/entry", f->d);
	if (proc_pipe.init(c, &st, err, sizeof(err)) < 0)
		fail_msg("init: %s", err);
	tu_entry(ep, "1764078600.M5P6Q7", "s@x.org", rcpts, n, body, &m, c);
	m.statefd = statefd;
	m.redelivery = redelivery;
	why[0] = '\0';
	r = proc_pipe.deliver(st, &m, why, wn);
	tu_msg_free(&m);
	proc_pipe.fini(st);
	return r;
}

static void stdin_and_env(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"Bob+Tag@Example.COM"};
	const char *body = "Subject: x\r\n\r\nbody\r\nbare\rCR\r\n";
	char argv[1500], why[600], p[700], *got;
	struct cfg *c;

	snprintf(argv, sizeof(argv),
		 "[\"/bin/sh\",\"-c\",\"cat > %s/in; "
		 "(env; echo UID=$(id -u)) > %s/env; "
		 "printf '%%s\\\\n' \\\"$@\\\" > %s/args\",\"sh\","
		 "\"{user}\",\"{domain}\",\"{rcpt}\",\"{sender}\","
		 "\"x{extension}y\",\"{queue_id}\",\"{bogus\"]",
		 f->d, f->d, f->d);
	c = cfg_for(argv, "\"pipe_per_recipient\":true");
	assert_int_equal(deliver_with(f, c, rcpts, 1, body, why, sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/in", f->d);
	got = tu_read(p, NULL);
	assert_non_null(got);
	/* the Maildir copy: LF line ends, a bare CR kept */
	assert_string_equal(got,
			    "Return-Path: <s@x.org>\nDelivered-To: "
			    "Bob+Tag@Example.COM\n"
			    "Received: from client.test "
			    "(unknown [192.0.2.1])\n"
			    "\tby mx.test with ESMTP id 1764078600.M5P6Q7\n"
			    "\tfor <Bob+Tag@Example.COM>; "
			    "Tue, 25 Nov 2025 13:50:00 +0000\n"
			    "Subject: x\n\nbody\nbare\rCR\n");
	free(got);
	snprintf(p, sizeof(p), "%s/args", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "bob\nexample.com\nBob+Tag@Example.COM\n"
				 "s@x.org\nxtagy\n1764078600.M5P6Q7\n"
				 "{bogus\n");
	free(got);
	snprintf(p, sizeof(p), "%s/env", f->d);
	got = tu_read(p, NULL);
	assert_non_null(strstr(got, "SENDER=s@x.org\n"));
	assert_non_null(strstr(got, "RECIPIENT=Bob+Tag@Example.COM\n"));
	assert_non_null(strstr(got, "QUEUE_ID=1764078600.M5P6Q7\n"));
	assert_non_null(strstr(got, "CLIENT_IP=192.0.2.1\n"));
	assert_non_null(strstr(got, "HELO=client.test\n"));
	assert_non_null(strstr(got, "USER=bob\n"));
	assert_non_null(strstr(got, "LOCAL=bob+tag\n"));
	assert_non_null(strstr(got, "EXTENSION=tag\n"));
	assert_non_null(strstr(got, "DEFAULT=tag\n"));
	assert_non_null(strstr(got, "DOMAIN=example.com\n"));
	/* a clean environment: nothing of ours leaks */
	assert_null(strstr(got, "RECIPIENTS="));
	assert_null(strstr(got, "TESTLEAK"));
	if (geteuid() == 0)
		assert_non_null(strstr(got, "UID=65534\n"));
	else
		assert_null(strstr(got, "UID=0\n"));
	free(got);
	cfg_free(c);

	/* per message, two recipients, CRLF kept */
	{
		const char *two[] = {"a@x.test", "b@y.test"};

		snprintf(argv, sizeof(argv),
			 "[\"/bin/sh\",\"-c\",\"cat > %s/in; env > %s/env; "
			 "echo \\\"$#\\\" \\\"$@\\\" > %s/args\",\"sh\","
			 "\"{rcpt}\"]",
			 f->d, f->d, f->d);
		c = cfg_for(argv, "\"pipe_crlf\":true");
		assert_int_equal(
			deliver_with(f, c, two, 2, body, why, sizeof(why)),
			PROC_OK);
		snprintf(p, sizeof(p), "%s/args", f->d);
		got = tu_read(p, NULL);
		assert_string_equal(got, "2 a@x.test b@y.test\n");
		free(got);
		snprintf(p, sizeof(p), "%s/env", f->d);
		got = tu_read(p, NULL);
		assert_non_null(strstr(got, "RECIPIENT=a@x.test b@y.test\n"));
		assert_non_null(strstr(got, "RECIPIENTS=a@x.test b@y.test\n"));
		assert_null(strstr(got, "USER="));
		free(got);
		snprintf(p, sizeof(p), "%s/in", f->d);
		got = tu_read(p, NULL);
		assert_true(!strncmp(got,
				     "Return-Path: <s@x.org>\r\nReceived: ",
				     34));
		assert_non_null(strstr(got, "\r\n\r\nbody\r\nbare\rCR\r\n"));
		free(got);
		cfg_free(c);
	}
}

static void exit_classes(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"a@x.test"};
	char why[600];
	struct cfg *c;

	c = cfg_for("[\"/bin/sh\",\"-c\",\"cat >/dev/null; exit 0\"]", NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_OK);
	cfg_free(c);
	c = cfg_for("[\"/bin/sh\",\"-c\",\"echo 'mailbox locked' >&2; "
		    "exit 75\"]",
		    NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_TEMP);
	assert_string_equal(why, "Pipe: /bin/sh: exit 75: mailbox locked");
	cfg_free(c);
	c = cfg_for("[\"/bin/sh\",\"-c\",\"echo chatter; echo; "
		    "printf '\\\\nno such user\\\\001\\\\nsecond' >&2; "
		    "exit 1\"]",
		    NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_PERM);
	assert_string_equal(why, "Pipe: /bin/sh: exit 1: no such user\\x01");
	cfg_free(c);
	/* only stdout said something */
	c = cfg_for("[\"/bin/sh\",\"-c\",\"echo out only; exit 67\"]", NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_PERM);
	assert_string_equal(why, "Pipe: /bin/sh: exit 67: out only");
	cfg_free(c);
	/* a signal is temporary */
	c = cfg_for("[\"/bin/sh\",\"-c\",\"kill -9 $$\"]", NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_TEMP);
	assert_string_equal(why, "Pipe: /bin/sh: killed by signal 9");
	cfg_free(c);
	/* per recipient: the worst outcome wins, every one is tried */
	{
		const char *three[] = {"ok@x.test", "perm@x.test",
				       "temp@x.test"};
		char argv[700], p[700], *got;

		snprintf(argv, sizeof(argv),
			 "[\"/bin/sh\",\"-c\",\"echo $1 >> %s/seen; "
			 "case $1 in perm) echo gone >&2; exit 1;; "
			 "temp) exit 75;; esac\",\"sh\",\"{user}\"]",
			 f->d);
		c = cfg_for(argv, "\"pipe_per_recipient\":true");
		assert_int_equal(deliver_with(f, c, three, 3, "x\r\n", why,
					      sizeof(why)),
				 PROC_PERM);
		assert_string_equal(why, "Pipe: /bin/sh: exit 1: gone");
		snprintf(p, sizeof(p), "%s/seen", f->d);
		got = tu_read(p, NULL);
		assert_string_equal(got, "ok\nperm\ntemp\n");
		free(got);
		cfg_free(c);
	}
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timeout_kills_group(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"a@x.test"};
	char argv[700], why[600], p[700];
	struct cfg *c;
	long long t0;
	struct stat st;

	/* a grandchild that would touch a file after 2 s: killed with the
	 * group, so the file never appears */
	snprintf(argv, sizeof(argv),
		 "[\"/bin/sh\",\"-c\",\"(sleep 2; touch %s/late) & "
		 "sleep 30\"]",
		 f->d);
	c = cfg_for(argv, "\"pipe_timeout\":\"300ms\"");
	t0 = ms_now();
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_TEMP);
	assert_true(ms_now() - t0 < 1500);
	assert_string_equal(why, "Pipe: /bin/sh: timed out after 300ms, "
				 "killed");
	sleep(3);
	snprintf(p, sizeof(p), "%s/late", f->d);
	assert_int_equal(stat(p, &st), -1);
	cfg_free(c);
}

static void huge_stdin_unread(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"a@x.test"};
	size_t n = 900000, i; /* tu_entry caps at 1 MiB; a pipe holds 64 KiB */
	char *body = malloc(n + 1), why[600];
	struct cfg *c;

	assert_non_null(body);
	for (i = 0; i < n; i++)
		body[i] = (i % 80 == 79) ? '\n' : 'a';
	body[n] = '\0';
	/* exits at once without reading: EPIPE, the status decides */
	c = cfg_for("[\"/bin/sh\",\"-c\",\"echo refused >&2; exit 1\"]",
		    NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, body, why, sizeof(why)),
			 PROC_PERM);
	assert_string_equal(why, "Pipe: /bin/sh: exit 1: refused");
	cfg_free(c);
	/* floods stderr and stdout while we write: nobody blocks */
	c = cfg_for("[\"/bin/sh\",\"-c\",\"head -c 3000000 /dev/zero >&2; "
		    "head -c 3000000 /dev/zero; cat >/dev/null\"]",
		    NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, body, why, sizeof(why)),
			 PROC_OK);
	cfg_free(c);
	/* reads it all and counts: every byte arrived */
	{
		char argv[700], p[700], *got;

		snprintf(argv, sizeof(argv),
			 "[\"/bin/sh\",\"-c\",\"wc -c > %s/count\"]", f->d);
		c = cfg_for(argv, NULL);
		assert_int_equal(deliver_with(f, c, rcpts, 1, body, why,
					      sizeof(why)),
				 PROC_OK);
		snprintf(p, sizeof(p), "%s/count", f->d);
		got = tu_read(p, NULL);
		/* head (LF) + Received (2 lines) + body */
		assert_true(strtoul(got, NULL, 10) > n);
		assert_true(strtoul(got, NULL, 10) < n + 300);
		free(got);
		cfg_free(c);
	}
	free(body);
}

static void no_shell(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"x;touch${IFS}pwned@x.test"};
	char argv[900], why[600], p[700], *got;
	struct cfg *c;
	struct stat st;

	assert_int_equal(chdir(f->d), 0);
	/* the arguments come back through a file, one '|' after each */
	snprintf(argv, sizeof(argv),
		 "[\"/usr/bin/env\",\"OUT=%s/args\",\"/bin/sh\",\"-c\","
		 "\"printf '%%s|' \\\"$@\\\" > \\\"$OUT\\\"\",\"sh\","
		 "\"a;touch pwned\",\"$(touch pwned2)\",\"`touch pwned3`\","
		 "\"{rcpt}\",\"{user};$(id)\"]",
		 f->d);
	c = cfg_for(argv, "\"pipe_per_recipient\":true");
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/args", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "a;touch pwned|$(touch pwned2)|"
				 "`touch pwned3`|"
				 "x;touch${IFS}pwned@x.test|"
				 "x;touch${ifs}pwned;$(id)|");
	free(got);
	snprintf(p, sizeof(p), "%s/pwned", f->d);
	assert_int_equal(stat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/pwned2", f->d);
	assert_int_equal(stat(p, &st), -1);
	snprintf(p, sizeof(p), "/pwned");
	assert_int_equal(stat(p, &st), -1);
	cfg_free(c);
}

static void fds_closed(void **state)
{
	struct fx *f = *state;
	const char *rcpts[] = {"a@x.test"};
	char argv[700], why[600], p[700], *got;
	struct cfg *c;
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */

	assert_true(leak > 2);
	snprintf(argv, sizeof(argv),
		 "[\"/bin/sh\",\"-c\",\"ls /proc/self/fd > %s/fds; "
		 "umask > %s/umask; pwd > %s/pwd\"]",
		 f->d, f->d, f->d);
	c = cfg_for(argv, NULL);
	assert_int_equal(deliver_with(f, c, rcpts, 1, "x\r\n", why,
				      sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/fds", f->d);
	got = tu_read(p, NULL);
	/* 0 1 2, the redirect's 1, and ls's own directory fd (3) */
	assert_string_equal(got, "0\n1\n2\n3\n");
	free(got);
	snprintf(p, sizeof(p), "%s/umask", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "0077\n");
	free(got);
	snprintf(p, sizeof(p), "%s/pwd", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "/\n");
	free(got);
	close(leak);
	cfg_free(c);
}

/* journal - a retry runs only what did not exit 0 before */
static void journal(void **state)
{
	struct fx *f = *state;
	const char *three[] = {"ok1@x.test", "temp@x.test", "ok2@x.test"};
	char argv[900], why[600], p[700], sd[700], *got;
	struct cfg *c;
	int sfd;

	snprintf(sd, sizeof(sd), "%s/state", f->d);
	assert_int_equal(mkdir(sd, 0755), 0);
	sfd = open(sd, O_RDONLY | O_DIRECTORY);
	assert_true(sfd >= 0);
	snprintf(p, sizeof(p), "%s/broken", f->d);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	snprintf(argv, sizeof(argv),
		 "[\"/bin/sh\",\"-c\",\"echo $USER >> %s/seen; "
		 "[ $USER = temp ] && [ -e %s/broken ] && exit 75; "
		 "exit 0\"]",
		 f->d, f->d);
	c = cfg_for(argv, "\"pipe_per_recipient\":true");
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 0, why,
				       sizeof(why)),
			 PROC_TEMP);
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 1, why,
				       sizeof(why)),
			 PROC_TEMP);
	unlink(p);
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 1, why,
				       sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/seen", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "ok1\ntemp\nok2\ntemp\ntemp\n");
	free(got);
	snprintf(p, sizeof(p), "%s/1764078600.M5P6Q7.pipe", sd);
	got = tu_read(p, NULL);
	assert_string_equal(got, "0\n2\n1\n");
	free(got);
	/* a first attempt ignores a stale note */
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 0, why,
				       sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/seen", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "ok1\ntemp\nok2\ntemp\ntemp\n"
				 "ok1\ntemp\nok2\n");
	free(got);
	unlink(p);
	cfg_free(c);
	/* per message: "m" */
	snprintf(p, sizeof(p), "%s/1764078600.M5P6Q7.pipe", sd);
	unlink(p);
	snprintf(argv, sizeof(argv),
		 "[\"/bin/sh\",\"-c\",\"echo run >> %s/seen\"]", f->d);
	c = cfg_for(argv, NULL);
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 0, why,
				       sizeof(why)),
			 PROC_OK);
	assert_int_equal(deliver_state(f, c, three, 3, "x\r\n", sfd, 1, why,
				       sizeof(why)),
			 PROC_OK);
	snprintf(p, sizeof(p), "%s/seen", f->d);
	got = tu_read(p, NULL);
	assert_string_equal(got, "run\n");
	free(got);
	close(sfd);
	cfg_free(c);
}

static void config_errors(void **state)
{
	struct {
		const char *json, *want;
	} t[] = {
		{"{\"backend_config\":{}}", "backend_config.pipe_command: "
					    "required"},
		{"{\"backend_config\":{\"pipe_command\":[\"sh\",\"-c\"]}}",
		 "backend_config.pipe_command[0]: \"sh\" is not an absolute "
		 "path"},
		{"{\"backend_config\":{\"pipe_command\":"
		 "[\"/nonexistent/x\"]}}",
		 "backend_config.pipe_command[0]: /nonexistent/x: No such"},
		{"{\"backend_config\":{\"pipe_command\":[\"/bin/sh\","
		 "\"{usr}\"]}}",
		 "backend_config.pipe_command[1]: unknown placeholder"},
		{"{\"backend_config\":{\"pipe_command\":[\"/bin/sh\","
		 "\"-d\",\"{user}\"]}}",
		 "backend_config.pipe_command[2]: \"{user}\" names one "
		 "recipient: needs pipe_per_recipient"},
		{"{\"backend_config\":{\"pipe_command\":[\"/bin/sh\","
		 "\"x{rcpt}\"]}}",
		 "backend_config.pipe_command[1]: \"x{rcpt}\" names one"},
		{"{\"backend_config\":{\"pipe_command\":[\"/bin/sh\"],"
		 "\"pipe_user\":\"no-such-user-here\"}}",
		 "backend_config.pipe_user: no user \"no-such-user-here\""},
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cfg *c = tu_cfg(t[i].json);
		char err[512];
		void *st = NULL;

		err[0] = '\0';
		assert_int_equal(proc_pipe.init(c, &st, err, sizeof(err)), -1);
		if (!strstr(err, t[i].want))
			fail_msg("case %zu: got \"%s\"", i, err);
		cfg_free(c);
	}
	/* a bad type is the loader's error, naming the key */
	assert_null(cfg_load_buf("{\"backend_config\":{\"pipe_timeout\":"
				 "\"soon\"}}",
				 quiet_diag, NULL));
	assert_null(cfg_load_buf("{\"backend_config\":{\"pipe_command\":"
				 "[1]}}",
				 quiet_diag, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stdin_and_env, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exit_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(timeout_kills_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(huge_stdin_unread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(no_shell, setup, teardown),
		cmocka_unit_test_setup_teardown(fds_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(journal, setup, teardown),
		cmocka_unit_test(config_errors),
	};

	setenv("TESTLEAK", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
