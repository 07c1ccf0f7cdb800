/*
 * msg.c - the delivery headers and the byte copying shared by the
 * processors that store a message.
 *
 * A delivered copy is: Return-Path and Delivered-To (made here), our
 * Received header as the session wrote it into the entry, then the
 * client's message byte-exact. The X-Spool-* envelope above the Received
 * header is ours and is never copied into a mailbox.
 *
 * Also the processors' per-message states (msg_state, freed with the
 * message by each one's mstate_free) and the products one processor
 * leaves for later ones (msg_provide, msg_product and the accessors).
 * With Compressor, the data is compressed once per message and each
 * recipient's payload is a zlib stream built around it: header, the
 * delivery headers as a stored block, the shared deflate blocks, an
 * empty final block, and the Adler-32 of the whole (adler32_combine).
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

void *msg_state(struct msg *m, const struct proc_ops *p)
{
	void *st;
	size_t i;

	for (i = 0; i < m->nslot; i++)
		if (m->slot[i].p == p)
			return m->slot[i].st;
	if (!p->mstate_new || m->nslot == MSG_SLOTS)
		return NULL;
	st = p->mstate_new(m);
	if (!st)
		return NULL;
	m->slot[m->nslot].p = p;
	m->slot[m->nslot++].st = st;
	return st;
}

/* prov_index - the bit's number, or PROV_N when it is none */
static unsigned prov_index(unsigned what)
{
	unsigned i;

	for (i = 0; i < PROV_N; i++)
		if (what == 1u << i)
			return i;
	return PROV_N;
}

void msg_provide(struct msg *m, unsigned what, void *product)
{
	unsigned i = prov_index(what);

	if (i < PROV_N)
		m->prod[i] = product;
	if (what == PROV_COMPRESSED) {
		const struct msg_zbody *zb = product;

		m->compress = zb ? (zb->level < 0 ? 6 : zb->level) + 1 : 0;
	}
}

void *msg_product(const struct msg *m, unsigned what)
{
	unsigned i = prov_index(what);

	return i < PROV_N ? m->prod[i] : NULL;
}

const char *prov_name(unsigned what)
{
	static const char *const names[PROV_N] = {
		"parsed headers", "delivery headers", "a hash",
		"a compressed payload", "the copies in Redis",
	};
	unsigned i = prov_index(what);

	return i < PROV_N ? names[i] : "something unknown";
}

const struct msg_headers *msg_headers(const struct msg *m)
{
	static const struct msg_headers none;
	const struct msg_headers *h = msg_product(m, PROV_HEADERS);

	return h ? h : &none;
}

const char *msg_hash(const struct msg *m, size_t i)
{
	char(*h)[33] = msg_product(m, PROV_HASH);

	return h && i < m->env.nrcpts ? h[i] : "";
}

int msg_compressed(const struct msg *m)
{
	return msg_product(m, PROV_COMPRESSED) != NULL;
}

void msg_free_parts(struct msg *m)
{
	size_t i;

	/* last made, first freed: a state may use an earlier product */
	while (m->nslot > 0) {
		m->nslot--;
		if (m->slot[m->nslot].p->mstate_free)
			m->slot[m->nslot].p->mstate_free(m->slot[m->nslot].st);
		m->slot[m->nslot].p = NULL;
		m->slot[m->nslot].st = NULL;
	}
	memset(m->prod, 0, sizeof(m->prod));
	m->compress = 0;
	if (m->rcpt)
		for (i = 0; i < m->env.nrcpts; i++)
			free(m->rcpt[i].head);
	free(m->rcpt);
	m->rcpt = NULL;
	free(m->data);
	m->data = NULL;
	m->data_len = 0;
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

/* zbody_build - the data as raw deflate at zb->level, flushed to a byte
 * boundary (Z_SYNC_FLUSH) so that other blocks can follow it; once */
static int zbody_build(struct msg_zbody *zb, const char *d, size_t dl)
{
	z_stream z;
	uLong cap;
	int r;

	if (zb->built)
		return 0;
	if (dl > (size_t)UINT32_MAX / 2) {
		errno = EFBIG;
		return -1;
	}
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, zb->level, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		errno = ENOMEM;
		return -1;
	}
	/* deflateBound is for Z_FINISH; a sync flush adds an empty stored
	 * block (5 bytes) */
	cap = deflateBound(&z, (uLong)dl) + 64;
	free(zb->z);
	zb->z = malloc(cap);
	if (!zb->z) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)d;
	z.avail_in = (uInt)dl;
	z.next_out = zb->z;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_SYNC_FLUSH);
	zb->zlen = z.total_out;
	deflateEnd(&z);
	if (r != Z_OK || z.avail_in != 0 || z.avail_out == 0) {
		free(zb->z);
		zb->z = NULL;
		errno = ENOMEM;
		return -1;
	}
	zb->adler = adler32(adler32(0L, Z_NULL, 0), (const Bytef *)d,
			    (uInt)dl);
	zb->built = 1;
	return 0;
}

/* zwrap - one zlib stream (RFC 1950) of head then the data in zb: the
 * header for zb->level, head as stored blocks, zb's deflate blocks, an
 * empty final block, the Adler-32 of head and data together */
static char *zwrap(const struct msg_zbody *zb, const char *head, size_t hl,
                   size_t dl, size_t *len)
{
	size_t nblk = (hl + 65534) / 65535, o = 0, k;
	size_t cap = 2 + nblk * 5 + hl + zb->zlen + 2 + 4;
	int lv = zb->level < 0 ? 6 : zb->level;
	unsigned cmf = 0x78, flg;
	unsigned long ad;
	unsigned char *out;

	out = malloc(cap);
	if (!out)
		return NULL;
	/* FLEVEL as zlib sets it, then FCHECK: (CMF*256 + FLG) % 31 == 0 */
	flg = (unsigned)(lv < 2 ? 0 : lv < 6 ? 1 : lv == 6 ? 2 : 3) << 6;
	flg += 31 - (cmf * 256 + flg) % 31;
	out[o++] = (unsigned char)cmf;
	out[o++] = (unsigned char)flg;
	for (k = 0; k < hl; k += 65535) {
		size_t bl = hl - k > 65535 ? 65535 : hl - k;

		out[o++] = 0x00; /* not final, stored */
		out[o++] = (unsigned char)(bl & 0xff);
		out[o++] = (unsigned char)(bl >> 8);
		out[o++] = (unsigned char)(~bl & 0xff);
		out[o++] = (unsigned char)((~bl >> 8) & 0xff);
		memcpy(out + o, head + k, bl);
		o += bl;
	}
	memcpy(out + o, zb->z, zb->zlen);
	o += zb->zlen;
	/* final block, fixed Huffman, end-of-block code alone */
	out[o++] = 0x03;
	out[o++] = 0x00;
	ad = adler32_combine(adler32(adler32(0L, Z_NULL, 0),
				     (const Bytef *)head, (uInt)hl),
			     zb->adler, (z_off_t)dl);
	out[o++] = (unsigned char)(ad >> 24);
	out[o++] = (unsigned char)(ad >> 16);
	out[o++] = (unsigned char)(ad >> 8);
	out[o++] = (unsigned char)ad;
	*len = o;
	return (char *)out;
}

char *msg_with_head(struct msg *m, const char *head, size_t *len)
{
	size_t hl = strlen(head), dl;
	const char *d = msg_data(m, &dl);
	char *out;

	if (!d)
		return NULL;
	out = malloc(hl + dl + 1);
	if (!out)
		return NULL;
	memcpy(out, head, hl);
	memcpy(out + hl, d, dl);
	out[hl + dl] = '\0';
	*len = hl + dl;
	return out;
}

char *msg_payload(struct msg *m, size_t i, size_t *len)
{
	struct msg_zbody *zb = msg_product(m, PROV_COMPRESSED);
	const char *head = msg_head(m, i), *d;
	size_t dl;

	if (!head)
		return NULL;
	if (!zb)
		return msg_with_head(m, head, len);
	d = msg_data(m, &dl);
	if (!d || zbody_build(zb, d, dl) < 0)
		return NULL;
	return zwrap(zb, head, strlen(head), dl, len);
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
