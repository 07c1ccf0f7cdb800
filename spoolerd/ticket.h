/* ticket.h - the TLS session-ticket key file inetd-mode sessions share */
#ifndef TICKET_H
#define TICKET_H

#include "cfg.h"

#include <time.h>

#define TICKET_KEY_SIZE 64 /* gnutls_session_ticket_key_generate's size */

/* ticket_wanted - does an enabled servers[] entry use TLS with
 * session_tickets? (else spoolerd writes no key file) */
int ticket_wanted(const struct cfg *c);

/* ticket_key_tick - create the key file when it is missing, not
 * TICKET_KEY_SIZE bytes, or older than tls_ticket_rotate (its mtime):
 * random bytes into a temporary file (0640, fsync'ed), renamed in, the
 * directory fsync'ed, so a session reads the old key or the new one,
 * never a mix. now is the wall clock. 1 written, 0 nothing to do, -1
 * failed (logged). */
int ticket_key_tick(const struct cfg *c, time_t now);

#endif
