/*
 * msg.c - the delivery headers and the byte copying shared by the
 * processors that store a message.
 *
 * A delivered copy is: Return-Path and Delivered-To (made here), our
 * Received header as the session wrote it into the entry, then the
 * client's message byte-exact. The X-Spool-* envelope above the Received
 * header is ours and is never copied into a mailbox.
 */
#include "processor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *msg_make_head(const struct msg *m, size_t i)
{
	const char *r = m->env.rcpts[i];
	const char *host = m->cfg ? m->cfg->backend.primary_mail_host : NULL;
	size_t n = strlen(m->env.sender) + strlen(r) + 64 +
		   (host ? strlen(host) : 0);
	char *h = malloc(n);

	if (!h)
		return NULL;
	/* a recipient without a domain (RFC 5321 "postmaster") receives
	 * primary_mail_host, as go-guerrilla's Header does */
	if (!strchr(r, '@') && host && *host)
		snprintf(h, n, "Return-Path: <%s>\r\nDelivered-To: %s@%s\r\n",
			 m->env.sender, r, host);
	else
		snprintf(h, n, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
			 m->env.sender, r);
	return h;
}

const char *msg_head(struct msg *m, size_t i)
{
	if (!m->rcpt[i].head)
		m->rcpt[i].head = msg_make_head(m, i);
	return m->rcpt[i].head;
}

void msg_free_parts(struct msg *m)
{
	size_t i;

	if (m->rcpt)
		for (i = 0; i < m->env.nrcpts; i++)
			free(m->rcpt[i].head);
	free(m->rcpt);
	m->rcpt = NULL;
	free(m->hdr.subject);
	free(m->hdr.from);
	free(m->hdr.to);
	free(m->hdr.message_id);
	free(m->hdr.content_type);
	free(m->hdr.charset);
	memset(&m->hdr, 0, sizeof(m->hdr));
	free(m->journal);
	m->journal = NULL;
	if (m->jfd >= 0)
		close(m->jfd);
	m->jfd = -1;
}

int io_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = write(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

int io_copy_range(int src, off_t off, off_t len, int dst)
{
	char buf[65536];

	/* copy_file_range first: no user-space copy, reflink where the
	 * filesystem can */
	while (len > 0) {
		ssize_t r = copy_file_range(src, &off, dst, NULL, (size_t)len,
					    0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len -= r;
	}
	while (len > 0) {
		size_t want = len > (off_t)sizeof(buf) ? sizeof(buf)
						       : (size_t)len;
		ssize_t r = pread(src, buf, want, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO; /* the entry shrank: not ours to fix */
			return -1;
		}
		if (io_write_all(dst, buf, (size_t)r) < 0)
			return -1;
		off += r;
		len -= r;
	}
	return 0;
}
