/*
 * path.c - turn a recipient into a mailbox path that stays inside the
 * configured base.
 *
 * The template (maildir_path, mbox_path) is the operator's and trusted;
 * the {user} and {domain} values come from the client and are not. Each
 * value becomes exactly one path component: no '/', no NUL, never "." or
 * "..", no leading dot, at most 255 bytes; bytes outside a small safe set
 * are written as %XX, so two different addresses never share a mailbox by
 * accident of sanitizing ("a/b" is "a%2fb", "a%2fb" is "a%252fb").
 *
 * Opening: below the template's fixed part, path_walk never follows a
 * symlink, so nobody who can make a directory or a link in a mail tree
 * (a local user owning their mailbox directory) can point deliveries for
 * an address somewhere else.
 */
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int safe_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '+' || c == '=' || c == '-';
}

int path_component(const char *s, size_t len, char *out, size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (len == 0 || outsize == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (safe_byte(c) && !(i == 0 && c == '.')) {
			if (o + 1 >= outsize || o + 1 > PATH_COMPONENT_MAX)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsize || o + 3 > PATH_COMPONENT_MAX)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int path_check_template(const char *tmpl, const char **why)
{
	const char *p = tmpl;

	if (!tmpl || !*tmpl) {
		*why = "empty path template";
		return -1;
	}
	for (p = strchr(p, '{'); p; p = strchr(p + 1, '{'))
		if (strncmp(p, "{user}", 6) && strncmp(p, "{domain}", 8)) {
			*why = "only {user} and {domain} may appear in braces";
			return -1;
		}
	return 0;
}

int path_expand(const char *tmpl, const char *addr, const char *dflt_domain,
                char *out, size_t outsize, const char **why)
{
	char user[PATH_COMPONENT_MAX + 1], domain[PATH_COMPONENT_MAX + 1];
	const char *at = strrchr(addr, '@');
	const char *d = at ? at + 1 : dflt_domain;
	size_t ulen = at ? (size_t)(at - addr) : strlen(addr), o = 0;
	const char *p;

	if (path_component(addr, ulen, user, sizeof(user)) < 0) {
		*why = "local part empty or too long for a file name";
		return -1;
	}
	if (!d || path_component(d, strlen(d), domain, sizeof(domain)) < 0) {
		*why = "domain empty or too long for a file name";
		return -1;
	}
	for (p = tmpl; *p;) {
		const char *v = NULL;
		size_t vl, skip = 1;

		if (!strncmp(p, "{user}", 6)) {
			v = user;
			skip = 6;
		} else if (!strncmp(p, "{domain}", 8)) {
			v = domain;
			skip = 8;
		}
		vl = v ? strlen(v) : 1;
		if (o + vl + 1 > outsize) {
			*why = "mailbox path too long";
			return -1;
		}
		memcpy(out + o, v ? v : p, vl);
		o += vl;
		p += skip;
	}
	out[o] = '\0';
	return 0;
}

int path_mkdirs(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		if (tmp[i - 1] == '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		if (i < len)
			tmp[i] = '/';
	}
	return 0;
}

size_t path_fixed_len(const char *tmpl)
{
	const char *brace = strchr(tmpl, '{');
	size_t n = brace ? (size_t)(brace - tmpl) : strlen(tmpl);

	while (n > 0 && tmpl[n - 1] != '/')
		n--;
	return n;
}

/* step - one component below d, made first if missing */
static int step(int d, const char *comp, int mkdirs)
{
	int fd = openat(d, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && mkdirs) {
		if (mkdirat(d, comp, 0700) < 0 && errno != EEXIST)
			return -1;
		fd = openat(d, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

int path_walk(const char *path, size_t fixed, int mkdirs)
{
	char buf[4096];
	size_t len = strlen(path);
	char *p, *comp;
	int d;

	if (len == 0 || len >= sizeof(buf) || fixed > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	if (fixed == 0) {
		d = open(buf[0] == '/' ? "/" : ".",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		char c = buf[fixed];

		buf[fixed] = '\0';
		d = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0 && errno == ENOENT && mkdirs &&
		    path_mkdirs(buf) == 0)
			d = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		buf[fixed] = c;
	}
	for (p = buf + fixed; d >= 0 && *p;) {
		int nd, e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		while (*p && *p != '/')
			p++;
		if (*p)
			*p++ = '\0';
		if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
			close(d);
			errno = EINVAL;
			return -1;
		}
		nd = step(d, comp, mkdirs);
		e = errno;
		close(d);
		errno = e;
		d = nd;
	}
	return d;
}
