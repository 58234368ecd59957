/* SPDX-License-Identifier: MIT */
/*
 * Client connection to bpfwatchd (see ctl_conn.h).
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * caller's deadline, so a daemon that accepts and never answers, or
 * answers half a line, costs at most the timeout.  Lines are found with
 * memchr over the bytes not scanned yet, so a 64 MiB reply arriving in
 * small reads is still linear.
 */
#include "ctl_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Pause between connect() retries while the daemon's listen backlog is full. */
#define CONNECT_RETRY_MS 10

/* How much of a broken reply an error message quotes. */
#define BROKEN_QUOTE_MAX 60

int64_t ctl_now_ms(void)
{
	return (int64_t)(clock_mono_ns() / 1000000);
}

int64_t ctl_deadline_ms(double seconds)
{
	int64_t now = ctl_now_ms();

	if (!(seconds > 0))
		return now;
	if (seconds * 1000.0 >= (double)(INT64_MAX / 2))
		return INT64_MAX / 2;
	return now + (int64_t)(seconds * 1000.0 + 0.5);
}

void ctl_conn_init(struct ctl_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->max_line = CTL_REPLY_MAX;
}

void ctl_conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	free(c->path);
	c->buf = NULL;
	c->path = NULL;
	c->cap = c->start = c->end = c->scanned = 0;
}

static const char *peer(const struct ctl_conn *c)
{
	return c->path ? c->path : "bpfwatchd";
}

/* Milliseconds left before @deadline for poll(): -1 for none, 0 when past. */
static int poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline == CTL_NO_DEADLINE)
		return -1;
	left = deadline - ctl_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Wait until @fd is ready for @events.  1 when ready, 0 when the deadline
 * passed, negative errno (-EINTR when stopped).
 */
static int wait_fd(struct ctl_conn *c, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		int timeout = poll_timeout(deadline);
		int n;

		if (c->stop && *c->stop)
			return -EINTR;
		n = poll(&p, 1, timeout);
		if (n > 0)
			return 1;
		if (n == 0) {
			if (timeout != 0 && poll_timeout(deadline) != 0)
				continue;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

int ctl_conn_open(struct ctl_conn *c, const char *path, int64_t deadline_ms,
		  struct bw_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r;

	ctl_conn_close(c);
	if (strlen(path) >= sizeof(addr.sun_path))
		return bw_error_set(err, -ENAMETOOLONG,
				    "socket path %s is longer than %zu bytes", path,
				    sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	c->path = strdup(path);
	if (!c->path)
		return bw_error_set(err, -ENOMEM, "out of memory");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return bw_error_set(err, -errno, "creating a Unix socket: %s", strerror(errno));
	c->fd = fd;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return 0;
		r = errno;
		if (r == EINTR) {
			if (c->stop && *c->stop)
				return bw_error_set(err, -EINTR, "connecting to %s: interrupted", path);
			continue;
		}
		if (r == EINPROGRESS) {
			socklen_t len = sizeof(r);

			r = wait_fd(c, POLLOUT, deadline_ms);
			if (r < 0)
				return bw_error_set(err, r, "connecting to %s: %s", path, strerror(-r));
			if (r == 0)
				return bw_error_set(err, -ETIMEDOUT, "connecting to %s: timed out", path);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
				r = errno;
			if (!r)
				return 0;
			break;
		}
		/* A Unix listener whose backlog is full refuses with EAGAIN: retry. */
		if (r != EAGAIN)
			break;
		if (deadline_ms != CTL_NO_DEADLINE && ctl_now_ms() + CONNECT_RETRY_MS > deadline_ms)
			return bw_error_set(err, -ETIMEDOUT,
					    "connecting to %s: timed out (the daemon does not accept)",
					    path);
		if (c->stop && *c->stop)
			return bw_error_set(err, -EINTR, "connecting to %s: interrupted", path);
		{
			struct timespec ts = { 0, CONNECT_RETRY_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return bw_error_set(err, -r, "cannot connect to %s: %s", path, strerror(r));
}

int ctl_conn_send_line(struct ctl_conn *c, const char *line, size_t len, int64_t deadline_ms,
		       struct bw_error *err)
{
	char *msg;
	size_t off = 0;
	int r = 0;

	if (c->fd < 0)
		return bw_error_set(err, -ENOTCONN, "sending to %s: not connected", peer(c));
	msg = malloc(len + 1);
	if (!msg)
		return bw_error_set(err, -ENOMEM, "out of memory");
	memcpy(msg, line, len);
	msg[len] = '\n';
	while (off < len + 1) {
		ssize_t n = send(c->fd, msg + off, len + 1 - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR && !(c->stop && *c->stop))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r = wait_fd(c, POLLOUT, deadline_ms);
			if (r == 0)
				r = bw_error_set(err, -ETIMEDOUT,
						 "sending to %s: timed out (the daemon does not read)",
						 peer(c));
			else if (r < 0)
				r = bw_error_set(err, r, "sending to %s: %s", peer(c), strerror(-r));
			if (r < 0)
				break;
			r = 0;
			continue;
		}
		r = n < 0 ? -errno : -EIO;
		if (r == -EPIPE || r == -ECONNRESET)
			bw_error_set(err, -ECONNRESET, "sending to %s: the daemon closed the connection",
				     peer(c));
		else
			bw_error_set(err, r, "sending to %s: %s", peer(c), strerror(-r));
		if (r == -EPIPE)
			r = -ECONNRESET;
		break;
	}
	free(msg);
	return r;
}

/* Room for at least one more byte after end, moving or growing the buffer. */
static int make_room(struct ctl_conn *c)
{
	size_t want;
	char *nb;

	if (c->start && (c->end == c->cap || c->start >= c->cap / 2)) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->scanned -= c->start;
		c->start = 0;
	}
	if (c->end < c->cap)
		return 0;
	/* A full line is max_line bytes and its newline. */
	want = c->cap ? c->cap * 2 : CTL_CONN_BUF_INITIAL;
	if (want > c->max_line + 1)
		want = c->max_line + 1;
	if (want <= c->cap)
		return -EMSGSIZE;
	nb = realloc(c->buf, want);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = want;
	return 0;
}

int ctl_conn_read_line(struct ctl_conn *c, int64_t deadline_ms, char **line, size_t *len,
		       struct bw_error *err)
{
	int r;

	if (c->fd < 0)
		return bw_error_set(err, -ENOTCONN, "reading from %s: not connected", peer(c));
	for (;;) {
		char *nl = c->scanned < c->end ?
			memchr(c->buf + c->scanned, '\n', c->end - c->scanned) : NULL;
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*line = c->buf + c->start;
			*len = (size_t)(nl - *line);
			c->start = c->scanned = (size_t)(nl + 1 - c->buf);
			return 0;
		}
		c->scanned = c->end;
		if (c->end - c->start > c->max_line)
			return bw_error_set(err, -EMSGSIZE, "reply from %s is longer than %zu bytes",
					    peer(c), c->max_line);
		r = make_room(c);
		if (r == -EMSGSIZE)
			return bw_error_set(err, r, "reply from %s is longer than %zu bytes", peer(c),
					    c->max_line);
		if (r < 0)
			return bw_error_set(err, r, "reading from %s: out of memory", peer(c));
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
		if (n > 0) {
			c->end += (size_t)n;
			continue;
		}
		if (n == 0) {
			if (c->end > c->start)
				return bw_error_set(err, -ECONNRESET,
						    "%s closed the connection in the middle of a reply",
						    peer(c));
			return bw_error_set(err, -ECONNRESET, "%s closed the connection", peer(c));
		}
		if (errno == EINTR) {
			if (c->stop && *c->stop)
				return bw_error_set(err, -EINTR, "interrupted");
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r = -errno;
			if (r == -ECONNRESET)
				return bw_error_set(err, r, "%s closed the connection", peer(c));
			return bw_error_set(err, r, "reading from %s: %s", peer(c), strerror(-r));
		}
		r = wait_fd(c, POLLIN, deadline_ms);
		if (r == 0)
			return bw_error_set(err, -ETIMEDOUT, "no reply from %s in time", peer(c));
		if (r == -EINTR)
			return bw_error_set(err, r, "interrupted");
		if (r < 0)
			return bw_error_set(err, r, "reading from %s: %s", peer(c), strerror(-r));
	}
}

/* The first @max bytes of @line, printable, for a message. */
static void excerpt(const char *line, size_t len, size_t max, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (i == max) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (ch < 0x20 || ch >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = '\0';
}

int ctl_reply_parse(const char *line, size_t len, const char *peer_name, json_t **reply,
		    struct bw_error *err)
{
	char ex[BROKEN_QUOTE_MAX * 4 + 8];
	json_error_t jerr;
	json_t *j, *ok;

	*reply = NULL;
	excerpt(line, len, BROKEN_QUOTE_MAX, ex, sizeof(ex));
	if (!peer_name)
		peer_name = "bpfwatchd";
	j = json_loadb(line, len, 0, &jerr);
	if (!j) {
		/* jansson quotes the offending bytes ("near '...'"): escape them too. */
		char why[sizeof(jerr.text) * 4];

		excerpt(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), sizeof(jerr.text), why,
			sizeof(why));
		return bw_error_set(err, -EBADMSG,
				    "broken reply from %s: not JSON (%s at byte %d): \"%s\"",
				    peer_name, why, jerr.position, ex);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return bw_error_set(err, -EBADMSG, "broken reply from %s: not a JSON object: \"%s\"",
				    peer_name, ex);
	}
	ok = json_object_get(j, "ok");
	if (!json_is_boolean(ok)) {
		json_decref(j);
		return bw_error_set(err, -EBADMSG,
				    "broken reply from %s: no boolean \"ok\" member: \"%s\"",
				    peer_name, ex);
	}
	*reply = j;
	return 0;
}

int ctl_conn_read_reply(struct ctl_conn *c, int64_t deadline_ms, json_t **reply,
			const char **raw, size_t *raw_len, struct bw_error *err)
{
	char *line;
	size_t len;
	int r;

	*reply = NULL;
	r = ctl_conn_read_line(c, deadline_ms, &line, &len, err);
	if (r < 0)
		return r;
	r = ctl_reply_parse(line, len, peer(c), reply, err);
	if (r < 0)
		return r;
	if (raw)
		*raw = line;
	if (raw_len)
		*raw_len = len;
	return 0;
}

int ctl_conn_request(struct ctl_conn *c, const json_t *request, int64_t deadline_ms,
		     json_t **reply, const char **raw, size_t *raw_len, struct bw_error *err)
{
	char *text;
	int r;

	*reply = NULL;
	text = json_dumps(request, JSON_COMPACT);
	if (!text)
		return bw_error_set(err, -ENOMEM, "encoding the request: out of memory");
	r = ctl_conn_send_line(c, text, strlen(text), deadline_ms, err);
	free(text);
	if (r < 0)
		return r;
	return ctl_conn_read_reply(c, deadline_ms, reply, raw, raw_len, err);
}

bool ctl_reply_ok(const json_t *reply)
{
	return json_is_true(json_object_get(reply, "ok"));
}

void ctl_reply_error(const json_t *reply, const char **code, const char **message)
{
	const char *s;

	s = json_string_value(json_object_get(reply, "error"));
	*code = s && *s ? s : "error";
	s = json_string_value(json_object_get(reply, "message"));
	*message = s && *s ? s : "(no message)";
}
