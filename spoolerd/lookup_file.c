/*
 * lookup_file.c - the file: source of rcpt_check. The file lists one
 * recipient a line: "local@domain", or "@domain" for every local part of
 * a domain; '#' starts a comment, blank lines are skipped, spaces around
 * an entry ignored. Keys are folded like Postfix's table keys: ASCII
 * letters in lower case, in the local part too; other bytes (UTF-8 local
 * parts, SMTPUTF8) compared as they are. Domains are written as in
 * allowed_hosts, in A-label form ("xn--...").
 *
 * The whole file is read into a hash set (open addressing, FNV-1a), so a
 * lookup is one or two probes whatever its size. The file is stat'ed at
 * each lookup and read again when its device, inode, size or mtime
 * changed (an editor's rename, or a write in place); one that cannot be
 * read makes lookups fail (451 or accept, per rcpt_check_on_error), it is
 * never taken for an empty list. Used from the lookup thread only.
 */
#include "lookup.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LKFILE_MAX (256u << 20) /* bytes read of a file at most */

/* hash - FNV-1a of s */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* insert - s (in the arena) into t, once */
static void insert(struct lktab *t, char *s)
{
	size_t i = (size_t)hash(s) & (t->cap - 1);

	while (t->slot[i]) {
		if (!strcmp(t->slot[i], s))
			return;
		i = (i + 1) & (t->cap - 1);
	}
	t->slot[i] = s;
	t->n++;
}

/* entry_ok - local@domain or @domain, no spaces, at most 256 bytes */
static int entry_ok(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t i;

	if (!at || n > LOOKUP_ADDR_MAX || at == s + n - 1)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int lktab_load(struct lktab *t, const char *buf, size_t len, size_t *bad,
               size_t *first_bad)
{
	size_t lines = 0, i, pos = 0, ln = 0;
	char *a;

	memset(t, 0, sizeof(*t));
	*bad = 0;
	*first_bad = 0;
	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			lines++;
	lines++;
	t->cap = 16;
	while (t->cap < 2 * lines)
		t->cap <<= 1;
	t->slot = calloc(t->cap, sizeof(*t->slot));
	t->arena = malloc(len + 1);
	if (!t->slot || !t->arena) {
		lktab_free(t);
		return -1;
	}
	a = t->arena;
	while (pos < len) {
		const char *l = buf + pos, *e = memchr(l, '\n', len - pos);
		size_t n = e ? (size_t)(e - l) : len - pos;
		const char *h;

		pos += n + (e ? 1 : 0);
		ln++;
		h = memchr(l, '#', n);
		if (h)
			n = (size_t)(h - l);
		while (n && (l[0] == ' ' || l[0] == '\t')) {
			l++;
			n--;
		}
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' ||
			     l[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		if (!entry_ok(l, n)) {
			if (!(*bad)++)
				*first_bad = ln;
			continue;
		}
		memcpy(a, l, n);
		a[n] = '\0';
		lookup_fold(a);
		insert(t, a);
		a += n + 1;
	}
	return 0;
}

int lktab_has(const struct lktab *t, const char *key)
{
	size_t i;

	if (!t->cap)
		return 0;
	i = (size_t)hash(key) & (t->cap - 1);
	while (t->slot[i]) {
		if (!strcmp(t->slot[i], key))
			return 1;
		i = (i + 1) & (t->cap - 1);
	}
	return 0;
}

int lktab_match(const struct lktab *t, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return lktab_has(t, addr) || (at && at != addr && lktab_has(t, at));
}

void lktab_free(struct lktab *t)
{
	free(t->slot);
	free(t->arena);
	memset(t, 0, sizeof(*t));
}

/* reload - read f->path into a new table; 0, or -1 with why */
static int reload(struct lkfile *f, const struct stat *st, char *why,
                  size_t n)
{
	struct lktab nt;
	size_t bad, first, got = 0;
	char *buf;
	int fd;

	if ((size_t)st->st_size > LKFILE_MAX) {
		snprintf(why, n, "%s: larger than 256 MiB", f->path);
		return -1;
	}
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, n, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	buf = malloc((size_t)st->st_size + 1);
	while (buf && got < (size_t)st->st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st->st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || lktab_load(&nt, buf, got, &bad, &first) < 0) {
		free(buf);
		snprintf(why, n, "%s: out of memory", f->path);
		return -1;
	}
	free(buf);
	if (bad)
		log_warnx("rcpt_check %s: %zu lines are neither an address "
			  "nor @domain (first: line %zu), skipped",
			  f->path, bad, first);
	log_info("rcpt_check %s: %zu entries loaded", f->path, nt.n);
	lktab_free(&f->t);
	f->t = nt;
	f->loaded = 1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	return 0;
}

enum lookup_status lkfile_lookup(struct lkfile *f, const char *addr,
                                 char *why, size_t n)
{
	struct stat st;

	if (stat(f->path, &st) < 0) {
		snprintf(why, n, "%s: %s", f->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, n, "%s: not a regular file", f->path);
		goto fail;
	}
	if (!f->loaded || st.st_dev != f->dev || st.st_ino != f->ino ||
	    st.st_size != f->size || st.st_mtim.tv_sec != f->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != f->mtime.tv_nsec) {
		if (reload(f, &st, why, n) < 0)
			goto fail;
	}
	f->failed_logged = 0;
	return lktab_match(&f->t, addr) ? LK_FOUND : LK_NOTFOUND;
fail:
	if (!f->failed_logged)
		log_warnx("rcpt_check file: %s", why);
	f->failed_logged = 1;
	f->loaded = 0; /* read again once it is back */
	return LK_TEMP;
}

void lkfile_free(struct lkfile *f)
{
	if (!f)
		return;
	lktab_free(&f->t);
	free(f->path);
	free(f);
}
