/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl's side of the socket protocol (README "Socket protocol (as
 * built)"): a Unix stream connection carrying one JSON object per line each
 * way.  Every wait has a deadline, every reply line a size cap, and a reply
 * that is not a JSON object with a boolean "ok" is refused as broken.
 */
#ifndef BPFWATCH_CTL_CONN_H
#define BPFWATCH_CTL_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/*
 * Longest reply line accepted.  The largest reply is a sample: every
 * per-CPU value of every watch, about 30 bytes per value ("\"2047\":
 * -9223372036854775808,").  A full watch set (1024) of percpu watches on
 * 2048 CPUs stays under this; a daemon sending more is broken, and the cap
 * keeps a runaway peer from making the client allocate without bound.
 */
#define CTL_REPLY_MAX ((size_t)64 << 20)

/* First size of the receive buffer; it doubles up to CTL_REPLY_MAX + 1. */
#define CTL_CONN_BUF_INITIAL ((size_t)64 << 10)

/* A deadline that never comes (for subscribe, which waits for ticks forever). */
#define CTL_NO_DEADLINE ((int64_t)-1)

struct ctl_conn {
	int fd;			/* -1 when closed */
	char *path;		/* socket path, for messages */
	char *buf;		/* received bytes: [start, end) not yet returned */
	size_t cap, start, end;
	size_t scanned;		/* [start, scanned) holds no newline */
	size_t max_line;	/* CTL_REPLY_MAX unless a caller lowers it */
	/* When set and a wait is interrupted by a signal, give up with -EINTR. */
	const volatile sig_atomic_t *stop;
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t ctl_now_ms(void);
/* ctl_now_ms() + @seconds (>= 0), saturated. */
int64_t ctl_deadline_ms(double seconds);

/* An unconnected ctl_conn (fd -1, max_line CTL_REPLY_MAX, stop NULL). */
void ctl_conn_init(struct ctl_conn *c);

/*
 * Connect to the Unix socket @path, waiting at most until @deadline_ms
 * (ctl_now_ms() clock; CTL_NO_DEADLINE: no limit) while the listener's
 * backlog is full.  Errors: the connect() errno (-ENOENT, -ECONNREFUSED,
 * -EACCES, ...), -ENAMETOOLONG, -ETIMEDOUT, -EINTR; the message names the
 * path.
 */
int ctl_conn_open(struct ctl_conn *c, const char *path, int64_t deadline_ms,
		  struct bw_error *err);

/* Close the socket and drop buffered bytes; @c can be opened again. */
void ctl_conn_close(struct ctl_conn *c);

/* Send @len bytes of @line (no newline inside) and a newline. */
int ctl_conn_send_line(struct ctl_conn *c, const char *line, size_t len, int64_t deadline_ms,
		       struct bw_error *err);

/*
 * Next line, without its newline and NUL-terminated in place; *line stays
 * valid until the next read or close.  Errors: -ETIMEDOUT, -ECONNRESET
 * (the peer closed the connection, possibly in the middle of a line),
 * -EMSGSIZE (a line longer than max_line), -EINTR, -ENOMEM, a read errno.
 */
int ctl_conn_read_line(struct ctl_conn *c, int64_t deadline_ms, char **line, size_t *len,
		       struct bw_error *err);

/*
 * Parse one reply line: a JSON object with a boolean "ok", nothing after
 * it.  -EBADMSG with a message quoting the start of the line otherwise.
 * @peer names the sender in the message.
 */
int ctl_reply_parse(const char *line, size_t len, const char *peer, json_t **reply,
		    struct bw_error *err);

/*
 * Send @request (compact JSON, one line) and read and parse one reply.  On
 * success *reply is a new reference and, when @raw is not NULL, *raw and
 * *raw_len the reply line as received (valid until the next read).  A
 * reply with "ok":false is still a success here: see ctl_reply_ok().
 */
int ctl_conn_request(struct ctl_conn *c, const json_t *request, int64_t deadline_ms,
		     json_t **reply, const char **raw, size_t *raw_len, struct bw_error *err);

/* Read and parse the next reply line (subscribe's stream). */
int ctl_conn_read_reply(struct ctl_conn *c, int64_t deadline_ms, json_t **reply,
			const char **raw, size_t *raw_len, struct bw_error *err);

/* "ok" is true. */
bool ctl_reply_ok(const json_t *reply);

/*
 * The error code and message of an "ok":false reply; "error" and "(no
 * message)" stand in for a missing or non-string member.
 */
void ctl_reply_error(const json_t *reply, const char **code, const char **message);

#endif
