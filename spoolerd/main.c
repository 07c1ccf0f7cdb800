/*
 * main.c - spoolerd: deliver what smtpd-session spooled.
 *
 * Runs in the foreground (systemd Type=notify, s6, runit, a terminal).
 * The main thread owns everything but delivery: config and SIGHUP, the
 * inotify watch on new/ and the periodic rescan, the retry schedule, tmp/
 * housekeeping, sd_notify. save_workers_size worker threads claim and
 * deliver entries (deliver.c). Signals are blocked in every thread and
 * read from a signalfd here, so no handler runs in the middle of a
 * delivery.
 *
 * Start: cur/ entries (claimed by a process that died) are delivered
 * again first, and only then new/ is read, so a torn mbox append is
 * repaired before anything else is appended. READY=1 follows the first
 * scan of new/.
 *
 * Exit: 0 after SIGTERM/SIGINT, 78 (EX_CONFIG) on a bad config, 73
 * (EX_CANTCREAT) when the spool cannot be opened, 64 on bad usage.
 */
#include "cfg.h"
#include "deliver.h"
#include "log.h"
#include "lookup.h"
#include "notify.h"
#include "retry.h"
#include "statsmsg.h"
#include "ticket.h"
#include "util.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "spoolerd"
#define QUEUE_CAP 16384
#define TMP_MAX_AGE (36 * 3600)
#define SWEEP_EVERY_MS (3600 * 1000LL)
/* how often new/ and cur/ are looked at for names a maildir reader gave */
#define MUTT_EVERY_MS (10 * 1000LL)
#define STOP_WAIT_MIN_MS 10000LL

static struct ctx ctx;
static const char *cfg_path = CFG_DEFAULT_PATH;
static char pid_path[4096];

static long long real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " [-c FILE] [--check-config] "
			"[--version]\n");
	exit(64);
}

/* diag_log - config messages on reload go to the log */
static void diag_log(void *arg, int is_error, const char *msg)
{
	(void)arg;
	log_msg(is_error ? LOG_L_ERROR : LOG_L_WARN, "config %s: %s",
		is_error ? "error" : "warning", msg);
}

/* diag_errors_stderr - the start-up load: errors on stderr (there is
 * no log yet), warnings left to watch_config */
static void diag_errors_stderr(void *arg, int is_error, const char *msg)
{
	if (is_error)
		cfg_diag_stderr(PROG, is_error, msg);
	(void)arg;
}

/* diag_session - a message of the sessions' view of the config, logged
 * unless the spoolerd view said the same already */
static void diag_session(void *arg, int is_error, const char *msg)
{
	const char *seen = arg;
	size_t n = strlen(msg);
	const char *p;

	for (p = seen; p && (p = strstr(p, msg)); p++)
		if ((p == seen || p[-1] == '\n') && p[n] == '\n')
			return;
	log_msg(is_error ? LOG_L_ERROR : LOG_L_WARN,
		"config %s (sessions): %s%s", is_error ? "error" : "warning",
		msg, is_error ? "; sessions refuse connections until it is "
				"fixed" : "");
}

/* diag_collect - log a spoolerd-view message and remember it */
static void diag_collect(void *arg, int is_error, const char *msg)
{
	char **seen = arg;
	size_t old = *seen ? strlen(*seen) : 0, n = strlen(msg);
	char *more = realloc(*seen, old + n + 2);

	diag_log(NULL, is_error, msg);
	if (!more)
		return;
	memcpy(more + old, msg, n);
	more[old + n] = '\n';
	more[old + n + 1] = '\0';
	*seen = more;
}

/* watch_config - once a second: when the config file is new or changed
 * (inode, size, mtime), log the warnings and errors of both readers'
 * views once. Sessions do not log config warnings per connection (they
 * would repeat with every one); this is where they show up. The running
 * spoolerd config changes only on SIGHUP. */
static void watch_config(void)
{
	static struct stat last;
	static int have;
	static long long next;
	struct stat st;
	struct cfg *c;
	char *seen = NULL;

	if (util_mono_ms() < next)
		return;
	next = util_mono_ms() + 1000;
	if (stat(cfg_path, &st) < 0)
		return;
	if (have && st.st_ino == last.st_ino && st.st_dev == last.st_dev &&
	    st.st_size == last.st_size &&
	    st.st_mtim.tv_sec == last.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == last.st_mtim.tv_nsec)
		return;
	if (have)
		log_info("config %s changed (takes effect in spoolerd on "
			 "reload, in sessions at their next connection)",
			 cfg_path);
	last = st;
	have = 1;
	c = cfg_load_file(cfg_path, diag_collect, &seen);
	cfg_free(c);
	c = cfg_load_file_as(cfg_path, CFG_SESSION, diag_session, seen);
	cfg_free(c);
	free(seen);
}

/* count_dir - regular files in dirfd (not ".reason" ones); *oldest
 * lowered to the oldest mtime when track */
static long long count_dir(int dirfd, int track, time_t *oldest)
{
	long long n = 0;
	struct dirent *e;
	DIR *d = scan_opendir(dirfd);

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' ||
		    (l > 7 && !strcmp(e->d_name + l - 7, ".reason")) ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		n++;
		if (track && (!*oldest || st.st_mtime < *oldest))
			*oldest = st.st_mtime;
	}
	closedir(d);
	return n;
}

/* queue_report - every 5 s, with the dashboard on: the entries in each
 * spool directory and the age of the oldest waiting one, to the
 * collector (which runs as its own user and cannot read cur/, defer/
 * and failed/); never blocks */
static void queue_report(void)
{
	static int fd = -1;
	static long long next;
	const struct cfg_dashboard *d = &ctx.gen->cfg->dashboard;
	int dirs[5] = {ctx.sp.new, ctx.sp.cur, ctx.sp.defer, ctx.sp.failed,
		       ctx.sp.tmp};
	char num[6][32];
	const char *f[6];
	unsigned long lost = 0;
	time_t oldest = 0;
	int i;

	if (!d->is_enabled || !d->stats_socket || util_mono_ms() < next)
		return;
	next = util_mono_ms() + 5000;
	if (fd < 0)
		fd = statsmsg_open(d->stats_socket);
	if (fd < 0)
		return;
	for (i = 0; i < 5; i++) {
		snprintf(num[i], sizeof(num[i]), "%lld",
			 count_dir(dirs[i], i < 3, &oldest));
		f[i] = num[i];
	}
	snprintf(num[5], sizeof(num[5]), "%lld",
		 oldest ? (long long)(time(NULL) - oldest) : 0LL);
	f[5] = num[5];
	statsmsg_send(fd, d->stats_socket, SM_QUEUE, f, 6, 0, &lost);
}

/* pid_write - pid_file, or nothing when unset */
static void pid_write(const struct cfg *cfg)
{
	char text[32];
	int fd, n;

	if (!cfg->pid_file || !cfg->pid_file[0])
		return;
	snprintf(pid_path, sizeof(pid_path), "%s", cfg->pid_file);
	fd = open(pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fd < 0 || write(fd, text, (size_t)n) != n)
		log_error("pid_file %s: %s", pid_path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* store_report - one line per store probed at start or reload */
static void store_report(void *arg, const char *name, int ok,
                         const char *text)
{
	(void)arg;
	if (ok)
		log_info("store %s: ok", name);
	else
		log_error("store %s: %s (entries wait in the spool and are "
			  "retried)",
			  name, text);
}

static void *check_main(void *arg)
{
	struct gen *g = arg;

	chain_check(&g->chain, g->cfg, store_report, NULL);
	gen_put(&ctx, g);
	return NULL;
}

/* stores_check - probe the chain's stores in the background: a store
 * that is down or wrong is named in the log, and delivery goes on (the
 * entries wait in the spool) */
static void stores_check(void)
{
	struct gen *g = gen_get(&ctx);
	pthread_attr_t a;
	pthread_t t;
	size_t i;
	int any = 0;

	for (i = 0; i < g->chain.n; i++)
		if (g->chain.p[i]->check)
			any = 1;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (!any || pthread_create(&t, &a, check_main, g) != 0)
		gen_put(&ctx, g);
	pthread_attr_destroy(&a);
}

static void check_report(void *arg, const char *name, int ok,
                         const char *text)
{
	(void)arg;
	if (ok)
		fprintf(stderr, PROG ": store %s: ok\n", name);
	else
		fprintf(stderr, PROG ": store %s: %s\n", name, text);
}

static void push_new(void *arg, const char *name)
{
	int *dropped = arg;

	if (queue_skipping(&ctx.q, name, real_ms()))
		return;
	if (queue_push(&ctx.q, name, J_NEW) < 0)
		*dropped = 1;
}

static void push_cur(void *arg, const char *name)
{
	(void)arg;
	queue_push(&ctx.q, name, J_CUR);
}

static void load_defer(void *arg, const char *name)
{
	long long now = *(long long *)arg;
	struct retry_state rs;

	if (retry_load(ctx.sp.state, name, &rs) != 0)
		rs.next_ms = now;
	queue_defer(&ctx.q, name, rs.next_ms);
}

/* reload - SIGHUP: a good file replaces the config and the chain between
 * two deliveries of each worker; a bad one is logged and ignored */
static void reload(void)
{
	const struct cfg *old = ctx.gen->cfg;
	struct gen *g, *prev;
	struct cfg *nc;
	char err[512];

	notify_reloading();
	log_info("reload: reading %s", cfg_path);
	nc = cfg_load_file(cfg_path, diag_log, NULL);
	if (!nc) {
		log_error("reload: %s refused, keeping the running config",
			  cfg_path);
		notify_ready();
		return;
	}
	g = gen_new(nc, err, sizeof(err));
	if (!g) {
		log_error("reload: %s: %s; keeping the running config",
			  cfg_path, err);
		cfg_free(nc);
		notify_ready();
		return;
	}
	if (strcmp(nc->spool_dir, old->spool_dir))
		log_warnx("reload: spool_dir change needs a restart, still "
			  "using %s",
			  old->spool_dir);
	if (nc->backend.save_workers_size != old->backend.save_workers_size)
		log_warnx("reload: save_workers_size change needs a restart");
	if (nc->backend.keep_done && ctx.sp.done < 0)
		log_warnx("reload: keep_done needs a restart");
	if (strcmp(nc->log_file, old->log_file) ||
	    strcmp(nc->log_level, old->log_level)) {
		/* log.c swaps its fd unlocked: no worker may log meanwhile */
		queue_pause(&ctx.q);
		log_open(PROG, nc->log_file, nc->log_level, -1);
		queue_resume(&ctx.q);
	}
	pthread_mutex_lock(&ctx.gmu);
	prev = ctx.gen;
	ctx.gen = g;
	pthread_mutex_unlock(&ctx.gmu);
	gen_put(&ctx, prev);
	lookup_reload(nc);
	log_info("reload: done, chain %s", g->chain.spec);
	if (g->chain.inserted[0])
		log_info("%s", g->chain.inserted);
	stores_check();
	notify_ready();
}

static int setup_inotify(void)
{
	char p[4200];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	snprintf(p, sizeof(p), "%s/new", ctx.gen->cfg->spool_dir);
	/* sessions name an entry by linkat (IN_CREATE; the file is whole
	 * and on disk by then) or, without O_TMPFILE, by rename, as mv
	 * does (IN_MOVED_TO) */
	if (fd < 0 ||
	    inotify_add_watch(fd, p, IN_MOVED_TO | IN_CREATE) < 0) {
		log_error("inotify on %s: %s (rescans only)", p,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* read_inotify - queue every name that arrived; 1 when a rescan is
 * needed (overflow, queue full, not running yet) */
static int read_inotify(int fd, int running)
{
	char buf[16384] __attribute__((aligned(8)));
	int rescan = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			break;
		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				rescan = 1;
			else if (ev->len && scan_name_ok(ev->name) &&
				 !queue_skipping(&ctx.q, ev->name, real_ms()) &&
				 (!running ||
				  queue_push(&ctx.q, ev->name, J_NEW) < 0))
				rescan = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return rescan;
}

static void status(void)
{
	static unsigned long last[4] = {~0UL, 0, 0, 0};
	unsigned long now[4];

	now[0] = (unsigned long)(queue_len(&ctx.q) + queue_deferred(&ctx.q));
	now[1] = atomic_load(&ctx.delivered);
	now[2] = atomic_load(&ctx.deferred);
	now[3] = atomic_load(&ctx.failed);
	if (!memcmp(now, last, sizeof(now)))
		return;
	memcpy(last, now, sizeof(now));
	notify_status("queued %lu, delivered %lu, deferred %lu, failed %lu",
		      now[0], now[1], now[2], now[3]);
}

/* stop_workers - finish in-flight deliveries, waiting at most wait_ms;
 * 0 when all stopped */
static int stop_workers(struct worker *w, size_t n, long long wait_ms)
{
	struct timespec dl;
	size_t i;
	int all = 0;

	queue_stop(&ctx.q);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += wait_ms / 1000;
	for (i = 0; i < n; i++) {
		if (!w[i].started)
			continue;
		if (pthread_timedjoin_np(w[i].thread, NULL, &dl) != 0) {
			log_error("worker %zu still busy after %llds, exiting "
				  "anyway (its entry stays in cur/)",
				  i, wait_ms / 1000);
			all = -1;
		}
	}
	return all;
}

static int check_config(void)
{
	struct cfg *cfg = cfg_load_file(cfg_path, cfg_diag_stderr, PROG);
	struct chain ch;
	char err[512], *dump;

	if (!cfg)
		return EX_CONFIG_;
	if (chain_from_cfg(cfg, &ch, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": config error: %s\n", err);
		cfg_free(cfg);
		return EX_CONFIG_;
	}
	/* the effective config first, then what would stop us at run time
	 * (make run builds its config from this dump) */
	dump = cfg_dump(cfg);
	if (dump)
		printf("%s\n", dump);
	fflush(stdout);
	if (cfg_check_runtime(cfg, cfg_diag_stderr, PROG) > 0) {
		free(dump);
		cfg_free(cfg);
		return EX_CONFIG_;
	}
	if (!chain_stores(&ch))
		fprintf(stderr, PROG ": config warning: save_process: chain "
			"%s stores nothing: messages are discarded once "
			"processed\n", ch.spec);
	fprintf(stderr, PROG ": chain %s\n", ch.spec);
	if (ch.inserted[0])
		fprintf(stderr, PROG ": %s\n", ch.inserted);
	/* a store that is down is no config error: spoolerd runs and
	 * retries; say so, exit 0 */
	chain_check(&ch, cfg, check_report, NULL);
	free(dump);
	cfg_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	struct worker *workers;
	struct cfg *cfg;
	struct pollfd pfd[2];
	sigset_t mask;
	const char *what;
	char err[512];
	long long next_scan = 0, next_sweep, next_mutt = 0, wd_ms, last_wd;
	long long nworkers, last_ticket;
	int sfd, ifd, i, stop = 0, running = 0, need_scan = 1, ready = 0;
	int stuck_logged = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf(PROG " " SMTPD_VERSION "\n");
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			cfg_path = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			return check_config();
		else
			usage();
	}
	/* errors to stderr now; warnings go to the log, once per change of
	 * the file, from watch_config */
	cfg = cfg_load_file(cfg_path, diag_errors_stderr, NULL);
	if (!cfg)
		return EX_CONFIG_;
	log_open(PROG, cfg->log_file, cfg->log_level, -1);
	pthread_mutex_init(&ctx.gmu, NULL);
	ctx.gen = gen_new(cfg, err, sizeof(err));
	if (!ctx.gen) {
		log_error("config %s: %s", cfg_path, err);
		fprintf(stderr, PROG ": config error: %s\n", err);
		cfg_free(cfg);
		return EX_CONFIG_;
	}
	if (!chain_stores(&ctx.gen->chain))
		log_warnx("chain %s stores nothing: messages are discarded "
			  "once processed",
			  ctx.gen->chain.spec);
	if (scan_open(&ctx.sp, cfg->spool_dir, cfg->backend.keep_done,
		      &what) < 0) {
		log_error("spool %s (%s): %s", cfg->spool_dir, what,
			  strerror(errno));
		return 73;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || queue_init(&ctx.q, QUEUE_CAP) < 0) {
		log_error("start: %s", strerror(errno));
		return 71;
	}
	pid_write(cfg);
	ticket_key_tick(cfg, time(NULL));
	last_ticket = util_mono_ms();
	ifd = setup_inotify();
	/* housekeeping before any worker runs */
	k = (size_t)scan_clean_tmp(&ctx.sp, time(NULL), TMP_MAX_AGE);
	if (k)
		log_info("removed %zu stale files from tmp/", k);
	k = (size_t)scan_clean_state(&ctx.sp);
	if (k)
		log_info("removed %zu orphaned files from state/", k);
	{
		long long now = real_ms();

		scan_list(ctx.sp.defer, load_defer, &now);
	}
	scan_mutt_names(&ctx.sp);
	k = (size_t)scan_list(ctx.sp.cur, push_cur, NULL);
	if (k)
		log_info("recovering %zu entries left in cur/", k);
	nworkers = cfg->backend.save_workers_size;
	workers = calloc((size_t)nworkers, sizeof(*workers));
	for (i = 0; workers && i < nworkers; i++) {
		workers[i].c = &ctx;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]) == 0)
			workers[i].started = 1;
		else
			log_error("worker %d: %s", i, strerror(errno));
	}
	if (!workers) {
		log_error("out of memory");
		return 71;
	}
	log_info("started: spool %s, %lld workers, chain %s", cfg->spool_dir,
		 nworkers, ctx.gen->chain.spec);
	if (ctx.gen->chain.inserted[0])
		log_info("%s", ctx.gen->chain.inserted);
	stores_check();
	/* rcpt_check's lookup socket, when a servers[] entry has one */
	lookup_start(cfg);
	wd_ms = notify_watchdog_ms();
	last_wd = util_mono_ms();
	next_sweep = util_mono_ms() + SWEEP_EVERY_MS;
	while (!stop) {
		const struct cfg_backend *b = &ctx.gen->cfg->backend;
		long long now = util_mono_ms(), due, timeout = 1000;
		struct signalfd_siginfo si;
		int nfd = 1;

		if (!running && queue_idle(&ctx.q)) {
			running = 1; /* cur/ recovered: now new/ */
			need_scan = 1;
		}
		if (running && (need_scan || now >= next_scan) &&
		    queue_pending(&ctx.q) == 0) {
			int dropped = 0;

			scan_list(ctx.sp.new, push_new, &dropped);
			need_scan = dropped;
			next_scan = now + b->rescan_interval;
			if (!ready) {
				notify_ready();
				ready = 1;
			}
		}
		if (running)
			queue_take_due(&ctx.q, real_ms(), &due);
		else
			due = -1;
		/* one clock reading: with two, an entry due between them
		 * made the timeout -1, and poll slept until the next signal
		 * or new mail, with every deferred entry waiting */
		timeout = queue_wait_ms(due, real_ms(), timeout);
		if (now - last_ticket >= 1000) {
			/* a stat a second: the key's age is its mtime */
			ticket_key_tick(ctx.gen->cfg, time(NULL));
			last_ticket = now;
		}
		if (now >= next_mutt) {
			if (scan_mutt_names(&ctx.sp) > 0)
				need_scan = 1;
			next_mutt = now + MUTT_EVERY_MS;
		}
		if (now >= next_sweep) {
			k = (size_t)scan_clean_tmp(&ctx.sp, time(NULL),
						   TMP_MAX_AGE);
			if (k)
				log_info("removed %zu stale files from tmp/",
					 k);
			next_sweep = now + SWEEP_EVERY_MS;
		}
		if (wd_ms && now - last_wd >= wd_ms) {
			long long busy;
			int wi = worker_stuck(workers, nworkers, util_mono_ms(),
					      b->worker_stuck_timeout, &busy);

			/* a stuck worker stops the pings: systemd's
			 * WatchdogSec then restarts us, and recovery of
			 * cur/ picks its entries up again */
			if (wi < 0) {
				notify_watchdog();
				stuck_logged = 0;
			} else if (!stuck_logged) {
				log_error("worker %d stuck for %llds on one "
					  "batch: watchdog pings withheld",
					  wi, busy / 1000);
				stuck_logged = 1;
			}
			last_wd = now;
		}
		if (wd_ms)
			timeout = queue_wait_ms(last_wd + wd_ms, now, timeout);
		status();
		watch_config();
		queue_report();
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		if (ifd >= 0) {
			pfd[1].fd = ifd;
			pfd[1].events = POLLIN;
			nfd = 2;
		}
		if (poll(pfd, (nfds_t)nfd, (int)timeout) < 0 && errno != EINTR)
			log_error("poll: %s", strerror(errno));
		if (nfd == 2 && (pfd[1].revents & POLLIN) &&
		    read_inotify(ifd, running))
			need_scan = 1;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				reload();
			else if (si.ssi_signo == SIGUSR1) {
				queue_pause(&ctx.q);
				log_reopen();
				queue_resume(&ctx.q);
			}
			else
				stop = 1;
		}
	}
	notify_stopping();
	lookup_stop();
	log_info("stopping: finishing deliveries in progress");
	{
		long long wait = ctx.gen->cfg->backend.gw_save_timeout;

		if (wait < STOP_WAIT_MIN_MS)
			wait = STOP_WAIT_MIN_MS;
		if (stop_workers(workers, (size_t)nworkers, wait) < 0) {
			if (pid_path[0])
				unlink(pid_path);
			_exit(0);
		}
	}
	log_info("stopped: delivered %lu, deferred %lu, failed %lu",
		 atomic_load(&ctx.delivered), atomic_load(&ctx.deferred),
		 atomic_load(&ctx.failed));
	if (pid_path[0])
		unlink(pid_path);
	free(workers);
	queue_free(&ctx.q);
	gen_put(&ctx, ctx.gen);
	scan_close(&ctx.sp);
	if (ifd >= 0)
		close(ifd);
	close(sfd);
	log_close();
	return 0;
}
