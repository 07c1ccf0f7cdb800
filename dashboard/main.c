/*
 * main.c - smtpd-dashboard: the statistics collector and its HTTPS
 * dashboard (smtpd-dashboard(8)).
 *
 *   smtpd-dashboard [-c FILE]           run (foreground, systemd Type=
 *                                       notify-less simple service)
 *   smtpd-dashboard [-c FILE] --check-config
 *   smtpd-dashboard hash-password       a yescrypt hash of the password
 *                                       read from stdin, for
 *                                       dashboard.password_hash
 *   smtpd-dashboard --version
 *
 * A receiver thread does nothing but take datagrams off
 * dashboard.stats_socket into a queue of RQ_LEN: the kernel queues only
 * net.unix.max_dgram_qlen datagrams per socket (10 by default, 512 with
 * systemd's sysctl.d), and a sender finding it full drops its datagram,
 * so reception must never wait for anything else. The main thread
 * applies the queue, samples memory and the spool every tick_interval,
 * pushes the frame to the WebSockets and saves the series to state_file
 * every minute and at SIGTERM; libmicrohttpd's thread answers HTTPS.
 * Exit 78 on a bad config.
 */
#include "cfg.h"
#include "collect.h"
#include "log.h"
#include "pwhash.h"
#include "statsmsg.h"
#include "version.h"
#include "web.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROG "smtpd-dashboard"
#define SAVE_EVERY_MS 60000
#define RQ_LEN 8192 /* datagrams between the receiver and the main loop */
#define RQ_BATCH 256

static struct {
	pthread_mutex_t m;
	char (*buf)[STATSMSG_MAX];
	size_t *len;
	size_t head, n;
	unsigned long overflow;
	int fd;
} RQ = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0, -1};

static volatile sig_atomic_t stop, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

/* now_ms - wall clock in ms (the series are in wall time) */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* stats_bind - the datagram socket, mode 0660 (the sessions' group) */
static int stats_bind(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, big = 4 << 20;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("dashboard.stats_socket: longer than %zu bytes",
			  sizeof(sa.sun_path) - 1);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	/* a socket left by a previous run */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0) {
		log_warnx("dashboard.stats_socket %s: %s", path,
			  strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) <
	    0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

/* receiver - the receiver thread: datagrams into RQ, nothing else */
static void *receiver(void *arg)
{
	char buf[STATSMSG_MAX + 1];
	struct timeval tv = {0, 200000};

	(void)arg;
	setsockopt(RQ.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!stop) {
		ssize_t n = recv(RQ.fd, buf, sizeof(buf), 0);

		if (n < 0)
			continue; /* the timeout: look at stop */
		pthread_mutex_lock(&RQ.m);
		if (RQ.n == RQ_LEN || (size_t)n > STATSMSG_MAX) {
			RQ.overflow++;
		} else {
			size_t i = (RQ.head + RQ.n) % RQ_LEN;

			memcpy(RQ.buf[i], buf, (size_t)n);
			RQ.len[i] = (size_t)n;
			RQ.n++;
		}
		pthread_mutex_unlock(&RQ.m);
	}
	return NULL;
}

/* drain - apply what the receiver queued, RQ_BATCH at a time */
static void drain(struct collect *c)
{
	static char b[RQ_BATCH][STATSMSG_MAX];
	static size_t bl[RQ_BATCH];
	struct statsmsg m;
	long long now = now_ms();
	size_t k, i;

	do {
		unsigned long over;

		pthread_mutex_lock(&RQ.m);
		for (k = 0; k < RQ_BATCH && RQ.n; k++) {
			memcpy(b[k], RQ.buf[RQ.head], RQ.len[RQ.head]);
			bl[k] = RQ.len[RQ.head];
			RQ.head = (RQ.head + 1) % RQ_LEN;
			RQ.n--;
		}
		over = RQ.overflow;
		RQ.overflow = 0;
		pthread_mutex_unlock(&RQ.m);
		pthread_mutex_lock(&c->lock);
		c->bad += over;
		for (i = 0; i < k; i++) {
			if (statsmsg_decode(b[i], bl[i], &m) == 0)
				collect_apply(c, &m, now);
			else
				c->bad++;
		}
		pthread_mutex_unlock(&c->lock);
	} while (k == RQ_BATCH);
}

/* tick - sample, update, push */
static void tick(const struct cfg *cfg, struct collect *c)
{
	unsigned long long mem;
	const char *src;
	long long q[COLLECT_QDIRS];
	double oldest;
	char *j;

	collect_sample(cfg, &mem, &src, q, &oldest);
	pthread_mutex_lock(&c->lock);
	c->mem = mem;
	c->mem_source = src;
	memcpy(c->queue, q, sizeof(q));
	c->oldest = oldest;
	collect_queue(c, now_ms());
	collect_tick(c, now_ms());
	j = collect_json(c, now_ms());
	pthread_mutex_unlock(&c->lock);
	if (j)
		web_ws_push(j);
	free(j);
}

/* check - --check-config: the config, the TLS files, the password */
static int check(const struct cfg *cfg)
{
	const struct cfg_dashboard *d = &cfg->dashboard;
	int bad = 0;

	if (!d->private_key_file || access(d->private_key_file, R_OK) < 0) {
		fprintf(stderr, PROG ": config error: dashboard.tls."
				"private_key_file: %s\n",
			d->private_key_file ? strerror(errno) : "missing");
		bad = 1;
	}
	if (!d->public_key_file || access(d->public_key_file, R_OK) < 0) {
		fprintf(stderr, PROG ": config error: dashboard.tls."
				"public_key_file: %s\n",
			d->public_key_file ? strerror(errno) : "missing");
		bad = 1;
	}
	if (!d->password_hash && !d->password_hash_file) {
		fprintf(stderr, PROG ": config error: dashboard."
				"password_hash: missing (smtpd-dashboard "
				"hash-password)\n");
		bad = 1;
	} else if (d->password_hash && strncmp(d->password_hash, "$y$", 3) &&
		   strncmp(d->password_hash, "$7$", 3)) {
		fprintf(stderr, PROG ": config warning: dashboard."
				"password_hash: not a yescrypt hash\n");
	}
	return bad ? EX_CONFIG_ : 0;
}

int main(int argc, char **argv)
{
	const char *path = CFG_DEFAULT_PATH;
	struct collect col;
	struct sigaction sa;
	struct cfg *cfg;
	long long next, saved;
	int i, chk = 0, sfd;
	pthread_t rt;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			chk = 1;
		else if (!strcmp(argv[i], "--version")) {
			printf(PROG " " SMTPD_VERSION "\n");
			return 0;
		} else if (!strcmp(argv[i], "hash-password")) {
			return pwhash_main(PROG);
		} else {
			fprintf(stderr, "usage: " PROG " [-c FILE] "
					"[--check-config]\n"
					"       " PROG " hash-password\n");
			return 64;
		}
	}
	cfg = cfg_load_file_as(path, CFG_DASHBOARD, cfg_diag_stderr, PROG);
	if (!cfg)
		return EX_CONFIG_;
	if (chk) {
		i = check(cfg);
		cfg_free(cfg);
		return i;
	}
	log_open(PROG, cfg->log_file, cfg->log_level, 0);
	if (!cfg->dashboard.is_enabled)
		log_warnx("dashboard.is_enabled is false: sessions send "
			  "nothing, the figures stay at zero");
	if (collect_init(&col, &cfg->dashboard) < 0) {
		log_error("out of memory");
		return 71;
	}
	if (collect_load(&col, cfg->dashboard.state_file) == 0)
		log_info("series loaded from %s", cfg->dashboard.state_file);
	sfd = stats_bind(cfg->dashboard.stats_socket);
	if (sfd < 0 || web_start(cfg, &col) < 0)
		return EX_CONFIG_;
	RQ.fd = sfd;
	RQ.buf = calloc(RQ_LEN, sizeof(*RQ.buf));
	RQ.len = calloc(RQ_LEN, sizeof(*RQ.len));
	if (!RQ.buf || !RQ.len || pthread_create(&rt, NULL, receiver, NULL)) {
		log_error("cannot start the receiver");
		return 71;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	next = now_ms();
	saved = next;
	while (!stop) {
		struct pollfd p[64];
		int fds[64];
		size_t n = web_ws_fds(fds, 64), k;
		long long wait = next - now_ms();

		for (k = 0; k < n; k++) {
			p[k].fd = fds[k];
			p[k].events = POLLIN;
		}
		if (wait < 0)
			wait = 0;
		if (wait > 100)
			wait = 100; /* the queue applied ten times a second */
		if (poll(p, n, (int)wait) > 0)
			for (k = 0; k < n; k++)
				if (p[k].revents)
					web_ws_input(fds[k]);
		drain(&col);
		if (hup) {
			hup = 0;
			log_reopen();
		}
		if (now_ms() >= next) {
			drain(&col);
			tick(cfg, &col);
			web_reload_tls();
			next += cfg->dashboard.tick_interval;
			if (next < now_ms())
				next = now_ms() + cfg->dashboard.tick_interval;
		}
		if (now_ms() - saved >= SAVE_EVERY_MS) {
			saved = now_ms();
			pthread_mutex_lock(&col.lock);
			if (collect_save(&col, cfg->dashboard.state_file) < 0)
				log_warnx("state_file %s: %s",
					  cfg->dashboard.state_file,
					  strerror(errno));
			pthread_mutex_unlock(&col.lock);
		}
	}
	log_info("stopping");
	pthread_join(rt, NULL);
	drain(&col);
	web_stop();
	pthread_mutex_lock(&col.lock);
	if (collect_save(&col, cfg->dashboard.state_file) < 0)
		log_warnx("state_file %s: %s", cfg->dashboard.state_file,
			  strerror(errno));
	pthread_mutex_unlock(&col.lock);
	unlink(cfg->dashboard.stats_socket);
	close(sfd);
	free(RQ.buf);
	free(RQ.len);
	collect_free(&col);
	cfg_free(cfg);
	log_close();
	return 0;
}
