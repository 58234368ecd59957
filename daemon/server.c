/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <inttypes.h>

#include "scx_stats.h"

/* Bytes taken from a client socket per read(). */
#define READ_CHUNK 16384
/*
 * Room for a whole request, its newline and one more chunk: a line is
 * known to be too large as soon as SERVER_REQUEST_MAX bytes came without
 * a newline, so the buffer never needs more.
 */
#define IN_CAP (SERVER_REQUEST_MAX + READ_CHUNK + 1)
/* Reads (and accepts) per wakeup: one busy client must not starve the others. */
#define READS_PER_WAKEUP 8
/*
 * Requests answered per client per turn.  A client that pipelines more
 * waits for its next turn (the backlog source), after every other client
 * had one: hundreds of pipelining clients cannot delay a fresh one by more
 * than a round of a few requests each.
 */
#define LINES_PER_TURN 4
/*
 * A new client is served ahead of busy ones (a higher sd-event priority)
 * for its first few requests: a CI client's one question does not queue
 * behind clients that pipeline thousands.  Accepting has that priority too.
 */
#define FRESH_REQUESTS 16
#define PRIORITY_FRESH (SD_EVENT_PRIORITY_NORMAL - 1)
#define ACCEPTS_PER_WAKEUP 64
/* Idle buffers larger than this are given back rather than kept per client. */
#define BUF_KEEP (64 * 1024)
/* After EMFILE/ENFILE, try accepting again this much later (µs). */
#define ACCEPT_RETRY_USEC (100 * 1000)
/* How often idle clients are looked for, at most (µs); a quarter of the timeout if shorter. */
#define IDLE_SWEEP_USEC (1000 * 1000)
/* A limit's log line: the first hit, then at most one line per this much (µs) with a count. */
#define LIMIT_LOG_USEC (1000 * 1000)

struct server_client {
	struct server *srv;
	struct server_client *prev, *next;
	int fd;
	sd_event_source *io;
	uint32_t events;		/* the epoll mask set now */

	char *in;			/* bytes read, not yet consumed */
	size_t in_len, in_cap;
	bool discarding;		/* inside a too-large line: drop up to '\n' */
	bool backlog;			/* complete lines wait for its next turn */
	bool unread;			/* make_room saw bytes it has not read yet */
	sd_event_source *turn;		/* its next turn while it has a backlog (defer) */
	unsigned int answered;		/* requests answered, up to FRESH_REQUESTS */
	unsigned int turn_left;		/* lines it may still answer this turn */

	char *out;			/* out[out_head .. out_head + out_len) waits to be sent */
	size_t out_head, out_len, out_cap;

	bool subscriber;
	bool scx;			/* speaks scx_stats (scx_stats.h): every reply is its envelope */
	bool control;			/* may send state-changing requests (peer_access.h) */
	struct peer_cred cred;
	uint64_t last_input_usec;	/* CLOCK_MONOTONIC of the last bytes it sent (or connect) */
	size_t counted;			/* in_cap + out_cap as added to srv->buffered */
	bool eof;			/* the client shut down its write side */
	bool dead;			/* closed while busy: freed when the callback unwinds */
	unsigned int busy;		/* > 0 while one of its callbacks runs */
	void *data;
};

struct server {
	sd_event *event;
	sd_event_source *listen_src;
	sd_event_source *retry_src;
	bool accept_paused;
	int fd;
	char *path;			/* created by us: unlink on free when still ours */
	dev_t dev;
	ino_t ino;

	struct server_handlers h;
	void *userdata;
	unsigned int max_clients, max_per_user;
	uint64_t idle_timeout_usec;
	size_t queue_max, sub_queue_max, buffer_total_max;
	size_t buffered;		/* every client's buffer capacity together */
	struct peer_access access;
	sd_event_source *idle_src;

	struct server_client *clients;
	struct server_stats stats;
	struct {
		uint64_t last_usec;
		uint64_t suppressed;
	} limit_log[SERVER_LIMIT_COUNT];
};

static const char *const limit_names[SERVER_LIMIT_COUNT] = {
	[SERVER_LIMIT_MAX_CLIENTS] = "MaxClients",
	[SERVER_LIMIT_PER_USER] = "MaxClientsPerUser",
	[SERVER_LIMIT_IDLE] = "IdleTimeoutSec",
	[SERVER_LIMIT_BUFFER_TOTAL] = "BufferTotalMaxBytes",
	[SERVER_LIMIT_SUB_QUEUE] = "SubscriberQueueMaxBytes",
	[SERVER_LIMIT_FORBIDDEN] = "ControlUsers/ControlGroups",
};

static uint64_t now_usec(const struct server *s)
{
	uint64_t t = 0;

	sd_event_now(s->event, CLOCK_MONOTONIC, &t);
	return t;
}

/*
 * One log line per limit hit, naming the peer; a flood of hits is one
 * line a second with how many were not logged.
 */
__attribute__((format(printf, 4, 5)))
static void limit_hit(struct server *s, enum server_limit which, const struct peer_cred *cred,
		      const char *fmt, ...)
{
	char what[256];
	uint64_t now = now_usec(s);
	va_list ap;

	s->stats.limit_hits[which]++;
	if (!s->h.log)
		return;
	if (s->limit_log[which].last_usec && now - s->limit_log[which].last_usec < LIMIT_LOG_USEC) {
		s->limit_log[which].suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s->limit_log[which].suppressed)
		s->h.log(s->userdata, "client limit %s: %s (peer pid %d uid %u gid %u; %" PRIu64
			 " more hits in the last second not logged)", limit_names[which], what,
			 (int)cred->pid, (unsigned int)cred->uid, (unsigned int)cred->gid,
			 s->limit_log[which].suppressed);
	else
		s->h.log(s->userdata, "client limit %s: %s (peer pid %d uid %u gid %u)",
			 limit_names[which], what, (int)cred->pid, (unsigned int)cred->uid,
			 (unsigned int)cred->gid);
	s->limit_log[which].last_usec = now;
	s->limit_log[which].suppressed = 0;
}

json_t *server_reply_error(const char *code, const char *fmt, ...)
{
	char msg[BW_ERROR_MSG_MAX];
	json_t *reply, *m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m = json_string(msg);
	if (!m) {
		char *p;

		/* Not UTF-8 (a client's bytes quoted by jansson): keep the ASCII. */
		for (p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		m = json_string(msg);
	}
	reply = json_pack("{s:b, s:s, s:o*}", "ok", 0, "error", code, "message", m);
	return reply;
}

/* ---- buffer accounting ----------------------------------------------- */

static void client_close(struct server_client *c);

/* Bring srv->buffered up to date with @c's buffers. */
static void account(struct server_client *c)
{
	size_t now = c->in_cap + c->out_cap;

	c->srv->buffered = c->srv->buffered - c->counted + now;
	c->counted = now;
}

/*
 * Over BufferTotalMaxBytes: drop the clients holding the most (the slowest
 * readers, or a sender of huge lines) until under it again.  The client
 * whose growth crossed the bound may be among them.
 */
static void enforce_buffer_total(struct server *s)
{
	while (s->buffered > s->buffer_total_max) {
		struct server_client *c, *worst = NULL;

		for (c = s->clients; c; c = c->next)
			if (!c->dead && (!worst || c->counted > worst->counted))
				worst = c;
		if (!worst || worst->counted == 0)
			return;
		limit_hit(s, SERVER_LIMIT_BUFFER_TOTAL, &worst->cred,
			  "clients hold %zu bytes of buffers, more than %zu: dropping the one "
			  "holding most (%zu bytes, %zu of replies unread)", s->buffered,
			  s->buffer_total_max, worst->counted, worst->out_len);
		worst->in_cap = worst->out_cap = 0;	/* freed with it: stop counting now */
		account(worst);
		client_close(worst);
	}
}

/* ---- output ---------------------------------------------------------- */

static int out_append(struct server_client *c, const char *data, size_t n)
{
	if (c->out_head && c->out_head + c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
		char *grown;

		while (cap < c->out_len + n)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown)
			return -ENOMEM;
		c->out = grown;
		c->out_cap = cap;
		account(c);
	}
	memcpy(c->out + c->out_head + c->out_len, data, n);
	c->out_len += n;
	return 0;
}

/* Send what the socket takes now: 0, or a negative errno when the client is gone. */
static int client_flush(struct server_client *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_head, c->out_len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			c->out_head += (size_t)w;
			c->out_len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return w < 0 ? -errno : -EIO;
	}
	c->out_head = 0;
	if (c->out_cap > BUF_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
		account(c);
	}
	return 0;
}

/* A serialized line: json_dumps output plus "\n", malloc'd. */
static char *dump_line(json_t *msg, size_t *len)
{
	char *text, *line;
	size_t n;

	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return NULL;
	n = strlen(text);
	line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* ---- client lifetime ------------------------------------------------- */

static void client_free(struct server_client *c)
{
	struct server *s = c->srv;

	if (s->h.client_gone)
		s->h.client_gone(s->userdata, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->in_cap = c->out_cap = 0;
	account(c);
	s->stats.clients--;
	if (c->subscriber)
		s->stats.subscribers--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->turn);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	/* Many clients' buffers went back to malloc: give the pages back to the system. */
	if (!s->clients)
		malloc_trim(0);
	if (s->accept_paused) {
		s->accept_paused = false;
		sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
	}
}

/* Close @c now, or when its running callback unwinds. */
static void client_close(struct server_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (!c->busy)
		client_free(c);
}

static void client_update_events(struct server_client *c)
{
	uint32_t ev = 0;

	if (c->dead)
		return;
	if (!c->eof && c->out_len < c->srv->queue_max && !c->backlog)
		ev |= EPOLLIN;
	if (c->out_len)
		ev |= EPOLLOUT;
	if (ev != c->events && sd_event_source_set_io_events(c->io, ev) >= 0)
		c->events = ev;
}

/* Queue one reply or broadcast line and try to send it at once. */
static int client_queue_line(struct server_client *c, const char *line, size_t n)
{
	int r;

	if (c->dead)
		return -ECONNRESET;
	r = out_append(c, line, n);
	if (r == 0)
		r = client_flush(c);
	if (r < 0) {
		client_close(c);
		return r;
	}
	enforce_buffer_total(c->srv);
	return c->dead ? -ENOBUFS : 0;
}

static void client_reply(struct server_client *c, json_t *reply)
{
	char *line;
	size_t n;

	if (!reply)
		reply = server_reply_error("internal", "the request produced no reply");
	line = reply ? dump_line(reply, &n) : NULL;
	json_decref(reply);
	if (!line) {
		static const char fallback[] =
			"{\"ok\":false,\"error\":\"internal\",\"message\":\"cannot serialize the reply\"}\n";

		client_queue_line(c, fallback, sizeof(fallback) - 1);
		return;
	}
	client_queue_line(c, line, n);
	free(line);
}

/* ---- requests -------------------------------------------------------- */

static bool is_json_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * Whether the JSON text nests deeper than SERVER_JSON_DEPTH_MAX, counted
 * over brackets outside strings.  Jansson's own limit (2048 levels) is
 * far beyond anything a request needs and recursion that deep costs stack.
 */
static bool too_deep(const char *s, size_t n)
{
	unsigned int depth = 0;
	bool in_str = false, esc = false;
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		if (ch == '"') {
			in_str = true;
		} else if (ch == '[' || ch == '{') {
			if (++depth > SERVER_JSON_DEPTH_MAX)
				return true;
		} else if ((ch == ']' || ch == '}') && depth) {
			depth--;
		}
	}
	return false;
}

static json_t *forbidden(struct server_client *c, const char *cmd)
{
	limit_hit(c->srv, SERVER_LIMIT_FORBIDDEN, &c->cred, "\"%s\" refused: not a control peer",
		  cmd);
	return server_reply_error("forbidden", "\"%s\" changes the daemon's state: only "
				  "ControlUsers= and ControlGroups= may send it (uid %u is not "
				  "one of them)", cmd, (unsigned int)c->cred.uid);
}

static json_t *dispatch(struct server_client *c, const char *line, size_t n)
{
	struct server *s = c->srv;
	json_error_t jerr;
	json_t *req, *cmd, *reply;

	if (too_deep(line, n))
		return server_reply_error("bad_json", "request nests deeper than %d levels",
					  SERVER_JSON_DEPTH_MAX);
	req = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req)
		return server_reply_error("bad_json", "invalid JSON at column %d: %s",
					  jerr.column, jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return server_reply_error("bad_args", "a request is a JSON object");
	}
	cmd = json_object_get(req, "cmd");
	if (cmd) {
		if (!json_is_string(cmd))
			reply = server_reply_error("bad_args", "\"cmd\" must be a string");
		else if (!s->h.request)
			reply = server_reply_error("unknown_cmd", "no commands are served");
		else if (!c->control && peer_access_cmd_needs_control(json_string_value(cmd)))
			reply = forbidden(c, json_string_value(cmd));
		else
			reply = s->h.request(s->userdata, c, json_string_value(cmd), req);
	} else {
		reply = server_reply_error("bad_args", "a request needs \"cmd\"");
	}
	json_decref(req);
	return reply;
}

/* One reply line of a connection that speaks scx_stats (NULL @line: the line was too long). */
static void scx_reply(struct server_client *c, const char *line, size_t n)
{
	const struct scx_stats_source src = {
		.metrics = c->srv->h.scx_metrics,
		.meta_fields = c->srv->h.scx_meta_fields,
		.desc = "bpfwatch run-level metrics of the guest's sched_ext scheduler",
		.userdata = c->srv->userdata,
	};
	char *text;
	size_t len;

	text = line ? scx_stats_answer_line(&src, line, n, &len) :
		      scx_stats_error_line(E2BIG, "request line too long", &len);
	if (!text) {
		static const char fallback[] = "{\"errno\":12,\"args\":{\"resp\":\"out of memory\"}}\n";

		client_queue_line(c, fallback, sizeof(fallback) - 1);
		return;
	}
	client_queue_line(c, text, len);
	free(text);
}

/* One more request answered: past FRESH_REQUESTS the client waits its turn like the others. */
static void count_request(struct server_client *c)
{
	c->srv->stats.requests++;
	if (c->answered < FRESH_REQUESTS && ++c->answered == FRESH_REQUESTS)
		sd_event_source_set_priority(c->io, SD_EVENT_PRIORITY_NORMAL);
}

static void handle_line(struct server_client *c, const char *line, size_t n)
{
	size_t i;

	for (i = 0; i < n && is_json_space(line[i]); i++)
		;
	/* The scx_stats crate answers a blank line too (EINVAL); bpfwatch's protocol skips it. */
	if (i == n && !c->scx)
		return;
	count_request(c);
	if (!c->scx && scx_stats_line_is_request(line, n))
		c->scx = true;
	if (c->scx)
		scx_reply(c, line, n);
	else
		client_reply(c, dispatch(c, line, n));
}

static void reply_too_large(struct server_client *c)
{
	count_request(c);
	if (c->scx)
		scx_reply(c, NULL, 0);
	else
		client_reply(c, server_reply_error("too_large", "request line longer than %d bytes; "
						   "discarded up to its newline", SERVER_REQUEST_MAX));
}

/* Answer the complete lines buffered, as far as the output bound and this turn allow. */
static void process_input(struct server_client *c)
{
	size_t start = 0;

	c->backlog = false;
	while (!c->dead && c->out_len < c->srv->queue_max) {
		char *p = c->in + start, *nl;
		size_t avail = c->in_len - start;

		nl = avail ? memchr(p, '\n', avail) : NULL;
		if (nl && !c->discarding && c->turn_left == 0) {
			c->backlog = true;
			sd_event_source_set_enabled(c->turn, SD_EVENT_ONESHOT);
			break;
		}
		if (c->discarding) {
			if (!nl) {
				start = c->in_len;
				break;
			}
			c->discarding = false;
			start += (size_t)(nl - p) + 1;
			continue;
		}
		if (!nl) {
			if (avail > SERVER_REQUEST_MAX) {
				reply_too_large(c);
				c->discarding = true;
				start = c->in_len;
			}
			break;
		}
		if ((size_t)(nl - p) > SERVER_REQUEST_MAX)
			reply_too_large(c);	/* its newline came in the same read */
		else
			handle_line(c, p, (size_t)(nl - p));
		c->turn_left--;
		start += (size_t)(nl - p) + 1;
	}
	if (c->dead)
		return;
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (c->in_len == 0 && c->in_cap > BUF_KEEP) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
		account(c);
	}
}

static void client_read(struct server_client *c)
{
	unsigned int i;

	for (i = 0; i < READS_PER_WAKEUP && !c->eof && !c->dead && !c->backlog; i++) {
		size_t room;
		ssize_t got;

		if (c->out_len >= c->srv->queue_max)
			break;
		if (c->in_cap - c->in_len < READ_CHUNK && c->in_cap < IN_CAP) {
			size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
			char *grown;

			if (cap < c->in_len + READ_CHUNK)
				cap = c->in_len + READ_CHUNK;
			if (cap > IN_CAP)
				cap = IN_CAP;
			grown = realloc(c->in, cap);
			if (!grown) {
				client_close(c);
				return;
			}
			c->in = grown;
			c->in_cap = cap;
			account(c);
			enforce_buffer_total(c->srv);
			if (c->dead)
				return;
		}
		room = c->in_cap - c->in_len;
		if (room == 0)
			break;	/* unreachable: process_input leaves at most one partial line */
		got = read(c->fd, c->in + c->in_len, room < READ_CHUNK ? room : READ_CHUNK);
		if (got > 0) {
			c->last_input_usec = now_usec(c->srv);
			c->in_len += (size_t)got;
			process_input(c);
		} else if (got == 0) {
			c->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else {
			client_close(c);
			return;
		}
	}
}

/* Everything that may move after a read, a write or a broadcast. */
static void client_progress(struct server_client *c)
{
	if (c->dead)
		return;
	process_input(c);
	if (c->dead)
		return;
	/* After EOF, a last line without '\n' is a request once every full line is answered. */
	if (c->eof && c->out_len < c->srv->queue_max && !c->backlog &&
	    !(c->in_len && memchr(c->in, '\n', c->in_len))) {
		if (!c->discarding && c->in_len)
			handle_line(c, c->in, c->in_len);
		c->in_len = 0;
		c->discarding = false;
		if (c->dead)
			return;
		/* A subscriber may only have shut down its write side: it keeps its stream. */
		if (c->out_len == 0 && !c->subscriber) {
			client_close(c);
			return;
		}
	}
	client_update_events(c);
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server_client *c = userdata;

	(void)src;
	(void)fd;
	c->busy++;
	c->turn_left = LINES_PER_TURN;
	if (revents & EPOLLIN) {
		client_read(c);
	} else if (revents & (EPOLLHUP | EPOLLERR)) {
		/* Gone while not being read (stalled or after EOF): replies cannot arrive. */
		client_close(c);
	}
	if (!c->dead && (revents & EPOLLOUT) && client_flush(c) < 0)
		client_close(c);
	client_progress(c);
	c->busy--;
	if (c->dead && !c->busy)
		client_free(c);
	return 0;
}

/* A client with a backlog gets its next turn, one per event loop iteration like I/O. */
static int on_turn(sd_event_source *src, void *userdata)
{
	struct server_client *c = userdata;

	(void)src;
	c->busy++;
	c->turn_left = LINES_PER_TURN;
	client_progress(c);
	c->busy--;
	if (c->dead && !c->busy)
		client_free(c);
	return 0;
}

/* ---- accepting ------------------------------------------------------- */

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;

	(void)src;
	(void)usec;
	if (s->accept_paused) {
		s->accept_paused = false;
		sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
	}
	return 0;
}

/*
 * Out of file descriptors: stop accepting (level-triggered epoll would
 * spin) until a client goes or a moment passes.
 */
static void pause_accept(struct server *s)
{
	s->accept_paused = true;
	sd_event_source_set_enabled(s->listen_src, SD_EVENT_OFF);
	if (!s->retry_src) {
		if (sd_event_add_time_relative(s->event, &s->retry_src, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, 0, on_accept_retry, s) < 0)
			s->retry_src = NULL;
	} else {
		sd_event_source_set_time_relative(s->retry_src, ACCEPT_RETRY_USEC);
		sd_event_source_set_enabled(s->retry_src, SD_EVENT_ONESHOT);
	}
	if (!s->retry_src && !s->clients) {
		/* No timer and no client whose exit would resume: keep accepting. */
		s->accept_paused = false;
		sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
	}
}

static void reject(struct server *s, int fd)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line),
		     "{\"ok\":false,\"error\":\"internal\",\"message\":\"too many clients (%u, "
		     "at most %u per user); try again later\"}\n", s->max_clients,
		     s->max_per_user);
	/* Best effort: a fresh socket has room for one short line. */
	(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	s->stats.rejected_clients++;
}

/*
 * At a connection limit, a client that waits for nothing (no partial
 * request, no reply queued, not a subscriber) makes room for a new one,
 * the one silent for longest first: idle connections cannot lock out a
 * CI client that has a question, and a client that just connected is the
 * last to go.
 */
static bool evictable(const struct server_client *c)
{
	return !c->dead && !c->subscriber && !c->out_len && !c->in_len && !c->unread;
}

/*
 * Before choosing whom to close, look at every connection at once (one
 * poll): a peer that already went (POLLHUP) is closed now, and one whose
 * request waits unread in its socket is not idle.
 */
static void look_at_peers(struct server *s)
{
	struct server_client *c, *next;
	struct pollfd *pfd;
	size_t n = 0, i = 0;

	for (c = s->clients; c; c = c->next)
		n++;
	pfd = calloc(n ? n : 1, sizeof(*pfd));
	if (!pfd)
		return;
	for (c = s->clients; c; c = c->next, i++) {
		pfd[i].fd = c->fd;
		pfd[i].events = POLLIN;
	}
	if (poll(pfd, n, 0) < 0) {
		free(pfd);
		return;
	}
	for (c = s->clients, i = 0; c; c = next, i++) {
		next = c->next;
		c->unread = pfd[i].revents & POLLIN;
		if (pfd[i].revents & (POLLHUP | POLLERR))
			client_close(c);
	}
	free(pfd);
}

/* The longest-idle evictable client (of @uid, unless NULL), or NULL. */
static struct server_client *idlest(struct server *s, const uid_t *uid)
{
	struct server_client *c, *best = NULL;

	for (c = s->clients; c; c = c->next)
		if ((!uid || c->cred.uid == *uid) && evictable(c) &&
		    (!best || c->last_input_usec < best->last_input_usec))
			best = c;
	return best;
}

static unsigned int clients_of(const struct server *s, uid_t uid)
{
	unsigned int n = 0;

	for (const struct server_client *c = s->clients; c; c = c->next)
		if (!c->dead && c->cred.uid == uid)
			n++;
	return n;
}

/*
 * Room for a new client of @cred: true when under both limits, or when an
 * idle client (of the same user, for the per-user limit) was closed to
 * make it.
 */
static bool make_room(struct server *s, const struct peer_cred *cred)
{
	struct server_client *victim;

	if (clients_of(s, cred->uid) >= s->max_per_user || s->stats.clients >= s->max_clients)
		look_at_peers(s);

	if (clients_of(s, cred->uid) >= s->max_per_user) {
		victim = idlest(s, &cred->uid);
		if (!victim) {
			limit_hit(s, SERVER_LIMIT_PER_USER, cred, "uid %u already has %u "
				  "connections, none idle: refused", (unsigned int)cred->uid,
				  s->max_per_user);
			return false;
		}
		limit_hit(s, SERVER_LIMIT_PER_USER, &victim->cred, "uid %u has %u connections: "
			  "closing its longest idle one for a new one", (unsigned int)cred->uid,
			  s->max_per_user);
		client_close(victim);
	}
	if (s->stats.clients >= s->max_clients) {
		victim = idlest(s, NULL);
		if (!victim) {
			limit_hit(s, SERVER_LIMIT_MAX_CLIENTS, cred, "%u connections, none idle: "
				  "refused", s->max_clients);
			return false;
		}
		limit_hit(s, SERVER_LIMIT_MAX_CLIENTS, &victim->cred, "%u connections: closing "
			  "the longest idle one for a new one", s->max_clients);
		client_close(victim);
	}
	return true;
}

static int client_new(struct server *s, int fd, const struct peer_cred *cred)
{
	struct server_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->srv = s;
	c->fd = fd;
	c->cred = *cred;
	c->control = peer_access_is_control(&s->access, cred);
	c->last_input_usec = now_usec(s);
	c->events = EPOLLIN;
	r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_client_io, c);
	if (r < 0) {
		free(c);
		return r;
	}
	sd_event_source_set_priority(c->io, PRIORITY_FRESH);
	r = sd_event_add_defer(s->event, &c->turn, on_turn, c);
	if (r < 0) {
		sd_event_source_disable_unref(c->io);
		free(c);
		return r;
	}
	sd_event_source_set_enabled(c->turn, SD_EVENT_OFF);
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->stats.clients++;
	s->stats.accepted++;
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;
	struct peer_cred cred;
	unsigned int i;

	(void)src;
	(void)revents;
	for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				pause_accept(s);
				break;
			}
			/* ECONNABORTED, EINTR, EPROTO: that one connection, not the socket. */
			continue;
		}
		if (peer_cred_get(cfd, &cred, NULL) < 0) {
			close(cfd);
			continue;
		}
		if (!make_room(s, &cred)) {
			reject(s, cfd);
			continue;
		}
		if (client_new(s, cfd, &cred) < 0)
			close(cfd);
	}
	return 0;
}

/* ---- idle clients ---------------------------------------------------- */

static uint64_t sweep_period(const struct server *s)
{
	uint64_t p = s->idle_timeout_usec / 4;

	return p && p < IDLE_SWEEP_USEC ? p : IDLE_SWEEP_USEC;
}

/* Close every client but subscribers that has sent nothing for IdleTimeoutSec. */
static int on_idle_sweep(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;
	struct server_client *c, *next;
	uint64_t now = now_usec(s);	/* @usec is when the timer was due, maybe earlier */

	(void)usec;
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (c->dead || c->subscriber || now < c->last_input_usec + s->idle_timeout_usec)
			continue;
		limit_hit(s, SERVER_LIMIT_IDLE, &c->cred, "nothing sent for %" PRIu64 " ms: closed",
			  (now - c->last_input_usec) / 1000);
		client_close(c);
	}
	sd_event_source_set_time(src, now + sweep_period(s));
	return 0;
}

/* ---- the listening socket -------------------------------------------- */

/*
 * EADDRINUSE on bind: a socket file is there.  It is stale when connecting
 * to it is refused (its server died without removing it); then it goes.
 * A connect that succeeds, or would block on a full backlog, means a live
 * server: never steal its path.
 */
static int remove_stale(const char *path, const struct sockaddr_un *sa, socklen_t salen,
			struct bw_error *err)
{
	struct stat st;
	int probe, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return bw_error_set(err, -errno, "socket %s: cannot stat: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return bw_error_set(err, -EEXIST, "socket %s: the path exists and is not a socket; "
				    "not replacing it", path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return bw_error_set(err, -errno, "socket %s: cannot create a probe socket: %s", path,
				    strerror(errno));
	r = connect(probe, (const struct sockaddr *)sa, salen);
	r = r < 0 ? -errno : 0;
	close(probe);
	if (r == 0 || r == -EAGAIN || r == -EINPROGRESS)
		return bw_error_set(err, -EADDRINUSE, "socket %s: another process is listening "
				    "on it", path);
	if (r != -ECONNREFUSED)
		return bw_error_set(err, r, "socket %s: cannot tell whether it is in use: %s", path,
				    strerror(-r));
	if (unlink(path) < 0 && errno != ENOENT)
		return bw_error_set(err, -errno, "socket %s: cannot remove the stale socket: %s",
				    path, strerror(errno));
	return 0;
}

static int listen_path(struct server *s, const struct server_opts *o, struct bw_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(o->path);
	socklen_t salen;
	struct stat st;
	int fd, r;

	if (len == 0 || len >= sizeof(sa.sun_path))
		return bw_error_set(err, -ENAMETOOLONG, "socket path \"%s\": must be 1..%zu bytes",
				    o->path, sizeof(sa.sun_path) - 1);
	if (o->mode & ~(mode_t)0777)
		return bw_error_set(err, -EINVAL, "socket %s: mode %04o has bits beyond 0777",
				    o->path, (unsigned int)o->mode);
	memcpy(sa.sun_path, o->path, len);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return bw_error_set(err, -errno, "socket %s: cannot create: %s", o->path,
				    strerror(errno));
	/*
	 * bind() creates the file with the socket inode's mode less the umask
	 * (net/unix/af_unix.c): narrowing the inode first means the file is
	 * never more open than @mode, even before the chmod below.
	 */
	if (fchmod(fd, o->mode) < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot set mode: %s", o->path,
				 strerror(errno));
		goto fail;
	}
	r = bind(fd, (struct sockaddr *)&sa, salen);
	if (r < 0 && errno == EADDRINUSE) {
		r = remove_stale(o->path, &sa, salen, err);
		if (r < 0)
			goto fail;
		r = bind(fd, (struct sockaddr *)&sa, salen);
	}
	if (r < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot bind: %s", o->path, strerror(errno));
		goto fail;
	}
	if (chmod(o->path, o->mode) < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot chmod %04o: %s", o->path,
				 (unsigned int)o->mode, strerror(errno));
		goto fail_unlink;
	}
	if (o->gid != (gid_t)-1 && lchown(o->path, (uid_t)-1, o->gid) < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot give it group %u: %s", o->path,
				 (unsigned int)o->gid, strerror(errno));
		goto fail_unlink;
	}
	if (lstat(o->path, &st) < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot stat: %s", o->path, strerror(errno));
		goto fail_unlink;
	}
	if (listen(fd, SERVER_BACKLOG) < 0) {
		r = bw_error_set(err, -errno, "socket %s: cannot listen: %s", o->path,
				 strerror(errno));
		goto fail_unlink;
	}
	s->path = strdup(o->path);
	if (!s->path) {
		r = bw_error_set(err, -ENOMEM, "socket %s: out of memory", o->path);
		goto fail_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->fd = fd;
	return 0;
fail_unlink:
	unlink(o->path);
fail:
	close(fd);
	return r;
}

static int adopt_fd(struct server *s, int fd, struct bw_error *err)
{
	int flags, r;

	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r < 0)
		return bw_error_set(err, r, "listening fd %d: %s", fd, strerror(-r));
	if (r == 0)
		return bw_error_set(err, -ENOTSOCK, "listening fd %d: not a listening Unix stream "
				    "socket", fd);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return bw_error_set(err, -errno, "listening fd %d: cannot make it non-blocking: %s",
				    fd, strerror(errno));
	s->fd = fd;
	return 0;
}

int server_listen_fd_from_systemd(int *fd, struct bw_error *err)
{
	int n, r;

	*fd = -1;
	n = sd_listen_fds(1);
	if (n < 0)
		return bw_error_set(err, n, "socket activation: %s", strerror(-n));
	if (n == 0)
		return 0;
	if (n > 1)
		return bw_error_set(err, -E2BIG, "socket activation: systemd passed %d sockets; "
				    "bpfwatchd serves one", n);
	r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
	if (r <= 0)
		return bw_error_set(err, r < 0 ? r : -ENOTSOCK, "socket activation: fd %d is not a "
				    "listening Unix stream socket", SD_LISTEN_FDS_START);
	*fd = SD_LISTEN_FDS_START;
	return 1;
}

int server_new(sd_event *e, const struct server_opts *opts, const struct server_handlers *h,
	       void *userdata, struct server **out, struct bw_error *err)
{
	struct server *s;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return bw_error_set(err, -ENOMEM, "starting the socket server: out of memory");
	s->fd = -1;
	s->event = sd_event_ref(e);
	if (h)
		s->h = *h;
	s->userdata = userdata;
	s->max_clients = opts->max_clients ? opts->max_clients : SERVER_MAX_CLIENTS;
	s->queue_max = opts->queue_max ? opts->queue_max : SERVER_QUEUE_MAX;
	s->sub_queue_max = opts->subscriber_queue_max ? opts->subscriber_queue_max
						      : SERVER_SUBSCRIBER_QUEUE_MAX;
	s->max_per_user = opts->max_per_user ? opts->max_per_user : SERVER_MAX_PER_USER;
	s->buffer_total_max = opts->buffer_total_max ? opts->buffer_total_max
						     : SERVER_BUFFER_TOTAL_MAX;
	s->idle_timeout_usec = opts->idle_timeout_usec;
	if (opts->access)
		s->access = *opts->access;
	else
		peer_access_init(&s->access, NULL, NULL, NULL);
	r = opts->path ? listen_path(s, opts, err) : adopt_fd(s, opts->fd, err);
	if (r < 0) {
		sd_event_unref(s->event);
		free(s);
		return r;
	}
	r = sd_event_add_io(e, &s->listen_src, s->fd, EPOLLIN, on_accept, s);
	if (r >= 0)
		r = sd_event_source_set_priority(s->listen_src, PRIORITY_FRESH);
	if (r >= 0 && s->idle_timeout_usec)
		r = sd_event_add_time_relative(e, &s->idle_src, CLOCK_MONOTONIC, sweep_period(s),
					       100 * 1000, on_idle_sweep, s);
	if (r >= 0 && s->idle_src)
		r = sd_event_source_set_enabled(s->idle_src, SD_EVENT_ON);

	if (r < 0) {
		bw_error_set(err, r, "socket %s: cannot watch it: %s",
			     s->path ? s->path : "(inherited)", strerror(-r));
		if (!opts->path)
			s->fd = -1;	/* the caller keeps an fd we failed to adopt */
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void server_free(struct server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->clients) {
		s->clients->busy = 0;
		s->clients->dead = true;
		client_free(s->clients);
	}
	sd_event_source_disable_unref(s->retry_src);
	sd_event_source_disable_unref(s->idle_src);

	sd_event_source_disable_unref(s->listen_src);
	if (s->fd >= 0)
		close(s->fd);
	/* Only our own socket file: a successor may already have bound the path. */
	if (s->path && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	sd_event_unref(s->event);
	free(s);
}

/* ---- broadcast and per-client API ------------------------------------- */

/* Queue @line for subscriber @c, dropping it when that would overflow its bound. */
static int subscriber_queue(struct server_client *c, const char *line, size_t n)
{
	struct server *s = c->srv;
	int r;

	/* An empty queue takes any one line: a sample larger than the bound still goes out. */
	if (c->out_len && c->out_len + n > s->sub_queue_max) {
		s->stats.dropped_subscribers++;
		limit_hit(s, SERVER_LIMIT_SUB_QUEUE, &c->cred, "a subscriber %zu bytes behind: "
			  "dropped", c->out_len);
		client_close(c);
		return -ENOBUFS;
	}
	r = client_queue_line(c, line, n);
	if (r == 0)
		client_update_events(c);
	return r;
}

int server_broadcast(struct server *s, json_t *msg)
{
	struct server_client *c, *next;
	char *line;
	size_t n;
	int sent = 0;

	line = msg ? dump_line(msg, &n) : NULL;
	if (!line)
		return msg ? -ENOMEM : -EINVAL;
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (!c->subscriber || c->dead)
			continue;
		if (subscriber_queue(c, line, n) == 0)
			sent++;
	}
	free(line);
	return sent;
}

int server_client_send(struct server_client *c, json_t *msg)
{
	char *line;
	size_t n;
	int r;

	if (c->dead)
		return -ECONNRESET;
	line = msg ? dump_line(msg, &n) : NULL;
	if (!line)
		return msg ? -ENOMEM : -EINVAL;
	if (c->subscriber) {
		r = subscriber_queue(c, line, n);
	} else {
		r = client_queue_line(c, line, n);
		if (r == 0)
			client_update_events(c);
	}
	free(line);
	return r;
}

void server_get_stats(const struct server *s, struct server_stats *st)
{
	*st = s->stats;
}

const char *server_path(const struct server *s)
{
	return s->path;
}

void server_client_subscribe(struct server_client *c)
{
	if (c->subscriber || c->dead)
		return;
	c->subscriber = true;
	c->srv->stats.subscribers++;
}

void server_client_unsubscribe(struct server_client *c)
{
	if (!c->subscriber)
		return;
	c->subscriber = false;
	c->srv->stats.subscribers--;
}

bool server_client_is_subscriber(const struct server_client *c)
{
	return c->subscriber;
}

void server_client_set_data(struct server_client *c, void *data)
{
	c->data = data;
}

void *server_client_get_data(const struct server_client *c)
{
	return c->data;
}

const struct peer_cred *server_client_cred(const struct server_client *c)
{
	return &c->cred;
}
