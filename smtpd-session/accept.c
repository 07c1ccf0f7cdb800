/*
 * accept.c - the accept mode's parent: prepare once, fork per client.
 *
 * The parent loads the config, builds every entry's TLS credentials and
 * priority cache (tls_prepare: GnuTLS is loaded and initialised once,
 * here), opens the spool dirs and the log, and then only accepts,
 * counts, forks and reaps (Postfix master(8), s6-tcpserverd). It never
 * reads a byte from a client and never blocks on one: the accepted
 * socket goes to a fresh child, which makes it fd 0/1, enters the
 * sandbox and runs exactly the inetd mode's session (serve.c). A child
 * is never reused, so nothing of one client reaches the next. The
 * sandbox's seccomp filter is installed on the parent itself before the
 * first accept (sandbox_prepare), so a child inherits it instead of
 * attaching it anew; the parent needs none of the calls it denies.
 *
 * Limits: max_clients and max_clients_per_ip of the connection's
 * servers[] entry are counted here, over the running children, in
 * hashed tables (per listen_interface, per client address, and pid to
 * child for the reaping), so a connection costs the same with 5000
 * sessions open as with one (the inetd mode's slot files are not
 * used). Past a limit the connection is
 * still accepted and the parent itself answers 421 4.7.0 at once and
 * closes (answer: one send that cannot wait, on a socket whose buffer is
 * empty), so a client never waits in a backlog that is never served,
 * and shedding costs no fork: under overload a refusal child had to wait
 * for the CPU like every session before it could say 421. A connection
 * whose local address picks a disabled entry, or none, is refused the
 * same way (421 4.3.0), as cfg_server_pick says. A trusted proxy (a
 * proxy_trusted or xclient_trusted peer, serve_proxied_peer) counts
 * toward max_clients but not per IP: the parent cannot know its clients
 * without reading their bytes, so each child takes its client's per-IP
 * slot in the inetd mode's slot files (slots.c) once the PROXY header or
 * XCLIENT has named it.
 *
 * Reload: before an accept, at most once a second, the config file and
 * every certificate, key and CA file of the enabled entries are stat'ed
 * (device, inode, size, mtime); a change, or SIGHUP, loads the whole set
 * anew. Only a config that loads and whose TLS files all load replaces
 * the old one; otherwise the errors are logged and the last good one
 * stays. A child always forks off one whole set, old or new.
 *
 * Session tickets: the parent makes one master key (tls_prep_tick) that
 * every child inherits, so a client may resume in another child what it
 * began in one; a new key every tls_ticket_rotate, kept across reloads.
 *
 * SIGTERM (and SIGINT): close the listeners, let the sessions finish for
 * up to stop_timeout seconds, then SIGTERM them (each answers 421 and
 * ends), SIGKILL after 5 more seconds, exit 0. sd_notify (NOTIFY_SOCKET,
 * spoken here directly): READY=1, RELOADING=1, STOPPING=1 and a STATUS=
 * line (listen.c, which also takes systemd's LISTEN_FDS or binds the
 * --listen addresses).
 */
#include "accept.h"
#include "cfg.h"
#include "listen.h"
#include "log.h"
#include "sandbox.h"
#include "stats.h"
#include "serve.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "smtpd-session"

#if defined(__SANITIZE_ADDRESS__)
#define ACCEPT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACCEPT_SANITIZED 1
#endif
#endif
#define MAX_WATCH 64
#define ACCEPT_BURST 64    /* accepts per listener per wake-up */
#define REFUSE_LOG_EVERY 10 /* s between two lines of one refusal class */

struct watch {
	char path[1024];
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* one loaded config with everything built from it */
struct gen {
	struct cfg *cfg;
	struct tls_prep *tls;
	struct watch w[MAX_WATCH];
	int nw;
};

struct child {
	pid_t pid;
	unsigned ifx; /* its listen_interface: an index into B->ifs */
	char ip[64];
};

#define MAX_IFACES 64

/* the sessions of one listen_interface (the servers[] entry's, kept by
 * name: a reload may reorder the entries) */
struct iface {
	char name[128];
	size_t n;
};

/* the sessions of one client address on one listen_interface; n 0: a
 * free slot */
struct ipn {
	size_t n;
	unsigned ifx;
	char ip[64];
};

enum refusal { RF_FULL, RF_PERIP, RF_ENTRY, RF_FORK, RF_N };

static const char *const refusal_names[RF_N] = {
	"max_clients reached", "max_clients_per_ip reached",
	"no enabled servers[] entry for the local address",
	"cannot fork"};

static struct {
	const char *path;
	struct gen cur;
	struct spool sp;
	int lfd[ACCEPT_MAX_LISTEN];
	int nl;
	sigset_t waitmask; /* the mask inside ppoll: the handled ones open */
	sigset_t childmask; /* the mask a child starts its session with */
} A;

/* what only the parent reads and writes, once per connection: kept out
 * of every child (book_map). A page the parent writes after a fork is
 * copied, and the child's old copy is then the child's alone: were the
 * counters beside A.cur, each idle child would own a page of them */
static struct book {
	struct child *kids; /* dense, in no order */
	size_t nkids, capkids;
	/* both open-addressed (linear probing), 2 * capkids slots: a pid's
	 * index in kids (+1; 0: free), and the per-address counts */
	size_t *pidix;
	struct ipn *ipt;
	struct iface ifs[MAX_IFACES];
	unsigned long long accepted, refused;
	time_t refusal_last[RF_N];
	unsigned long refusal_quiet[RF_N];
} *B;

static volatile sig_atomic_t got_hup, got_term, got_chld;

/* status - the STATUS= line systemctl status shows */
static void status(void)
{
	listen_notify("STATUS=sessions open %zu, accepted %llu, refused %llu",
	       B->nkids, B->accepted, B->refused);
}

int accept_have_listen_fds(void)
{
	return listen_fds_count() > 0;
}

/* ---- the config and its files ---- */

/* diag_log - config messages into the parent's log */
static void diag_log(void *arg, int is_error, const char *msg)
{
	(void)arg;
	if (is_error)
		log_error("config error: %s", msg);
	else
		log_warnx("config warning: %s", msg);
}

/* watch_stat - (re)read one watched file's identity */
static void watch_stat(struct watch *w)
{
	struct stat sb;

	w->exists = stat(w->path, &sb) == 0;
	if (!w->exists)
		return;
	w->dev = sb.st_dev;
	w->ino = sb.st_ino;
	w->size = sb.st_size;
	w->mtime = sb.st_mtim;
}

/* watch_add - one more file to watch */
static void watch_add(struct gen *g, const char *path)
{
	if (g->nw >= MAX_WATCH)
		return;
	snprintf(g->w[g->nw].path, sizeof(g->w[0].path), "%s", path);
	watch_stat(&g->w[g->nw++]);
}

/* watch_changed - has any watched file changed since the last look?
 * (the look is recorded, so one change is seen once) */
static int watch_changed(struct gen *g)
{
	int i, changed = 0;

	for (i = 0; i < g->nw; i++) {
		struct watch old = g->w[i];

		watch_stat(&g->w[i]);
		if (old.exists != g->w[i].exists ||
		    (old.exists &&
		     (old.dev != g->w[i].dev || old.ino != g->w[i].ino ||
		      old.size != g->w[i].size ||
		      old.mtime.tv_sec != g->w[i].mtime.tv_sec ||
		      old.mtime.tv_nsec != g->w[i].mtime.tv_nsec)))
			changed = 1;
	}
	return changed;
}

/* gen_load - the config and its TLS set-up; 0, or -1 (errors logged)
 * with g untouched. strict: a TLS error fails the load */
static int gen_load(struct gen *g, int strict)
{
	struct gen n;
	int errors = 0;
	size_t k, i;

	memset(&n, 0, sizeof(n));
	watch_add(&n, A.path);
	n.cfg = cfg_load_file_as(A.path, CFG_SESSION, diag_log, NULL);
	if (!n.cfg)
		return -1;
	n.tls = tls_prepare(n.cfg, diag_log, NULL, &errors);
	if (!n.tls || (strict && errors)) {
		tls_prep_free(n.tls);
		cfg_free(n.cfg);
		return -1;
	}
	for (k = 0; k < n.cfg->nservers; k++) {
		const struct cfg_tls *t = &n.cfg->servers[k].tls;
		char buf[1024];

		if (!n.cfg->servers[k].is_enabled)
			continue;
		for (i = 0; i < t->public_key_file.n; i++) {
			watch_add(&n, tls_file_path(t->public_key_file.v[i],
						    buf, sizeof(buf)));
			if (i < t->private_key_file.n)
				watch_add(&n, tls_file_path(
						      t->private_key_file.v[i],
						      buf, sizeof(buf)));
		}
		for (i = 0; i < t->certificates.pub.n; i++) {
			watch_add(&n, tls_file_path(t->certificates.pub.v[i],
						    buf, sizeof(buf)));
			watch_add(&n, tls_file_path(t->certificates.key.v[i],
						    buf, sizeof(buf)));
		}
		if (t->root_cas_file)
			watch_add(&n, tls_file_path(t->root_cas_file, buf,
						    sizeof(buf)));
	}
	*g = n;
	return 0;
}

/* gen_free - the config and TLS set-up no child will fork off again */
static void gen_free(struct gen *g)
{
	tls_prep_free(g->tls);
	cfg_free(g->cfg);
	memset(g, 0, sizeof(*g));
}

/* log_setup - the parent's log, per the current config */
static void log_setup(void)
{
	log_close();
	log_open(PROG, A.cur.cfg->log_file, A.cur.cfg->log_level, -1);
}

/* heap_settle - let glibc sort its free lists once, here, not in every
 * child. Loading a config leaves freed chunks in malloc's unsorted list;
 * the first large malloc sorts them all into bins, writing a link in
 * each, and were that a child's (its 16 KiB input buffer, io.c) it would
 * copy every page they lie on: 84 KiB of heap per idle child, 20 once
 * the parent has done it (measured). A large request does the sorting
 * (then fails over to mmap, or is carved off the top), its free undoes
 * the rest */
static void heap_settle(void)
{
	void *volatile p = malloc(64 * 1024);

	free(p);
}

/* watch_baseline - g's files as they were in snap (looked at before a
 * load), for each path snap has: a file replaced while the load read
 * it (a certificate renamed in between its key and itself) then still
 * differs at the next look, and is loaded again */
static void watch_baseline(struct gen *g, const struct watch *snap, int ns)
{
	int i, j;

	for (i = 0; i < g->nw; i++)
		for (j = 0; j < ns; j++)
			if (!strcmp(g->w[i].path, snap[j].path)) {
				g->w[i] = snap[j];
				break;
			}
}

/* reload - load the files anew; keep the old set if the new is bad */
static void reload(const char *why)
{
	static struct watch snap[MAX_WATCH];
	int ns = A.cur.nw, i;
	struct gen n;

	listen_notify("RELOADING=1");
	for (i = 0; i < ns; i++) {
		snap[i] = A.cur.w[i];
		watch_stat(&snap[i]);
	}
	if (gen_load(&n, 1) < 0) {
		log_error("reload (%s): %s is not usable, keeping the last "
			  "good config",
			  why, A.path);
		/* the failed files' state (before the load) is the new
		 * baseline: a broken file is reported once, not every
		 * second, and one that changed meanwhile is tried again */
		watch_baseline(&A.cur, snap, ns);
		listen_notify("READY=1");
		return;
	}
	watch_baseline(&n, snap, ns);
	gen_free(&A.cur);
	A.cur = n;
	log_setup();
	spool_close(&A.sp);
	spool_init(&A.sp);
	if (spool_open_dirs(&A.sp, A.cur.cfg->spool_dir) < 0)
		log_error("spool %s: %s (sessions retry at DATA)",
			  A.cur.cfg->spool_dir, strerror(errno));
	log_info("reloaded %s (%s)", A.path, why);
	heap_settle();
	listen_notify("READY=1");
	status();
}

/* ---- children ---- */

/* on_signal - flags for the loop (it runs only inside ppoll, which
 * then returns EINTR) */
static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* signals_parent - our handlers; SIGPIPE ignored. The handled signals
 * stay blocked except inside ppoll (wait_for): a SIGCHLD that came
 * during a fork made the kernel undo and restart the whole fork
 * (ERESTARTNOINTR), and in a serial run the last child's exit lands in
 * the next fork nearly every time (166 restarts in 200 connections,
 * measured); blocked, it waits for the next ppoll */
static void signals_parent(void)
{
	struct sigaction sa;
	sigset_t hold;

	sigemptyset(&hold);
	sigaddset(&hold, SIGCHLD);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGINT);
	sigprocmask(SIG_BLOCK, &hold, &A.childmask);
	A.waitmask = A.childmask;
	sigdelset(&A.waitmask, SIGCHLD);
	sigdelset(&A.waitmask, SIGHUP);
	sigdelset(&A.waitmask, SIGTERM);
	sigdelset(&A.waitmask, SIGINT);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_flags = 0;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* wait_for - poll with the handled signals let in for the wait only;
 * poll's result (-1 EINTR after a signal) */
static int wait_for(struct pollfd *p, nfds_t n, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	return ppoll(p, n, &ts, &A.waitmask);
}

/* child_enter - in a new child: drop what belongs to the parent, make
 * the connection fds 0 and 1 */
static void child_enter(int cfd)
{
	struct sigaction sa;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigprocmask(SIG_SETMASK, &A.childmask, NULL);
	for (i = 0; i < A.nl; i++)
		close(A.lfd[i]);
	listen_notify_close();
	if (cfd != 0)
		dup2(cfd, 0);
	if (cfd != 1)
		dup2(cfd, 1);
	if (cfd > 1)
		close(cfd);
}

/* book_map - n zeroed bytes that a fork does not copy (MADV_DONTFORK):
 * the parent's bookkeeping; NULL on failure */
static void *book_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, n, MADV_DONTFORK) < 0) {
		munmap(p, n);
		return NULL;
	}
	return p;
}

/* book_unmap - give back what book_map gave (p may be NULL) */
static void book_unmap(void *p, size_t n)
{
	if (p)
		munmap(p, n);
}

/* child_exit - a child's end: the session has sent, logged and closed
 * all it had (log.c writes each line with write(2)), so only stdio is
 * flushed and the libraries' exit handlers are skipped. They would free
 * what the parent built, GnuTLS's global state first, and each free
 * writes a heap page the child shares with the parent: copied for
 * nothing, at ~40 % of a child's page faults (measured). Sanitizer
 * builds exit normally, so that LeakSanitizer still checks the child */
static _Noreturn void child_exit(int rc)
{
#ifdef ACCEPT_SANITIZED
	exit(rc);
#else
	fflush(NULL);
	_exit(rc);
#endif
}

/* answer - the parent's own reply to a connection it refuses. The
 * socket is fresh, its send buffer empty, so one line goes out at once
 * or (the client gone) not at all; MSG_DONTWAIT: never a wait. The
 * texts are made once and kept */
static void answer(int cfd, enum reply_id id)
{
	static struct buf txt[2] = {{NULL, 0, 0, 256}, {NULL, 0, 0, 256}};
	struct buf *b = &txt[id == R_INTERNAL];

	if (!b->len && reply_add(b, id) < 0)
		return;
	if (send(cfd, b->p, b->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the client is gone or its buffer full: close */
	}
}

/* ---- the book: sessions counted per entry and per client address,
 * each lookup O(1), not a walk over every running session (at 5000
 * sessions the walk was 9 % of the parent's time under load) ---- */

/* hash_pid, hash_ip - slots of a table of 2^k slots (mask) */
static size_t hash_pid(pid_t pid, size_t mask)
{
	return ((uint32_t)pid * 2654435761u) & mask;
}

static size_t hash_ip(unsigned ifx, const char *ip, size_t mask)
{
	uint32_t h = 2166136261u ^ ifx;

	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h & mask;
}

/* pid_slot - pid's slot in B->pidix, or the free one it would take */
static size_t pid_slot(pid_t pid)
{
	size_t mask = 2 * B->capkids - 1, h = hash_pid(pid, mask);

	while (B->pidix[h] && B->kids[B->pidix[h] - 1].pid != pid)
		h = (h + 1) & mask;
	return h;
}

/* ip_slot - (ifx, ip)'s slot in B->ipt, or the free one it would take */
static size_t ip_slot(unsigned ifx, const char *ip)
{
	size_t mask = 2 * B->capkids - 1, h = hash_ip(ifx, ip, mask);

	while (B->ipt[h].n &&
	       (B->ipt[h].ifx != ifx || strcmp(B->ipt[h].ip, ip)))
		h = (h + 1) & mask;
	return h;
}

/* one of the two tables, for unslot */
struct table {
	size_t (*home)(size_t slot); /* the slot its entry hashes to */
	int (*used)(size_t slot);
	void (*move)(size_t to, size_t from); /* and free from */
};

static size_t pid_home(size_t h)
{
	return hash_pid(B->kids[B->pidix[h] - 1].pid, 2 * B->capkids - 1);
}

static int pid_used(size_t h)
{
	return B->pidix[h] != 0;
}

static void pid_move(size_t to, size_t from)
{
	B->pidix[to] = B->pidix[from];
	B->pidix[from] = 0;
}

static size_t ip_home(size_t h)
{
	return hash_ip(B->ipt[h].ifx, B->ipt[h].ip, 2 * B->capkids - 1);
}

static int ip_used(size_t h)
{
	return B->ipt[h].n != 0;
}

static void ip_move(size_t to, size_t from)
{
	B->ipt[to] = B->ipt[from];
	B->ipt[from].n = 0;
}

static const struct table pid_table = {pid_home, pid_used, pid_move};
static const struct table ip_table = {ip_home, ip_used, ip_move};

/* unslot - slot h of t has just been freed: move the entries after it
 * that probed past it back (deletion without tombstones) */
static void unslot(const struct table *t, size_t h)
{
	size_t mask = 2 * B->capkids - 1, j = h;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->used(j))
			return;
		home = t->home(j);
		/* j stays if its home lies cyclically in (h, j] */
		if (h <= j ? (h < home && home <= j) : (h < home || home <= j))
			continue;
		t->move(h, j);
		h = j;
	}
}

/* book_grow - room for twice as many sessions, tables rebuilt; 0 or -1 */
static int book_grow(void)
{
	size_t ncap = B->capkids ? B->capkids * 2 : 64, i;
	struct child *nk = book_map(ncap * sizeof(*nk));
	size_t *np = book_map(2 * ncap * sizeof(*np));
	struct ipn *ni = book_map(2 * ncap * sizeof(*ni));

	if (!nk || !np || !ni) {
		book_unmap(nk, ncap * sizeof(*nk));
		book_unmap(np, 2 * ncap * sizeof(*np));
		book_unmap(ni, 2 * ncap * sizeof(*ni));
		return -1;
	}
	if (B->nkids)
		memcpy(nk, B->kids, B->nkids * sizeof(*nk));
	book_unmap(B->kids, B->capkids * sizeof(*nk));
	book_unmap(B->pidix, 2 * B->capkids * sizeof(*np));
	book_unmap(B->ipt, 2 * B->capkids * sizeof(*ni));
	B->kids = nk;
	B->pidix = np;
	B->ipt = ni;
	B->capkids = ncap;
	for (i = 0; i < B->nkids; i++) {
		size_t h = ip_slot(nk[i].ifx, nk[i].ip);

		B->pidix[pid_slot(nk[i].pid)] = i + 1;
		if (!B->ipt[h].n) {
			B->ipt[h].ifx = nk[i].ifx;
			snprintf(B->ipt[h].ip, sizeof(B->ipt[h].ip), "%s",
				 nk[i].ip);
		}
		B->ipt[h].n++;
	}
	return 0;
}

/* iface_find - the index of name in B->ifs, or -1; add: take a free
 * one (no session counted) for it when it has none */
static int iface_find(const char *name, int add)
{
	int i, spare = -1;

	for (i = 0; i < MAX_IFACES; i++) {
		/* a name too long for the slot matches its stored start */
		if (B->ifs[i].name[0] &&
		    !strncmp(B->ifs[i].name, name, sizeof(B->ifs[i].name) - 1))
			return i;
		if (spare < 0 && !B->ifs[i].n)
			spare = i;
	}
	if (!add || spare < 0)
		return -1;
	snprintf(B->ifs[spare].name, sizeof(B->ifs[spare].name), "%s", name);
	return spare;
}

/* count_child - a session's child in the book; 0 */
static int count_child(pid_t pid, const struct cfg_server *srv,
                       const struct serve_conn *c)
{
	struct child *k;
	int ifx = iface_find(srv->listen_interface, 1);
	size_t h;

	if (ifx < 0 || (B->nkids == B->capkids && book_grow() < 0)) {
		/* uncounted, but served */
		log_error("out of memory counting sessions");
		return 0;
	}
	k = &B->kids[B->nkids++];
	k->pid = pid;
	k->ifx = (unsigned)ifx;
	snprintf(k->ip, sizeof(k->ip), "%s", c->pip);
	B->pidix[pid_slot(pid)] = B->nkids;
	B->ifs[ifx].n++;
	h = ip_slot(k->ifx, k->ip);
	if (!B->ipt[h].n) {
		B->ipt[h].ifx = k->ifx;
		snprintf(B->ipt[h].ip, sizeof(B->ipt[h].ip), "%s", k->ip);
	}
	B->ipt[h].n++;
	return 0;
}

/* uncount_child - kids[i] has ended: out of the book */
static void uncount_child(size_t i)
{
	struct child *k = &B->kids[i];
	size_t h = ip_slot(k->ifx, k->ip);

	B->ifs[k->ifx].n--;
	if (B->ipt[h].n && --B->ipt[h].n == 0)
		unslot(&ip_table, h);
	h = pid_slot(k->pid);
	B->pidix[h] = 0;
	unslot(&pid_table, h);
	if (i != B->nkids - 1) {
		*k = B->kids[B->nkids - 1];
		B->pidix[pid_slot(k->pid)] = i + 1;
	}
	B->nkids--;
}

/* spawn - one child for the connection's session; 0, or -1 when fork
 * failed */
static int spawn(int cfd, const struct cfg_server *srv,
                 const struct serve_conn *c)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct cfg *cfg = A.cur.cfg;

		child_enter(cfd);
		log_open(PROG, srv->log_file ? srv->log_file : cfg->log_file,
			 cfg->log_level, 0);
		tls_use(A.cur.tls);
		serve_signals(srv->max_session_time);
		child_exit(serve_session(cfg, srv, &A.sp, c));
	}
	return count_child(pid, srv, c);
}

/* refusal - count one refused connection, log its class rate-limited */
static void refusal(enum refusal rf, const struct serve_conn *c)
{
	time_t now = time(NULL);

	B->refused++;
	if (B->refusal_last[rf] &&
	    now - B->refusal_last[rf] < REFUSE_LOG_EVERY) {
		B->refusal_quiet[rf]++;
		return;
	}
	if (B->refusal_quiet[rf])
		log_info("refused %s port %u to %s port %u: %s (and %lu "
			 "more in the last %ld s)",
			 c->pip, c->pport, c->lip, c->lport, refusal_names[rf],
			 B->refusal_quiet[rf],
			 (long)(now - B->refusal_last[rf]));
	else
		log_info("refused %s port %u to %s port %u: %s", c->pip,
			 c->pport, c->lip, c->lport, refusal_names[rf]);
	B->refusal_last[rf] = now;
	B->refusal_quiet[rf] = 0;
}

/* reap - collect every finished child */
static void reap(void)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		size_t i, h;

		if (!B->capkids || !B->pidix[h = pid_slot(pid)])
			continue; /* uncounted (out of memory, spawn) */
		i = B->pidix[h] - 1;
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
			log_warnx("session %ld from %s died of signal %d",
				  (long)pid, B->kids[i].ip, WTERMSIG(st));
		else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
			log_warnx("session %ld from %s exited %d", (long)pid,
				  B->kids[i].ip, WEXITSTATUS(st));
		else if (WIFEXITED(st))
			log_debug("session %ld from %s exited 0", (long)pid,
				  B->kids[i].ip);
		uncount_child(i);
	}
}

/* over_limit - the limit srv's running sessions leave no room under
 * for one more from pip, or RF_N */
static enum refusal over_limit(const struct cfg_server *srv,
                               const char *pip)
{
	int ifx = iface_find(srv->listen_interface, 0);
	size_t n = 0, nip = 0;

	if (ifx >= 0) {
		n = B->ifs[ifx].n;
		if (B->capkids)
			nip = B->ipt[ip_slot((unsigned)ifx, pip)].n;
	}
	if (srv->max_clients > 0 && n >= (size_t)srv->max_clients)
		return RF_FULL;
	if (srv->max_clients_per_ip > 0 && strcmp(pip, "unknown") &&
	    !serve_proxied_peer(srv, pip) &&
	    nip >= (size_t)srv->max_clients_per_ip)
		return RF_PERIP;
	return RF_N;
}

/* take - accept one connection on listener fd and hand it to a child;
 * 1 taken, 0 nothing pending, -1 accept failed */
static int take(int fd)
{
	struct sockaddr_storage ss, ls;
	socklen_t sl = sizeof(ss), ll = sizeof(ls);
	const struct cfg_server *srv;
	char lip[64] = "unknown", pip[64] = "unknown";
	struct serve_conn c;
	enum cfg_pick pick;
	enum refusal rf = RF_N;
	int cfd;

	cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED)
			return 0;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	B->accepted++;
	memset(&ls, 0, sizeof(ls));
	c.lport = c.pport = 0;
	if (getsockname(cfd, (struct sockaddr *)&ls, &ll) < 0 ||
	    serve_sockaddr_text(&ls, lip, sizeof(lip), &c.lport) < 0)
		snprintf(lip, sizeof(lip), "unknown");
	if (serve_sockaddr_text(&ss, pip, sizeof(pip), &c.pport) < 0)
		snprintf(pip, sizeof(pip), "unknown");
	c.lip = lip;
	c.pip = pip;
	srv = cfg_server_pick(A.cur.cfg, strcmp(lip, "unknown") ? lip : NULL,
			      c.lport, NULL, &pick);
	if (!srv)
		rf = RF_ENTRY;
	else if ((rf = over_limit(srv, pip)) != RF_N) {
		/* a session that ended since the last wait is still
		 * counted (its SIGCHLD waits, blocked): collect, look again */
		reap();
		rf = over_limit(srv, pip);
	}
	if (rf != RF_N) {
		refusal(rf, &c);
		stats_refused(A.cur.cfg, srv, c.pip);
		answer(cfd, rf == RF_ENTRY ? R_INTERNAL : R_FULL);
	} else if (spawn(cfd, srv, &c) < 0) {
		/* no child: refused like a full server */
		refusal(RF_FORK, &c);
		answer(cfd, R_FULL);
	}
	close(cfd);
	return 1;
}

/* shut_down - no more accepts; sessions get stop_timeout s, then
 * SIGTERM, then SIGKILL */
static void shut_down(long stop_timeout)
{
	struct timespec t0, t;
	int i, termed = 0;

	for (i = 0; i < A.nl; i++)
		close(A.lfd[i]);
	A.nl = 0;
	listen_notify("STOPPING=1");
	log_info("stopping: %zu sessions open, waiting up to %ld s",
		 B->nkids, stop_timeout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long el;

		reap();
		if (!B->nkids)
			break;
		status();
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (long)(t.tv_sec - t0.tv_sec);
		if (el >= stop_timeout + 5) {
			size_t k;

			log_error("stopping: killing %zu sessions", B->nkids);
			for (k = 0; k < B->nkids; k++)
				kill(B->kids[k].pid, SIGKILL);
			break;
		}
		if (el >= stop_timeout && !termed) {
			size_t k;

			log_warnx("stopping: %zu sessions still open, "
				  "ending them",
				  B->nkids);
			for (k = 0; k < B->nkids; k++)
				kill(B->kids[k].pid, SIGTERM);
			termed = 1;
		}
		wait_for(NULL, 0, 200);
	}
	reap();
	log_info("stopped: accepted %llu, refused %llu", B->accepted,
		 B->refused);
}

int accept_main(const char *path, const char **listen, int nlisten,
                long stop_timeout)
{
	struct pollfd pfd[ACCEPT_MAX_LISTEN];
	struct timespec last_check, now;
	time_t last_status = 0;
	int i;

	A.path = path;
	A.nl = 0;
	log_open(PROG, "stderr", "info", -1);
	listen_notify_open();
	if (gen_load(&A.cur, 0) < 0) {
		log_error("%s: cannot start with this config", path);
		return EX_CONFIG_;
	}
	log_setup();
	if (nlisten == 0) {
		A.nl = listen_take_fds(A.lfd, ACCEPT_MAX_LISTEN);
		if (A.nl <= 0)
			return 64;
	}
	for (i = 0; i < nlisten; i++) {
		int fd = listen_bind(listen[i]);

		if (fd < 0)
			return 71;
		A.lfd[A.nl++] = fd;
	}
	for (i = 0; i < A.nl; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[64];
		unsigned port = 0;
		enum cfg_pick pick;

		if (getsockname(A.lfd[i], (struct sockaddr *)&ss, &sl) == 0 &&
		    serve_sockaddr_text(&ss, ip, sizeof(ip), &port) == 0 &&
		    !cfg_server_pick(A.cur.cfg, ip, port, NULL, &pick) &&
		    pick != PICK_OK)
			log_warnx("listening on %s port %u, but %s: its "
				  "connections are refused",
				  ip, port,
				  pick == PICK_DISABLED
					  ? "its servers[] entry is disabled"
					  : "no servers[] entry matches");
		else
			log_info("accepting on %s port %u", ip, port);
	}
	B = book_map(sizeof(*B));
	if (!B) {
		log_error("mmap: %s", strerror(errno));
		return 71;
	}
	spool_init(&A.sp);
	if (spool_open_dirs(&A.sp, A.cur.cfg->spool_dir) < 0)
		log_error("spool %s: %s (sessions retry at DATA)",
			  A.cur.cfg->spool_dir, strerror(errno));
	/* glibc reads /etc/localtime at a process's first gmtime_r (the
	 * Received date, log lines): 6 syscalls and a malloc per child,
	 * unless the parent has read it already */
	tzset();
	heap_settle();
	/* the session's filter, once, for every child to inherit */
	if (sandbox_prepare() < 0)
		log_error("sandbox: %s (each session tries again)",
			  strerror(errno));
	signals_parent();
	clock_gettime(CLOCK_MONOTONIC, &last_check);
	listen_notify("READY=1");
	status();
	while (!got_term) {
		int n;

		for (i = 0; i < A.nl; i++) {
			pfd[i].fd = A.lfd[i];
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		n = wait_for(pfd, (nfds_t)A.nl, 1000);
		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload("SIGHUP");
			clock_gettime(CLOCK_MONOTONIC, &last_check);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last_check.tv_sec >= 1 ||
		    (now.tv_sec - last_check.tv_sec) * 1000000000L +
				    (now.tv_nsec - last_check.tv_nsec) >=
			    1000000000L) {
			last_check = now;
			if (watch_changed(&A.cur))
				reload("a file changed");
			tls_prep_tick(A.cur.tls, A.cur.cfg->tls_ticket_rotate);
		}
		for (i = 0; n > 0 && i < A.nl; i++) {
			int k;

			if (!pfd[i].revents)
				continue;
			for (k = 0; k < ACCEPT_BURST; k++) {
				int r = take(A.lfd[i]);

				if (r == 0)
					break;
				if (r < 0) {
					/* EMFILE and friends: the connection
					 * stays queued; retry soon */
					log_error("accept: %s",
						  strerror(errno));
					poll(NULL, 0, 100);
					break;
				}
			}
		}
		if (now.tv_sec != last_status) {
			last_status = now.tv_sec;
			status();
		}
	}
	shut_down(stop_timeout);
	gen_free(&A.cur);
	spool_close(&A.sp);
	book_unmap(B->kids, B->capkids * sizeof(*B->kids));
	book_unmap(B->pidix, 2 * B->capkids * sizeof(*B->pidix));
	book_unmap(B->ipt, 2 * B->capkids * sizeof(*B->ipt));
	book_unmap(B, sizeof(*B));
	log_close();
	return 0;
}
