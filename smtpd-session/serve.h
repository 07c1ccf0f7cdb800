/* serve.h - one SMTP session on fds 0/1, shared by both modes */
#ifndef SERVE_H
#define SERVE_H

#include "cfg.h"
#include "reply.h"
#include "spool.h"

#include <sys/socket.h>
#include <time.h>

struct serve_conn {
	const char *lip, *pip; /* local and peer IP text, or "unknown" */
	unsigned lport, pport;
	struct timespec t0; /* when the connection was taken */
};

/* serve_sockaddr_text - IP text (v4-mapped shown as v4) and port of a
 * socket address; 0, or -1 for another family */
int serve_sockaddr_text(const struct sockaddr_storage *ss, char *ip,
                        size_t size, unsigned *port);

/* serve_proxied_peer - does a connection from ip hand over other
 * clients (a proxy_trusted peer with proxy_protocol on, or an
 * xclient_trusted one with xclient_on)? Such a peer is not held to
 * max_clients_per_ip itself: each client it hands over is, once known
 * (the PROXY header, XCLIENT ADDR), through the slot files (slots.c) in
 * both modes. */
int serve_proxied_peer(const struct cfg_server *srv, const char *ip);

/* serve_signals - SIGPIPE ignored, SIGALRM/SIGTERM end the session, and
 * the whole-session timer started */
void serve_signals(long max_session_time);

/* serve_refuse - one reply from the table before any greeting */
void serve_refuse(enum reply_id id);

/* serve_session - from the spool dirs (sp: opened already or not) to the
 * summary line: sandbox, TLS, the SMTP conversation. Returns the exit
 * status. The caller has opened the log and started serve_signals. */
int serve_session(struct cfg *cfg, const struct cfg_server *srv,
                  struct spool *sp, const struct serve_conn *c);

#endif
