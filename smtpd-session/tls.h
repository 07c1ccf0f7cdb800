/* tls.h - STARTTLS and implicit TLS on fds 0/1 (the only GnuTLS user) */
#ifndef TLS_H
#define TLS_H

#include "cfg.h"
#include "run.h"

#include <stddef.h>

/* tls_priority - the GnuTLS priority string for a server entry's tls
 * keys (priority as is, else protocols/ciphers/curves mapped). 0, or -1
 * with the offending key ("ciphers[2]") and reason in err. */
int tls_priority(const struct cfg_tls *t, char *out, size_t size, char *err,
                 size_t errsize);

/* tls_configured - STARTTLS may be offered / implicit TLS is wanted */
int tls_configured(const struct cfg_server *srv);

/* tls_starttls - run.c's hook for ACT_STARTTLS: 220, handshake, reset;
 * or 454 and plaintext goes on. -1 closes the session. */
int tls_starttls(struct run *r);

/* tls_implicit - handshake before the greeting (RFC 8314); -1 on failure
 * (logged), the caller closes */
int tls_implicit(struct run *r);

/* tls_end - close_notify and free, after the last reply */
void tls_end(struct run *r);

/* tls_check - for --check-config: load every certificate and key of the
 * entry, check the priority string. Reports through diag with the key
 * path prefix (e.g. "servers[0].tls"). Returns the number of errors. */
int tls_check(const struct cfg_server *srv, const char *prefix,
              cfg_diag_fn diag, void *arg);

/* ---- the accept mode: prepare once in the parent, use in each child */

struct tls_prep;

/* tls_prepare - load GnuTLS now and build, for every enabled entry that
 * uses TLS, its credentials and priority cache. Each problem is reported
 * through diag and counted in *errors (the entry is left out). NULL only
 * when out of memory. */
struct tls_prep *tls_prepare(const struct cfg *cfg, cfg_diag_fn diag,
                             void *arg, int *errors);

/* tls_prep_free - release what tls_prepare built */
void tls_prep_free(struct tls_prep *p);

/* tls_prep_tick - in the parent (tls_prepare and once a second): when
 * an entry of p uses session tickets, make the session-ticket master key
 * if there is none, or a new one when the current one is rotate_ms old.
 * Children forked later inherit it; the key outlives p (a reload keeps
 * it, so tickets stay valid across reloads). */
void tls_prep_tick(const struct tls_prep *p, long long rotate_ms);

/* tls_use - in a child: take each entry's TLS set-up from p (an entry
 * not in p is read per connection, as in the inetd mode), and reseed
 * GnuTLS's random generator, forked with the parent's state, before the
 * child's first handshake */
void tls_use(const struct tls_prep *p);

/* tls_file_path - a key or certificate name as the session opens it
 * (relative names under $CREDENTIALS_DIRECTORY) */
const char *tls_file_path(const char *p, char *buf, size_t size);

#endif
