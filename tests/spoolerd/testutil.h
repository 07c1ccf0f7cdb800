/* testutil.h - shared by the spoolerd unit tests: cmocka, a temp dir,
 * and a spool entry on disk wrapped in a struct msg */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfg.h"
#include "entry.h"
#include "processor.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void quiet_diag(void *a, int e, const char *m)
{
	(void)a;
	(void)e;
	(void)m;
}

/* tu_tmpdir - a fresh directory under /tmp */
static inline char *tu_tmpdir(void)
{
	char *d = strdup("/tmp/spoolerd-unit-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static inline int tu_rm_one(const char *p, const struct stat *st, int fl,
                            struct FTW *ftw)
{
	(void)st;
	(void)fl;
	(void)ftw;
	return remove(p);
}

static inline void tu_rm_rf(const char *d)
{
	assert_int_equal(nftw(d, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* tu_cfg - a config from JSON text, asserting it loads */
static inline struct cfg *tu_cfg(const char *json)
{
	struct cfg *c = cfg_load_buf(json, quiet_diag, NULL);

	assert_non_null(c);
	return c;
}

/* tu_entry - write a spool entry for rcpts and message body to path and
 * fill m with it opened (as deliver.c does) */
static inline void tu_entry(const char *path, const char *qid,
                            const char *sender, const char **rcpts,
                            size_t n, const char *body, struct msg *m,
                            const struct cfg *cfg)
{
	struct buf b = {NULL, 0, 0, 1 << 20};
	struct envelope e;
	const char *err;
	struct stat st;
	char *rs[16];
	size_t i;
	int fd;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < n; i++)
		rs[i] = (char *)rcpts[i];
	e.queue_id = (char *)qid;
	e.time = 1764078600;
	e.host = "mx.test";
	e.sender = (char *)sender;
	e.rcpts = rs;
	e.nrcpts = n;
	e.client_ip = "192.0.2.1";
	e.client_port = 4242;
	e.helo = "client.test";
	e.protocol = "ESMTP";
	e.tls = "none";
	e.body = "8BITMIME";
	e.size = (long long)strlen(body);
	assert_int_equal(entry_format(&b, &e), 0);
	assert_int_equal(buf_add(&b, body, strlen(body)), 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
	buf_free(&b);
	memset(m, 0, sizeof(*m));
	m->statefd = -1;
	m->fd = fd;
	m->cfg = cfg;
	m->name = qid;
	assert_int_equal(entry_read_fd(fd, &m->env, &err), 0);
	assert_int_equal(fstat(fd, &st), 0);
	m->file_size = st.st_size;
	m->rcpt = calloc(n, sizeof(*m->rcpt));
	assert_non_null(m->rcpt);
	for (i = 0; i < n; i++)
		m->rcpt[i].addr = m->env.rcpts[i];
}

/* tu_init_case - a processor's init given backend_config json: with
 * err NULL it must succeed (fini then runs), else fail with an error
 * that contains err */
struct tu_init_case {
	const char *json, *err;
};

static inline void tu_init_cases(const struct proc_ops *ops,
				 const struct tu_init_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char json[512], err[300] = "";
		void *st = NULL;
		struct cfg *c;
		int r;

		snprintf(json, sizeof(json), "{\"backend_config\":%s}",
			 cases[i].json);
		c = tu_cfg(json);
		r = ops->init(c, &st, err, sizeof(err));
		if (!cases[i].err) {
			if (r != 0)
				fail_msg("%s: %s", cases[i].json, err);
			ops->fini(st);
		} else if (r == 0 || !strstr(err, cases[i].err)) {
			fail_msg("%s: %d \"%s\", want \"%s\"", cases[i].json,
				 r, err, cases[i].err);
		}
		cfg_free(c);
	}
}

static inline void tu_msg_free(struct msg *m)
{
	msg_free_parts(m);
	entry_free(&m->env);
	close(m->fd);
}

/* tu_read - whole file, malloc'd, NUL-terminated; NULL if missing */
static inline char *tu_read(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	p[st.st_size] = '\0';
	if (len)
		*len = (size_t)st.st_size;
	close(fd);
	return p;
}

#endif
