/* log.h - one line per event to syslog/journald, a file or stderr */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_L_DEBUG, LOG_L_INFO, LOG_L_WARN, LOG_L_ERROR };

/* log_open - dest is "stderr", "stdout", "syslog" (or ""), or a path.
 * conn_fd is the client connection (the session's fd 0) or -1: fd 1 and
 * an fd 2 that is the same socket are never used then, syslog is.
 * level is a go-guerrilla/logrus level name. */
void log_open(const char *prog, const char *dest, const char *level,
              int conn_fd);

/* log_reopen - reopen a log file (SIGUSR1, logrotate) */
void log_reopen(void);

/* log_close - close a log file */
void log_close(void);

void log_msg(enum log_level lv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_L_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_L_INFO, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_L_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_L_ERROR, __VA_ARGS__)

#endif
