/*
 * notify.c - READY=1 after the first scan, RELOADING=1 / READY=1 around
 * a SIGHUP, STOPPING=1, STATUS= with the counters and WATCHDOG=1 at half
 * of WatchdogSec, all through libsystemd's sd_notify. Without
 * NOTIFY_SOCKET every call is a cheap no-op, so spoolerd runs the same
 * under s6, runit or a shell.
 */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

void notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;

	/* MONOTONIC_USEC lets systemd (Type=notify-reload) match it */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL +
			   (unsigned long long)ts.tv_nsec / 1000);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", text);
}

long long notify_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (long long)(usec / 2000);
}

void notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}
