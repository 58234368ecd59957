/* SPDX-License-Identifier: MIT */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "clock.h"

/* STATUS= text longer than this is cut: systemctl status shows one line. */
#define NOTIFY_STATUS_MAX 256

int notify_ready(void)
{
	return sd_notify(0, "READY=1");
}

int notify_status(const char *fmt, ...)
{
	char text[NOTIFY_STATUS_MAX];
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* A newline would start a new assignment in the notification. */
	for (p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return sd_notifyf(0, "STATUS=%s", text);
}

int notify_reloading(void)
{
	return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			  (unsigned long long)(clock_mono_ns() / 1000ULL));
}

int notify_stopping(void)
{
	return sd_notify(0, "STOPPING=1");
}

int notify_watchdog(void)
{
	return sd_notify(0, "WATCHDOG=1");
}

int notify_watchdog_interval(uint64_t *ping_usec)
{
	uint64_t usec = 0;
	int r;

	*ping_usec = 0;
	r = sd_watchdog_enabled(0, &usec);
	if (r <= 0)
		return r;
	*ping_usec = usec / 2 ? usec / 2 : 1;
	return 1;
}
