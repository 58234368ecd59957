/* SPDX-License-Identifier: MIT */
/*
 * systemd service notifications (sd_notify(3)) for a Type=notify-reload
 * unit: READY, STATUS, RELOADING, STOPPING and the watchdog.
 *
 * Every call is harmless outside systemd: with no NOTIFY_SOCKET in the
 * environment nothing is sent and 0 is returned.  Each returns what
 * sd_notify returns: > 0 sent, 0 not under systemd, < 0 a negative errno.
 */
#ifndef BPFWATCH_NOTIFY_H
#define BPFWATCH_NOTIFY_H

#include <stdint.h>

/* READY=1: startup or a reload finished (after notify_reloading). */
int notify_ready(void);

/* STATUS=<text>: the one-line state systemctl status shows. */
__attribute__((format(printf, 1, 2)))
int notify_status(const char *fmt, ...);

/*
 * RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now, µs>, which
 * Type=notify-reload requires so systemd can tell this reload from an
 * older one; follow with notify_ready() when the reload is done (also when
 * it was refused: the service keeps running its old state).
 */
int notify_reloading(void);

/* STOPPING=1: shutdown has begun. */
int notify_stopping(void);

/* WATCHDOG=1: one keep-alive ping. */
int notify_watchdog(void);

/*
 * Whether systemd expects watchdog pings (WatchdogSec= set for this
 * process): 1 and *ping_usec = half the watchdog timeout (sd_watchdog_enabled's
 * advice; arm a timer that calls notify_watchdog() that often), 0 when
 * not, or a negative errno for a malformed WATCHDOG_USEC.
 */
int notify_watchdog_interval(uint64_t *ping_usec);

#endif
