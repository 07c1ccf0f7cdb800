/* stats.h - a session's events for smtpd-dashboard (statsmsg.h); every
 * call is a no-op until stats_begin found the dashboard enabled, and
 * none of them can block or fail the session */
#ifndef STATS_H
#define STATS_H

#include "cfg.h"

/* stats_begin - remember the server and client of this connection and
 * open the socket when dashboard.is_enabled (before the sandbox) */
void stats_begin(const struct cfg *cfg, const struct cfg_server *srv,
                 const char *peer_ip);

/* stats_peer - the client's address changed (a PROXY header) */
void stats_peer(const char *peer_ip);

/* stats_connect - the connection was taken ("accepted") or refused
 * ("refused": max_clients, no servers[] entry, ...) */
void stats_connect(const char *result);

/* stats_refused - stats_begin and stats_connect("refused") in one */
void stats_refused(const struct cfg *cfg, const struct cfg_server *srv,
                   const char *peer_ip);

/* stats_helo - the HELO/EHLO name the client gave */
void stats_helo(const char *name);

/* stats_message - one message in the spool */
void stats_message(long long size, size_t nrcpt, int tls);

/* stats_refusal - one 4xx or 5xx reply */
void stats_refusal(int code);

/* stats_end - the session is over */
void stats_end(int tls, const char *result, double secs);

/* stats_dropped - datagrams the collector did not take (down, full) */
unsigned long stats_dropped(void);

#endif
