/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one logger.  Under systemd (stderr is the journal stream
 * named by $JOURNAL_STREAM) each message is one line "<N>text": the
 * journal takes N as the priority and adds the program name itself.  On
 * a terminal or a pipe it is "bpfwatchd: text".  Newlines inside a
 * message become spaces, so one event is always one line.
 *
 * libbpf's own messages (libbpf_set_print) come through here too, tagged
 * "libbpf:", at warning or info priority (debug dropped), at most
 * LOG_LIBBPF_BURST of them per LOG_LIBBPF_PERIOD_S seconds: a guest BTF
 * that libbpf complains about on every rescan must not flood the journal.
 */
#ifndef BPFWATCH_DAEMON_LOG_H
#define BPFWATCH_DAEMON_LOG_H

#include <syslog.h>

#define LOG_LIBBPF_BURST 10
#define LOG_LIBBPF_PERIOD_S 10

/* Decide the line format from $JOURNAL_STREAM and route libbpf's messages here. */
void log_init(void);

/* One line at @priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG). */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
