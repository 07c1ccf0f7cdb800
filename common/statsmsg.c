/*
 * statsmsg.c - the statistics datagram: one event per datagram, text.
 *
 *   smtpd1 <type>\t<field>\t<field>...
 *
 * Types and their fields are fixed (statsmsg.h); the collector refuses
 * any datagram whose type or field count is wrong, so a version skew
 * shows as "bad datagrams" on the dashboard, never as wrong numbers.
 * Fields carry no tab and no control byte (replaced by '?') and are cut
 * at STATSMSG_FIELD bytes, so a client's HELO cannot forge fields.
 *
 * Sending is fire and forget: a unix datagram socket, sendto with
 * MSG_DONTWAIT. When the collector is down (ENOENT, ECONNREFUSED) or
 * its queue is full (EAGAIN: the kernel keeps net.unix.max_dgram_qlen
 * datagrams per socket), the datagram is dropped and counted; a session
 * never waits and never fails because of statistics. spoolerd, which
 * has no client waiting, may wait a few milliseconds for a full queue
 * (wait 1 and SO_SNDTIMEO).
 */
#include "statsmsg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *type_names[SM_NTYPES] = {"conn", "helo", "msg",
					    "rej",  "end",  "dlv",
					    "queue"};
static const size_t type_nf[SM_NTYPES] = {4, 3, 5, 3, 5, 3, 6};

#define MAGIC "smtpd1 "

size_t statsmsg_encode(char *buf, size_t size, enum statsmsg_type type,
                       const char *const *fields, size_t nf)
{
	size_t n, i;

	if ((unsigned)type >= SM_NTYPES || nf != type_nf[type])
		return 0;
	n = strlen(MAGIC) + strlen(type_names[type]);
	if (n >= size)
		return 0;
	memcpy(buf, MAGIC, strlen(MAGIC));
	memcpy(buf + strlen(MAGIC), type_names[type],
	       strlen(type_names[type]));
	for (i = 0; i < nf; i++) {
		const char *f = fields[i] ? fields[i] : "";
		size_t k;

		if (n + 1 >= size)
			return 0;
		buf[n++] = '\t';
		for (k = 0; k < STATSMSG_FIELD && f[k]; k++) {
			unsigned char c = (unsigned char)f[k];

			if (n + 1 >= size)
				return 0;
			buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
	}
	buf[n] = '\0';
	return n;
}

int statsmsg_decode(const char *p, size_t len, struct statsmsg *m)
{
	const char *end = p + len, *q;
	size_t i, tl;
	int t = -1;

	if (len > STATSMSG_MAX || len < strlen(MAGIC) ||
	    memcmp(p, MAGIC, strlen(MAGIC)) != 0 || memchr(p, '\0', len))
		return -1;
	p += strlen(MAGIC);
	q = memchr(p, '\t', (size_t)(end - p));
	tl = q ? (size_t)(q - p) : (size_t)(end - p);
	for (i = 0; i < SM_NTYPES; i++)
		if (strlen(type_names[i]) == tl &&
		    !memcmp(type_names[i], p, tl))
			t = (int)i;
	if (t < 0)
		return -1;
	m->type = (enum statsmsg_type)t;
	m->nf = 0;
	p += tl;
	while (p < end) {
		size_t fl;

		p++; /* the tab */
		q = memchr(p, '\t', (size_t)(end - p));
		fl = q ? (size_t)(q - p) : (size_t)(end - p);
		if (m->nf == STATSMSG_NF || fl > STATSMSG_FIELD)
			return -1;
		memcpy(m->f[m->nf], p, fl);
		m->f[m->nf++][fl] = '\0';
		p += fl;
	}
	return m->nf == type_nf[t] ? 0 : -1;
}

int statsmsg_open(const char *path)
{
	if (!path || !path[0])
		return -1;
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void statsmsg_send(int fd, const char *path, enum statsmsg_type type,
                   const char *const *fields, size_t nf, int wait,
                   unsigned long *dropped)
{
	struct sockaddr_un sa;
	char buf[STATSMSG_MAX];
	size_t n;
	int saved = errno;

	if (fd < 0 || !path || strlen(path) >= sizeof(sa.sun_path))
		goto drop;
	n = statsmsg_encode(buf, sizeof(buf), type, fields, nf);
	if (!n)
		goto drop;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sendto(fd, buf, n, (wait ? 0 : MSG_DONTWAIT) | MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n) {
		errno = saved;
		return;
	}
drop:
	if (dropped)
		(*dropped)++;
	errno = saved;
}
