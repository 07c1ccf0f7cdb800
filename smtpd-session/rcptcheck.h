/* rcptcheck.h - a session's recipient check at RCPT: one question to
 * spoolerd's lookup socket per recipient (lookupproto.h) */
#ifndef RCPTCHECK_H
#define RCPTCHECK_H

#include "cfg.h"

#include <stddef.h>

enum rcptcheck_result {
	RC_KNOWN,   /* the table has the address (or its @domain) */
	RC_UNKNOWN, /* it has not: 550 5.1.1 */
	RC_ERROR,   /* no answer (down, timeout, failed): per on_error */
};

/* rcptcheck_init - remember the server and spool for the lookups; no
 * socket is opened before the first one */
void rcptcheck_init(const struct cfg *cfg, const struct cfg_server *srv);

/* rcptcheck_lookup - ask about addr[0..len) ("local@domain"), waiting at
 * most rcpt_check_timeout (and never past the server's timeout or the
 * session's end); why gets the reason of an RC_ERROR. arg is unused (the
 * session core's callback shape). */
int rcptcheck_lookup(void *arg, const char *addr, size_t len, char *why,
                     size_t wsize);

/* rcptcheck_fd - the socket, -1 when none is open (tests) */
int rcptcheck_fd(void);

#endif
