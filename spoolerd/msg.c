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
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

void msg_dest(struct msg *m, size_t i, const char *fmt, ...)
{
	char *d;
	size_t used;
	va_list ap;

	if (!m->rcpt || i >= m->env.nrcpts)
		return;
	d = m->rcpt[i].dest;
	used = strlen(d);
	if (used && used + 1 < sizeof(m->rcpt[i].dest))
		d[used++] = ',';
	va_start(ap, fmt);
	vsnprintf(d + used, sizeof(m->rcpt[i].dest) - used, fmt, ap);
	va_end(ap);
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
	free(m->hdr.reply_to);
	free(m->hdr.sender);
	free(m->hdr.content_type);
	free(m->hdr.charset);
	memset(&m->hdr, 0, sizeof(m->hdr));
	free(m->journal);
	m->journal = NULL;
	free(m->data);
	m->data = NULL;
	m->data_len = 0;
	if (m->jfd >= 0)
		close(m->jfd);
	m->jfd = -1;
}

const char *msg_data(struct msg *m, size_t *len)
{
	off_t off = (off_t)m->env.received_off, want;
	size_t got = 0;

	if (m->data) {
		*len = m->data_len;
		return m->data;
	}
	want = m->file_size - off;
	if (want < 0) {
		errno = EIO;
		return NULL;
	}
	m->data = malloc((size_t)want + 1);
	if (!m->data)
		return NULL;
	while (got < (size_t)want) {
		ssize_t r = pread(m->fd, m->data + got, (size_t)want - got,
				  off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* the entry shrank */
			free(m->data);
			m->data = NULL;
			return NULL;
		}
		got += (size_t)r;
	}
	m->data[got] = '\0';
	m->data_len = got;
	*len = got;
	return m->data;
}

/* deflate_all - zlib stream (RFC 1950, go-guerrilla's compress/zlib) of
 * a then b into a buffer of compressBound size */
static char *deflate_all(int level, const char *a, size_t al, const char *b,
                         size_t bl, size_t *len)
{
	z_stream z;
	uLong cap = compressBound((uLong)(al + bl)) + 64;
	char *out;
	int r;

	if (al + bl < al || cap > (uLong)UINT32_MAX) {
		errno = EFBIG;
		return NULL;
	}
	out = malloc(cap);
	if (!out)
		return NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit(&z, level) != Z_OK) {
		free(out);
		errno = ENOMEM;
		return NULL;
	}
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	z.next_in = (Bytef *)(uintptr_t)a;
	z.avail_in = (uInt)al;
	r = deflate(&z, Z_NO_FLUSH);
	if (r == Z_OK) {
		z.next_in = (Bytef *)(uintptr_t)b;
		z.avail_in = (uInt)bl;
		r = deflate(&z, Z_FINISH);
	}
	*len = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		errno = ENOMEM;
		return NULL;
	}
	return out;
}

char *msg_payload(struct msg *m, size_t i, size_t *len)
{
	const char *head = msg_head(m, i), *d;
	size_t hl, dl;
	char *out;

	if (!head)
		return NULL;
	d = msg_data(m, &dl);
	if (!d)
		return NULL;
	hl = strlen(head);
	if (m->compress > 0)
		return deflate_all(m->compress - 1, head, hl, d, dl, len);
	out = malloc(hl + dl + 1);
	if (!out)
		return NULL;
	memcpy(out, head, hl);
	memcpy(out + hl, d, dl);
	out[hl + dl] = '\0';
	*len = hl + dl;
	return out;
}

static int pread_copy(int src, off_t off, off_t len, int dst, int *cr);

int io_copy_range(int src, off_t off, off_t len, int dst)
{
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
	return pread_copy(src, off, len, dst, NULL);
}

/* lf_fold - drop each CR that comes right before an LF in buf[0..n),
 * in place; *cr says a CR ended the previous piece (held back until we
 * know what follows it). Returns the new length. */
static size_t lf_fold(char *buf, size_t n, int *cr, char *lead)
{
	size_t i, o = 0;

	*lead = 0;
	if (*cr && n > 0 && buf[0] != '\n')
		*lead = '\r'; /* the held CR was a bare one: keep it */
	*cr = 0;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == n) {
				*cr = 1;
				break;
			}
			if (buf[i + 1] == '\n')
				continue;
		}
		buf[o++] = buf[i];
	}
	return o;
}

/* write_folded - one piece through lf_fold */
static int write_folded(int fd, char *buf, size_t n, int *cr)
{
	char lead;

	n = lf_fold(buf, n, cr, &lead);
	if (lead && util_write_all(fd, &lead, 1) < 0)
		return -1;
	return util_write_all(fd, buf, n);
}

/* pread_copy - src[off..off+len) to dst through a buffer; with cr, each
 * CRLF as LF (*cr: a CR is held back at the end) */
static int pread_copy(int src, off_t off, off_t len, int dst, int *cr)
{
	char buf[65536];

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
		if (cr ? write_folded(dst, buf, (size_t)r, cr) < 0
		       : util_write_all(dst, buf, (size_t)r) < 0)
			return -1;
		off += r;
		len -= r;
	}
	return 0;
}

int util_write_lf(int fd, const char *p, size_t n)
{
	char buf[4096];
	int cr = 0;

	while (n > 0) {
		size_t k = n > sizeof(buf) ? sizeof(buf) : n;

		memcpy(buf, p, k);
		if (write_folded(fd, buf, k, &cr) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return cr ? util_write_all(fd, "\r", 1) : 0;
}

int io_copy_lf(int src, off_t off, off_t len, int dst)
{
	int cr = 0;

	if (pread_copy(src, off, len, dst, &cr) < 0)
		return -1;
	return cr ? util_write_all(dst, "\r", 1) : 0;
}
