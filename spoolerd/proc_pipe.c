/*
 * proc_pipe.c - Pipe: run a command with the message on its stdin, as
 * Postfix's pipe(8) and qmail's |command lines do.
 *
 * pipe_command is the argv, never given to a shell: {rcpt}, {user},
 * {domain}, {extension}, {sender} and {queue_id} are replaced inside the
 * arguments (argv[0] is fixed and absolute), so no byte of an address can
 * become shell syntax. Per message (the default) or per recipient
 * (pipe_per_recipient); per message an argument that is exactly "{rcpt}"
 * becomes one argument per recipient, and {user}/{domain}/{extension}
 * are refused at config load (they name one recipient).
 *
 * stdin is the copy a Maildir gets: Return-Path and Delivered-To (per
 * message with several recipients only Return-Path), our Received, the
 * message; LF line ends unless pipe_crlf (or a BINARYMIME body). The
 * envelope is in a clean environment: SENDER, RECIPIENT (all recipients,
 * space-separated, per message; RECIPIENTS too), QUEUE_ID, CLIENT_IP,
 * HELO, and for one recipient LOCAL, USER (LOCAL up to the first '+'),
 * EXTENSION (after it), DEFAULT (= EXTENSION, when there is one), DOMAIN.
 *
 * The command runs through pipe_run.c (own process group, closed fds,
 * the ids of pipe_user under root, killed past pipe_timeout): exit 0
 * delivered; 75 (EX_TEMPFAIL), a signal, a timeout or a failed exec
 * temporary; any other status permanent, with the first line of stderr
 * (else of stdout) as the reason.
 *
 * At-least-once, as pipe(8): what a command did cannot be looked up, so
 * each run that exited 0 is noted in state/<name>.pipe ("3" for
 * recipient 3, "m" for the message), and a redelivery skips what is
 * noted there: a retry after another recipient's (or a later
 * processor's) temporary failure runs no command twice. The note is
 * written after the exit, not fsync'd: a crash between the two (spoolerd
 * killed while the command runs, or the machine losing its page cache)
 * runs the command again. The command can deduplicate on QUEUE_ID (+
 * RECIPIENT). deliver.c removes the note with the entry.
 */
#include "pipe_run.h"
#include "processor.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALL ((size_t)-1) /* run_for: the whole message */

struct pipe {
	const struct cfg_strlist *cmd;
	int per_rcpt, crlf;
	const char *dflt_domain;
	struct pipe_job job; /* the ids and the timeout */
	char home[256];
};

/* a placeholder in an argument */
static const char *const names[] = {"rcpt",   "user",   "domain",
				    "extension", "sender", "queue_id"};
enum { PH_RCPT, PH_USER, PH_DOMAIN, PH_EXT, PH_SENDER, PH_QID, PH_N };

/* ph_at - the placeholder at s ("{name}"), its length in *len; -1 when s
 * holds none, -2 for an unknown {word} */
static int ph_at(const char *s, size_t *len)
{
	size_t k = 1, i;

	if (s[0] != '{')
		return -1;
	while (s[k] == '_' || (s[k] >= 'a' && s[k] <= 'z'))
		k++;
	if (s[k] != '}' || k == 1)
		return -1;
	for (i = 0; i < PH_N; i++)
		if (strlen(names[i]) == k - 1 &&
		    !strncmp(s + 1, names[i], k - 1)) {
			*len = k + 1;
			return (int)i;
		}
	return -2;
}

/* one_rcpt - does placeholder ph in argument arg name one recipient? */
static int one_rcpt(int ph, const char *arg)
{
	return ph == PH_USER || ph == PH_DOMAIN || ph == PH_EXT ||
	       (ph == PH_RCPT && strcmp(arg, "{rcpt}"));
}

/* check_cmd - the argv template: absolute argv[0] without placeholders,
 * known placeholders, per-recipient ones only per recipient */
static int check_cmd(const struct cfg_backend *b, char *err, size_t n)
{
	const struct cfg_strlist *c = &b->pipe_command;
	size_t i;

	if (c->n == 0) {
		snprintf(err, n, "backend_config.pipe_command: required: the "
			 "command as a list of arguments");
		return -1;
	}
	if (c->v[0][0] != '/') {
		snprintf(err, n, "backend_config.pipe_command[0]: \"%.200s\" "
			 "is not an absolute path", c->v[0]);
		return -1;
	}
	if (access(c->v[0], X_OK) < 0) {
		snprintf(err, n, "backend_config.pipe_command[0]: %.200s: %s",
			 c->v[0], strerror(errno));
		return -1;
	}
	for (i = 0; i < c->n; i++) {
		const char *s;
		size_t len;

		for (s = c->v[i]; *s; s++) {
			int ph = ph_at(s, &len);

			if (ph == -2) {
				snprintf(err, n, "backend_config.pipe_command"
					 "[%zu]: unknown placeholder in "
					 "\"%.100s\" (known: {rcpt} {user} "
					 "{domain} {extension} {sender} "
					 "{queue_id})", i, c->v[i]);
				return -1;
			}
			if (ph >= 0 && i == 0) {
				snprintf(err, n, "backend_config.pipe_command"
					 "[0]: no placeholder in the command");
				return -1;
			}
			if (!b->pipe_per_recipient && one_rcpt(ph, c->v[i])) {
				snprintf(err, n,
					 "backend_config.pipe_command[%zu]: "
					 "\"%.100s\" names one recipient: "
					 "needs pipe_per_recipient (per "
					 "message only a whole \"{rcpt}\" "
					 "argument, which becomes every "
					 "recipient)",
					 i, c->v[i]);
				return -1;
			}
		}
	}
	return 0;
}

/* set_user - pipe_user ("user" or "user:group") into the ids the child
 * takes; under root it is required, not under root it must be us */
static int set_user(struct pipe *pp, const char *spec, char *err, size_t n)
{
	char name[256], buf[8192];
	const char *colon;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	int ng = PIPE_MAX_GROUPS;

	if (!spec || !*spec) {
		if (geteuid() == 0) {
			snprintf(err, n, "backend_config.pipe_user: required "
				 "when spoolerd runs as root");
			return -1;
		}
		return 0;
	}
	colon = strchr(spec, ':');
	snprintf(name, sizeof(name), "%.*s",
		 (int)(colon ? (size_t)(colon - spec) : strlen(spec)), spec);
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
		snprintf(err, n,
			 "backend_config.pipe_user: no user \"%.100s\"", name);
		return -1;
	}
	pp->job.uid = pw.pw_uid;
	pp->job.gid = pw.pw_gid;
	snprintf(pp->home, sizeof(pp->home), "%s", pw.pw_dir);
	if (getgrouplist(name, pp->job.gid, pp->job.groups, &ng) < 0)
		ng = 0; /* more than MAX_GROUPS: only the primary one */
	pp->job.ngroups = ng;
	if (colon) {
		if (getgrnam_r(colon + 1, &gr, buf, sizeof(buf), &grp) != 0 ||
		    !grp) {
			snprintf(err, n, "backend_config.pipe_user: no group "
				 "\"%.100s\"", colon + 1);
			return -1;
		}
		pp->job.gid = gr.gr_gid;
		pp->job.groups[0] = gr.gr_gid;
		pp->job.ngroups = 1;
	}
	if (pp->job.uid == 0) {
		snprintf(err, n, "backend_config.pipe_user: not root");
		return -1;
	}
	if (geteuid() == 0) {
		pp->job.setid = 1;
	} else if (pp->job.uid != geteuid()) {
		snprintf(err, n, "backend_config.pipe_user: spoolerd is not "
			 "root, cannot run the command as \"%.100s\"", spec);
		return -1;
	}
	return 0;
}

static int init(const struct cfg *cfg, void **state, char *err, size_t n)
{
	const struct cfg_backend *b = &cfg->backend;
	struct pipe *pp;

	if (check_cmd(b, err, n) < 0)
		return -1;
	pp = calloc(1, sizeof(*pp));
	if (!pp) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (set_user(pp, b->pipe_user, err, n) < 0) {
		free(pp);
		return -1;
	}
	pp->cmd = &b->pipe_command;
	pp->per_rcpt = b->pipe_per_recipient;
	pp->crlf = b->pipe_crlf;
	pp->job.timeout_ms = b->pipe_timeout;
	pp->dflt_domain = b->primary_mail_host;
	*state = pp;
	return 0;
}

static void fini(void *state)
{
	free(state);
}

/* one recipient split up; parts point into buf */
struct rparts {
	char buf[600];
	const char *addr, *local, *user, *ext, *domain;
};

/* rcpt_split - lower-cased local part, user and extension at the first
 * '+', domain (primary_mail_host when the address has none) */
static void rcpt_split(const struct pipe *pp, const char *addr,
                       struct rparts *r)
{
	const char *at = strrchr(addr, '@');
	size_t ll = at ? (size_t)(at - addr) : strlen(addr), o = 0, i;
	const char *dom = at ? at + 1 : pp->dflt_domain ? pp->dflt_domain : "";
	char *plus;

	r->addr = addr;
	/* local\0user\0ext\0domain\0, each at most 255 + 1 */
	if (ll > 255)
		ll = 255;
	r->local = r->buf;
	for (i = 0; i < ll; i++)
		r->buf[o++] = (char)tolower((unsigned char)addr[i]);
	r->buf[o++] = '\0';
	r->user = r->buf + o;
	memcpy(r->buf + o, r->local, ll + 1);
	plus = strchr(r->buf + o, '+');
	o += ll + 1;
	if (plus) {
		*plus = '\0';
		r->ext = plus + 1;
	} else {
		r->ext = "";
	}
	r->domain = r->buf + o;
	for (i = 0; i < 255 && dom[i]; i++)
		r->buf[o++] = (char)tolower((unsigned char)dom[i]);
	r->buf[o] = '\0';
}

/* strv - a NULL-terminated vector of malloc'd strings being built */
struct strv {
	char **v;
	size_t n, cap;
};

static int strv_add(struct strv *sv, char *s)
{
	if (!s)
		return -1;
	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 16;
		char **v = realloc(sv->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			return -1;
		}
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

static void strv_free(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* envf - "NAME=value", malloc'd */
static char *envf(const char *name, const char *val)
{
	size_t n = strlen(name) + strlen(val) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s=%s", name, val);
	return s;
}

/* expand - one template argument with r's parts (r NULL: per message) */
static char *expand(const char *t, const struct msg *m,
                    const struct rparts *r)
{
	struct buf b = {NULL, 0, 0, 1 << 16};
	const char *s;
	char nul = '\0';

	for (s = t; *s;) {
		size_t len = 0;
		int ph = ph_at(s, &len);
		const char *v = NULL;

		switch (ph) {
		case PH_RCPT: v = r ? r->addr : ""; break;
		case PH_USER: v = r ? r->user : ""; break;
		case PH_DOMAIN: v = r ? r->domain : ""; break;
		case PH_EXT: v = r ? r->ext : ""; break;
		case PH_SENDER: v = m->env.sender; break;
		case PH_QID: v = m->env.queue_id; break;
		default: break;
		}
		if (v) {
			if (buf_add(&b, v, strlen(v)) < 0)
				goto oom;
			s += len;
		} else {
			if (buf_add(&b, s, 1) < 0)
				goto oom;
			s++;
		}
	}
	if (buf_add(&b, &nul, 1) < 0)
		goto oom;
	return b.p;
oom:
	buf_free(&b);
	return NULL;
}

/* build_argv - the command for recipient i, or (i == SIZE_MAX) for the
 * whole message */
static int build_argv(const struct pipe *pp, const struct msg *m, size_t i,
                      const struct rparts *r, struct strv *av)
{
	size_t k, j;

	for (k = 0; k < pp->cmd->n; k++) {
		if (i == ALL && !strcmp(pp->cmd->v[k], "{rcpt}")) {
			for (j = 0; j < m->env.nrcpts; j++)
				if (strv_add(av, strdup(m->env.rcpts[j])) < 0)
					return -1;
			continue;
		}
		if (strv_add(av, expand(pp->cmd->v[k], m, r)) < 0)
			return -1;
	}
	return 0;
}

/* build_env - the clean environment */
static int build_env(const struct pipe *pp, const struct msg *m, size_t i,
                     const struct rparts *r, struct strv *ev)
{
	const char *ip = m->env.client_ip ? m->env.client_ip : "";
	const char *helo = m->env.helo ? m->env.helo : "";

	if (strv_add(ev, strdup("PATH=/usr/local/bin:/usr/bin:/bin")) < 0 ||
	    strv_add(ev, envf("SENDER", m->env.sender)) < 0 ||
	    strv_add(ev, envf("QUEUE_ID", m->env.queue_id)) < 0 ||
	    strv_add(ev, envf("CLIENT_IP", ip)) < 0 ||
	    strv_add(ev, envf("HELO", helo)) < 0)
		return -1;
	if (pp->home[0] && strv_add(ev, envf("HOME", pp->home)) < 0)
		return -1;
	if (i == ALL) {
		struct buf b = {NULL, 0, 0, 1 << 20};
		size_t j;
		char nul = '\0';
		int bad = 0;

		for (j = 0; j < m->env.nrcpts && !bad; j++)
			bad = (j && buf_add(&b, " ", 1) < 0) ||
			      buf_add(&b, m->env.rcpts[j],
				      strlen(m->env.rcpts[j])) < 0;
		if (bad || buf_add(&b, &nul, 1) < 0 ||
		    strv_add(ev, envf("RECIPIENT", b.p)) < 0 ||
		    strv_add(ev, envf("RECIPIENTS", b.p)) < 0) {
			buf_free(&b);
			return -1;
		}
		buf_free(&b);
		if (!r)
			return 0;
	} else if (strv_add(ev, envf("RECIPIENT", r->addr)) < 0) {
		return -1;
	}
	if (strv_add(ev, envf("LOCAL", r->local)) < 0 ||
	    strv_add(ev, envf("USER", r->user)) < 0 ||
	    strv_add(ev, envf("EXTENSION", r->ext)) < 0 ||
	    strv_add(ev, envf("DOMAIN", r->domain)) < 0 ||
	    (r->ext[0] && strv_add(ev, envf("DEFAULT", r->ext)) < 0))
		return -1;
	return 0;
}

/* to_lf - p[0..n) with each CRLF as LF, malloc'd (a bare CR stays) */
static char *to_lf(const char *p, size_t n, size_t *len)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			o[k++] = p[i];
	o[k] = '\0';
	*len = k;
	return o;
}

/* journal_key - the note for recipient i (ALL: "m") */
static void journal_key(size_t i, char *k, size_t n)
{
	if (i == ALL)
		snprintf(k, n, "m");
	else
		snprintf(k, n, "%zu", i);
}

/* journal_read - state/<name>.pipe of an earlier attempt, malloc'd, or
 * NULL when there is none */
static char *journal_read(const struct msg *m)
{
	char jn[300], *j = NULL;
	struct stat st;
	ssize_t r;
	int fd;

	if (m->statefd < 0 || !m->redelivery)
		return NULL;
	snprintf(jn, sizeof(jn), "%s.pipe", m->name);
	fd = openat(m->statefd, jn, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size < (1 << 20))
		j = calloc(1, (size_t)st.st_size + 1);
	if (j) {
		r = pread(fd, j, (size_t)st.st_size, 0);
		if (r < 0) {
			free(j);
			j = NULL;
		}
	}
	close(fd);
	return j;
}

/* journal_has - is key a whole line of j? */
static int journal_has(const char *j, const char *key)
{
	size_t kl = strlen(key);
	const char *p = j;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '\n')
			return 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* journal_add - note a run that exited 0; a failure only costs a
 * duplicate on a redelivery */
static void journal_add(const struct msg *m, const char *key)
{
	char jn[300], line[32];
	int fd, n;

	if (m->statefd < 0)
		return;
	snprintf(jn, sizeof(jn), "%s.pipe", m->name);
	fd = openat(m->statefd, jn,
		    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s\n", key);
	(void)util_write_all(fd, line, (size_t)n);
	close(fd);
}

/* dest_all - the log line's dest= for recipient i, or every one */
static void dest_all(struct msg *m, size_t i, const char *cmd)
{
	size_t j;

	if (i != ALL) {
		msg_dest(m, i, "pipe:%s", cmd);
		return;
	}
	for (j = 0; j < m->env.nrcpts; j++)
		msg_dest(m, j, "pipe:%s", cmd);
}

/* run_for - the command for recipient i (SIZE_MAX: the message) */
static enum proc_res run_for(struct pipe *pp, struct msg *m, size_t i,
                             int raw, const char *body, size_t bodylen,
                             char *why, size_t n)
{
	struct strv av = {0}, ev = {0};
	struct rparts r;
	const struct rparts *rp = NULL;
	const char *head, *in[2];
	char *rp_head = NULL, *conv = NULL;
	size_t inlen[2];
	enum proc_res res = PROC_TEMP;

	if (i != ALL || m->env.nrcpts == 1) {
		rcpt_split(pp, m->env.rcpts[i == ALL ? 0 : i], &r);
		rp = &r;
	}
	if (i != ALL || m->env.nrcpts == 1) {
		head = msg_head(m, i == ALL ? 0 : i);
	} else {
		size_t hl = strlen(m->env.sender) + 20;

		rp_head = malloc(hl);
		if (rp_head)
			snprintf(rp_head, hl, "Return-Path: <%s>\r\n",
				 m->env.sender);
		head = rp_head;
	}
	if (!head || build_argv(pp, m, i, i == ALL ? NULL : rp, &av) <
			     0 ||
	    build_env(pp, m, i, rp, &ev) < 0)
		goto oom;
	in[0] = head;
	inlen[0] = strlen(head);
	if (!raw) {
		conv = to_lf(head, inlen[0], &inlen[0]);
		if (!conv)
			goto oom;
		in[0] = conv;
	}
	in[1] = body;
	inlen[1] = bodylen;
	res = pipe_run(&pp->job, av.v, ev.v, in, inlen, 2, why, n);
	if (res == PROC_OK) {
		char key[32];

		journal_key(i, key, sizeof(key));
		journal_add(m, key);
		dest_all(m, i, av.v[0]);
	}
	goto out;
oom:
	snprintf(why, n, "Pipe: out of memory");
out:
	free(conv);
	free(rp_head);
	strv_free(&av);
	strv_free(&ev);
	return res;
}

static enum proc_res deliver(void *state, struct msg *m, char *why, size_t n)
{
	struct pipe *pp = state;
	enum proc_res worst = PROC_OK;
	const char *data;
	char *conv = NULL, *journal = journal_read(m), key[32];
	size_t len, i;
	int raw;

	journal_key(ALL, key, sizeof(key));
	if (!pp->per_rcpt && journal_has(journal, key)) {
		/* it ran in an earlier attempt */
		dest_all(m, ALL, pp->cmd->v[0]);
		free(journal);
		return PROC_OK;
	}
	data = msg_data(m, &len);
	if (!data) {
		snprintf(why, n, "Pipe: reading the entry: %s",
			 strerror(errno));
		free(journal);
		return PROC_TEMP;
	}
	/* a BINARYMIME body is octets, not lines: never rewritten */
	raw = pp->crlf || (m->env.body && !strcmp(m->env.body, "BINARYMIME"));
	if (!raw) {
		conv = to_lf(data, len, &len);
		if (!conv) {
			snprintf(why, n, "Pipe: out of memory");
			free(journal);
			return PROC_TEMP;
		}
		data = conv;
	}
	if (!pp->per_rcpt) {
		worst = run_for(pp, m, ALL, raw, data, len, why, n);
		free(conv);
		free(journal);
		return worst;
	}
	/* every recipient is tried; the entry's outcome is the worst one */
	for (i = 0; i < m->env.nrcpts; i++) {
		char w[PROC_WHY_MAX];
		enum proc_res r;

		journal_key(i, key, sizeof(key));
		if (journal_has(journal, key)) {
			dest_all(m, i, pp->cmd->v[0]);
			continue;
		}
		r = run_for(pp, m, i, raw, data, len, w, sizeof(w));

		if (r > worst || (r != PROC_OK && worst == PROC_OK)) {
			worst = r;
			snprintf(why, n, "%s", w);
		}
	}
	free(conv);
	free(journal);
	return worst;
}

const struct proc_ops proc_pipe = {"Pipe", 1, 1, init, deliver, fini, NULL,
				   NULL};
