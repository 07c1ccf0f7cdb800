/* web.h - the dashboard's HTTPS listener: login, page, WebSocket,
 * /metrics (libmicrohttpd over GnuTLS) */
#ifndef WEB_H
#define WEB_H

#include "cfg.h"
#include "collect.h"

/* web_start - listen on dashboard.listen_interface with the TLS files
 * loaded; 0, or -1 with the reason logged */
int web_start(const struct cfg *cfg, struct collect *c);

/* web_reload_tls - when the key or certificate files changed since
 * they were loaded, start a new daemon on the same socket with them
 * (the old one keeps running when they do not load) */
void web_reload_tls(void);

/* web_ws_fds - the open WebSockets' fds into fds (at most max) */
size_t web_ws_fds(int *fds, size_t max);

/* web_ws_input - bytes are waiting on WebSocket fd: read and answer
 * them (close, ping) */
void web_ws_input(int fd);

/* web_ws_push - one text frame to every open WebSocket; a socket that
 * cannot take it now is closed */
void web_ws_push(const char *text);

/* web_stop - close every WebSocket and stop the daemon */
void web_stop(void);

/* web_cidr_match - is ip (text) inside one of the CIDR entries ("a.b.c.d
 * /n", "v6/n", or a bare address)? */
int web_cidr_match(const struct cfg_strlist *l, const char *ip);

#endif
