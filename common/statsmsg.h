/* statsmsg.h - the statistics datagrams sessions and spoolerd send to
 * smtpd-dashboard: encoding, decoding, and a send that never blocks */
#ifndef STATSMSG_H
#define STATSMSG_H

#include <stddef.h>

#define STATSMSG_MAX 512   /* one datagram, at most */
#define STATSMSG_FIELD 128 /* one field, at most (cut, never refused) */
#define STATSMSG_NF 6      /* fields after the type, at most */

enum statsmsg_type {
	SM_CONN, /* server ip result rdns */
	SM_HELO, /* server ip name */
	SM_MSG,  /* server ip size nrcpt tls */
	SM_REJ,  /* server ip code */
	SM_END,  /* server ip tls result seconds */
	SM_DLV,  /* processor result seconds */
	SM_QUEUE, /* new cur defer failed tmp oldest: spoolerd's own counts
		   * (the collector may not read cur/, defer/, failed/) */
	SM_NTYPES
};

struct statsmsg {
	enum statsmsg_type type;
	size_t nf;
	char f[STATSMSG_NF][STATSMSG_FIELD + 1];
};

/* statsmsg_encode - "smtpd1 TYPE\tF1\tF2..." into buf (fields cut at
 * STATSMSG_FIELD, tabs and control bytes replaced by '?'); returns the
 * length, or 0 when it does not fit */
size_t statsmsg_encode(char *buf, size_t size, enum statsmsg_type type,
                       const char *const *fields, size_t nf);

/* statsmsg_decode - one datagram into m; 0, or -1 for anything that is
 * not a well-formed datagram of a known type and field count */
int statsmsg_decode(const char *p, size_t len, struct statsmsg *m);

/* statsmsg_open - a non-blocking unix datagram socket for path (""
 * or NULL: off); the fd, or -1 */
int statsmsg_open(const char *path);

/* statsmsg_send - one datagram to the collector; a datagram the
 * collector cannot take is dropped and counted in *dropped. With wait 0
 * (sessions) MSG_DONTWAIT: it never blocks. With wait 1 (spoolerd) a
 * full collector queue is waited for up to the socket's SO_SNDTIMEO; a
 * collector that is down still fails at once. Never fails the caller. */
void statsmsg_send(int fd, const char *path, enum statsmsg_type type,
                   const char *const *fields, size_t nf, int wait,
                   unsigned long *dropped);

#endif
