/* listen.h - listening sockets (--listen, or systemd's LISTEN_FDS) and
 * sd_notify, for the accept mode */
#ifndef LISTEN_H
#define LISTEN_H

/* listen_notify_open - remember NOTIFY_SOCKET, and unset it: no session
 * may speak for the service */
void listen_notify_open(void);

/* listen_notify - one sd_notify datagram, printf-style; never blocks;
 * nothing without NOTIFY_SOCKET */
void listen_notify(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* listen_notify_close - in a child: forget the notify socket */
void listen_notify_close(void);

/* listen_fds_count - LISTEN_FDS when LISTEN_PID is this process, else 0 */
int listen_fds_count(void);

/* listen_take_fds - systemd's listening sockets (fd 3 on, made
 * non-blocking and close-on-exec) into fds[], at most max; the count, or
 * -1 when one is not a listening socket (logged) */
int listen_take_fds(int *fds, int max);

/* listen_bind - a non-blocking listener on ADDR:PORT, [V6]:PORT or :PORT
 * (numeric addresses only: no resolver query); fd, or -1 (logged) */
int listen_bind(const char *spec);

#endif
