/* xclient.h - Postfix's XCLIENT command: a trusted proxy (nginx's mail
 * proxy) tells us who its client is */
#ifndef XCLIENT_H
#define XCLIENT_H

#include "reply.h"
#include "session.h"

#include <stddef.h>

/* the EHLO keyword line's attributes, in the order Postfix lists them */
#define XCLIENT_ATTRS "NAME ADDR PORT PROTO HELO LOGIN"

/* xclient_apply - the arguments of one XCLIENT command (after the
 * verb): checked whole first, then applied to s. R_OKAY: s's client,
 * name, port, HELO and protocol are the new ones and s->proxy names
 * the peer that sent it; the caller restarts the session at the
 * greeting. Else the reply to give, and s is unchanged (R_FULL: the new
 * client's max_clients_per_ip is reached, close). Pure apart from
 * s->claim_ip. */
enum reply_id xclient_apply(struct session *s, const char *arg,
                            size_t alen);

/* xclient_xtext - RFC 3461 xtext in[0..n) decoded into out (size bytes,
 * NUL-terminated); the result must be printable ASCII without spaces.
 * 0 or -1 */
int xclient_xtext(const char *in, size_t n, char *out, size_t size);

#endif
