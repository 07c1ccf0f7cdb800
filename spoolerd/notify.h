/* notify.h - systemd's notify protocol, a no-op without systemd */
#ifndef NOTIFY_H
#define NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* notify_status - "STATUS=queued N, delivered N, ..." */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* notify_watchdog_ms - half of WatchdogSec in ms, or 0 when unset */
long long notify_watchdog_ms(void);
void notify_watchdog(void);

#endif
