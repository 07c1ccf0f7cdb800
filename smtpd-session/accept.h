/* accept.h - the accept mode: one parent, one forked child per client */
#ifndef ACCEPT_H
#define ACCEPT_H

#define ACCEPT_MAX_LISTEN 16
#define ACCEPT_STOP_TIMEOUT 30 /* s sessions get to finish at SIGTERM */

/* accept_have_listen_fds - systemd passed us listening sockets
 * (LISTEN_PID is our pid, LISTEN_FDS > 0) */
int accept_have_listen_fds(void);

/* accept_main - bind each of listen[] (ADDR:PORT, [V6]:PORT, :PORT), or
 * with none take the LISTEN_FDS sockets, then accept until SIGTERM.
 * Returns the exit status. */
int accept_main(const char *path, const char **listen, int nlisten,
                long stop_timeout);

#endif
