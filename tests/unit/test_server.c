/* SPDX-License-Identifier: MIT */
/*
 * The socket server on a real sd-event loop (in its own thread) with real
 * clients on a temporary socket; the scx_stats envelope; sd_notify helpers.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "notify.h"
#include "scx_stats.h"
#include "server.h"
#include "watch.h"
#include "util_mem.h"

/* A client read that takes longer than this is a failure, not a hang. */
#define IO_TIMEOUT_SEC 10

/* ---- the server thread ------------------------------------------------ */

struct harness {
	char dir[64];
	char path[128];
	struct server_opts opts;
	bool no_scx;		/* serve without scx callbacks */
	pthread_t thread;
	int stop_fd;
	sem_t ready;
	int new_r;
	struct bw_error err;
	sd_event *e;
	struct server *srv;
	unsigned int gone;	/* client_gone calls */
};

static json_t *handle(void *userdata, struct server_client *c, const char *cmd, json_t *req)
{
	struct harness *h = userdata;

	if (!strcmp(cmd, "echo"))
		return json_pack("{s:b, s:s, s:O}", "ok", 1, "cmd", cmd, "req", req);
	if (!strcmp(cmd, "subscribe")) {
		server_client_subscribe(c);
		ck_assert(server_client_is_subscriber(c));
		return json_pack("{s:b, s:b}", "ok", 1, "subscribed", 1);
	}
	if (!strcmp(cmd, "unsubscribe")) {
		server_client_unsubscribe(c);
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(cmd, "blast")) {
		json_int_t count = json_integer_value(json_object_get(req, "count"));
		json_int_t size = json_integer_value(json_object_get(req, "size"));
		char *pad = malloc((size_t)size + 1);
		json_int_t i, sent = 0;

		memset(pad, 'p', (size_t)size);
		pad[size] = '\0';
		for (i = 0; i < count; i++) {
			json_t *msg = json_pack("{s:I, s:s}", "tick", i, "pad", pad);
			int n = server_broadcast(h->srv, msg);

			ck_assert_int_ge(n, 0);
			sent += n;
			json_decref(msg);
		}
		free(pad);
		return json_pack("{s:b, s:I}", "ok", 1, "sent", sent);
	}
	if (!strcmp(cmd, "send")) {
		json_t *msg = json_pack("{s:b}", "unsolicited", 1);
		int r = server_client_send(c, msg);

		json_decref(msg);
		ck_assert_ptr_null(server_client_get_data(c));
		server_client_set_data(c, h);
		ck_assert_ptr_eq(server_client_get_data(c), h);
		return json_pack("{s:b, s:i}", "ok", 1, "r", r);
	}
	if (!strcmp(cmd, "stats")) {
		struct server_stats st;

		server_get_stats(h->srv, &st);
		return json_pack("{s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I}",
				 "ok", 1,
				 "clients", st.clients, "subscribers", st.subscribers,
				 "accepted", (json_int_t)st.accepted,
				 "requests", (json_int_t)st.requests,
				 "dropped", (json_int_t)st.dropped_subscribers,
				 "rejected", (json_int_t)st.rejected_clients, "gone", h->gone,
				 "hit_max_clients", (json_int_t)st.limit_hits[SERVER_LIMIT_MAX_CLIENTS],
				 "hit_per_user", (json_int_t)st.limit_hits[SERVER_LIMIT_PER_USER],
				 "hit_idle", (json_int_t)st.limit_hits[SERVER_LIMIT_IDLE],
				 "hit_buffer_total",
				 (json_int_t)st.limit_hits[SERVER_LIMIT_BUFFER_TOTAL],
				 "hit_forbidden", (json_int_t)st.limit_hits[SERVER_LIMIT_FORBIDDEN]);
	}
	if (!strcmp(cmd, "null"))
		return NULL;
	return server_reply_error("unknown_cmd", "unknown command \"%s\"", cmd);
}

/* The watches behind the scx_stats fields: a counter, a per-CPU gauge, a u64 beyond 2^63. */
static struct bw_watch_set *scx_watch_set(void)
{
	static const struct bw_watch watches[] = {
		{ .map_suffix = ".bss", .field = "x", .agg = BW_AGG_SCALAR_COUNTER, .label = "x" },
		{ .map_suffix = "pc", .field = "y", .agg = BW_AGG_PERCPU, .label = "y" },
		{ .map_suffix = ".bss", .field = "big", .agg = BW_AGG_SCALAR_COUNTER, .label = "big" },
		{ .map_suffix = "pc", .field = "sum", .agg = BW_AGG_PERCPU_COUNTER, .label = "sum" },
	};
	struct bw_watch_set *set = bw_watch_set_new();

	for (size_t i = 0; i < sizeof(watches) / sizeof(watches[0]); i++)
		ck_assert_int_eq(bw_watch_set_add(set, &watches[i], NULL), 0);
	return set;
}

static json_t *scx_metrics(void *userdata)
{
	struct bw_watch_set *set = scx_watch_set();
	/* sum: a per-CPU sum beyond 64 bits fits no u64 and is left out. */
	json_t *reply = json_pack("{s:{s:s}, s:{s:i, s:f, s:i, s:s, s:s}}", "window", "object", "bw",
				  "metrics", "bw_x", 5, "bw_y_avg", 1.5, "bw_y_max", 7, "bw_big",
				  "18446744073709551615", "bw_sum", "18446744073709551616");
	json_t *values = scx_stats_values(set, reply);

	(void)userdata;
	json_decref(reply);
	bw_watch_set_free(set);
	return values;
}

static json_t *scx_fields(void *userdata)
{
	struct bw_watch_set *set = scx_watch_set();
	json_t *fields = scx_stats_fields(set, NULL);

	(void)userdata;
	bw_watch_set_free(set);
	return fields;
}

static void client_gone(void *userdata, struct server_client *c)
{
	struct harness *h = userdata;

	(void)c;
	h->gone++;
}

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	return sd_event_exit(userdata, 0);
}

static void *server_thread(void *arg)
{
	struct harness *h = arg;
	struct server_handlers handlers = {
		.request = handle,
		.scx_metrics = h->no_scx ? NULL : scx_metrics,
		.scx_meta_fields = h->no_scx ? NULL : scx_fields,
		.client_gone = client_gone,
	};

	ck_assert_int_ge(sd_event_new(&h->e), 0);
	h->new_r = server_new(h->e, &h->opts, &handlers, h, &h->srv, &h->err);
	if (h->new_r < 0) {
		sem_post(&h->ready);
		sd_event_unref(h->e);
		return NULL;
	}
	ck_assert_int_ge(sd_event_add_io(h->e, NULL, h->stop_fd, EPOLLIN, on_stop, h->e), 0);
	sem_post(&h->ready);
	ck_assert_int_ge(sd_event_loop(h->e), 0);
	server_free(h->srv);
	sd_event_unref(h->e);
	return NULL;
}

static void harness_init(struct harness *h)
{
	const struct server_opts init = SERVER_OPTS_INIT;

	memset(h, 0, sizeof(*h));
	strcpy(h->dir, "/tmp/bw_server_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->path, sizeof(h->path), "%s/s.sock", h->dir);
	h->opts = init;
	h->opts.path = h->path;
}

static void harness_start(struct harness *h)
{
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(h->stop_fd, 0);
	sem_init(&h->ready, 0, 0);
	ck_assert_int_eq(pthread_create(&h->thread, NULL, server_thread, h), 0);
	sem_wait(&h->ready);
	ck_assert_msg(h->new_r == 0, "server_new: %s", h->err.msg);
}

static void harness_stop(struct harness *h)
{
	uint64_t one = 1;
	struct stat st;

	ck_assert_int_eq(write(h->stop_fd, &one, sizeof(one)), sizeof(one));
	ck_assert_int_eq(pthread_join(h->thread, NULL), 0);
	close(h->stop_fd);
	sem_destroy(&h->ready);
	/* server_free removed the socket file it made. */
	ck_assert_int_eq(stat(h->path, &st), -1);
	rmdir(h->dir);
}

/* ---- clients ---------------------------------------------------------- */

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
};

static int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void conn_open(struct conn *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = connect_path(path);
	ck_assert_msg(c->fd >= 0, "connect %s: %s", path, strerror(errno));
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);

		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		data += w;
		len -= (size_t)w;
	}
}

static void conn_send(struct conn *c, const char *text)
{
	send_all(c->fd, text, strlen(text));
}

/* The next line without its '\n' (malloc'd), or NULL at EOF (*eof) or on error/timeout. */
static char *conn_line_eof(struct conn *c, bool *eof)
{
	*eof = false;
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t got;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = strndup(c->buf, n);

			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->cap - c->len < 65536) {
			c->cap = c->cap * 2 + 65536;
			c->buf = realloc(c->buf, c->cap);
		}
		got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (got == 0) {
			*eof = true;
			return NULL;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return NULL;
		c->len += (size_t)got;
	}
}

static char *conn_line(struct conn *c)
{
	bool eof;

	return conn_line_eof(c, &eof);
}

static json_t *conn_reply(struct conn *c)
{
	char *line = conn_line(c);
	json_error_t jerr;
	json_t *v;

	ck_assert_msg(line != NULL, "no reply line (%s)", strerror(errno));
	ck_assert_ptr_null(strchr(line, '\n'));
	v = json_loads(line, 0, &jerr);
	ck_assert_msg(v != NULL, "reply is not JSON: %s: %.200s", jerr.text, line);
	free(line);
	return v;
}

static json_t *request(struct conn *c, const char *text)
{
	conn_send(c, text);
	return conn_reply(c);
}

static void assert_error(json_t *reply, const char *code)
{
	ck_assert_msg(json_is_false(json_object_get(reply, "ok")), "ok is not false");
	ck_assert_str_eq(json_string_value(json_object_get(reply, "error")), code);
	ck_assert(json_is_string(json_object_get(reply, "message")));
	ck_assert_uint_eq(json_object_size(reply), 3);
	json_decref(reply);
}

static void assert_echo(json_t *reply, const char *key, json_int_t value)
{
	ck_assert_msg(json_is_true(json_object_get(reply, "ok")), "not ok: %s",
		      json_string_value(json_object_get(reply, "message")));
	ck_assert_str_eq(json_string_value(json_object_get(reply, "cmd")), "echo");
	if (key)
		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(reply, "req"),
								    key)), value);
	json_decref(reply);
}

static json_int_t stat_of(struct conn *c, const char *key)
{
	json_t *r = request(c, "{\"cmd\":\"stats\"}\n");
	json_int_t v = json_integer_value(json_object_get(r, key));

	json_decref(r);
	return v;
}

/* Poll the stats until @key reaches @want (the server works in its own thread). */
static void wait_stat(struct conn *c, const char *key, json_int_t want)
{
	json_int_t v = -1;
	int i;

	for (i = 0; i < 500; i++) {
		v = stat_of(c, key);
		if (v == want)
			return;
		usleep(10000);
	}
	ck_abort_msg("stat %s is %lld, want %lld", key, (long long)v, (long long)want);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_requests)
{
	struct harness h;
	struct conn c;
	json_t *r;
	char deep[256];
	size_t i, o;

	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);

	/* Pipelined lines, blank lines and CRLF: one reply per request, in order. */
	conn_send(&c, "{\"cmd\":\"echo\",\"n\":1}\n{\"cmd\":\"echo\",\"n\":2}\n\n  \t \n"
		  "{\"cmd\":\"echo\",\"n\":3}\r\n");
	assert_echo(conn_reply(&c), "n", 1);
	assert_echo(conn_reply(&c), "n", 2);
	assert_echo(conn_reply(&c), "n", 3);

	/* One byte per write. */
	{
		const char *text = "{\"cmd\":\"echo\",\"n\":4}\n";

		for (i = 0; text[i]; i++) {
			send_all(c.fd, text + i, 1);
			usleep(200);
		}
		assert_echo(conn_reply(&c), "n", 4);
	}

	/* Errors, each followed by a working request on the same connection. */
	assert_error(request(&c, "{\n"), "bad_json");
	assert_echo(request(&c, "{\"cmd\":\"echo\",\"n\":5}\n"), "n", 5);
	assert_error(request(&c, "not json at all\n"), "bad_json");
	assert_error(request(&c, "{\"cmd\":\"echo\"} trailing\n"), "bad_json");
	assert_error(request(&c, "{\"cmd\":\"echo\",\"cmd\":\"x\"}\n"), "bad_json");
	assert_error(request(&c, "{\"cmd\":\"echo\",\"s\":\"a\\u0000b\"}\n"), "bad_json");
	/* Invalid UTF-8: the reply is still valid JSON (conn_reply parses it). */
	assert_error(request(&c, "{\"cmd\":\"ech\xff\xfe\"}\n"), "bad_json");
	assert_error(request(&c, "[1,2]\n"), "bad_args");
	assert_error(request(&c, "\"cmd\"\n"), "bad_args");
	assert_error(request(&c, "42\n"), "bad_args");
	assert_error(request(&c, "{}\n"), "bad_args");
	assert_error(request(&c, "{\"x\":1}\n"), "bad_args");
	assert_error(request(&c, "{\"cmd\":5}\n"), "bad_args");
	assert_error(request(&c, "{\"cmd\":null}\n"), "bad_args");
	assert_error(request(&c, "{\"cmd\":\"nope\"}\n"), "unknown_cmd");
	assert_error(request(&c, "{\"cmd\":\"null\"}\n"), "internal");
	assert_echo(request(&c, "{\"cmd\":\"echo\",\"n\":6}\n"), "n", 6);

	/* Depth: 32 levels parse, 33 are refused before jansson sees them. */
	o = (size_t)sprintf(deep, "{\"cmd\":\"echo\",\"d\":");
	for (i = 0; i < 31; i++)
		deep[o++] = '[';
	for (i = 0; i < 31; i++)
		deep[o++] = ']';
	strcpy(deep + o, "}\n");
	assert_echo(request(&c, deep), NULL, 0);
	o = (size_t)sprintf(deep, "{\"cmd\":\"echo\",\"d\":");
	for (i = 0; i < 32; i++)
		deep[o++] = '[';
	for (i = 0; i < 32; i++)
		deep[o++] = ']';
	strcpy(deep + o, "}\n");
	r = request(&c, deep);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "message")),
				     "deeper than 32"));
	assert_error(r, "bad_json");
	/* Brackets inside strings do not count. */
	assert_echo(request(&c, "{\"cmd\":\"echo\",\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\""
			    "[[[\"}\n"), NULL, 0);
	/* A very deep document (jansson's own limit is far higher): refused fast. */
	{
		size_t n = 60000;
		char *text = malloc(n + 2);

		memset(text, '[', n);
		text[n] = '\n';
		text[n + 1] = '\0';
		assert_error(request(&c, text), "bad_json");
		free(text);
	}

	/* An unsolicited line comes before the reply of the request that caused it. */
	conn_send(&c, "{\"cmd\":\"send\"}\n");
	r = conn_reply(&c);
	ck_assert(json_is_true(json_object_get(r, "unsolicited")));
	json_decref(r);
	r = conn_reply(&c);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "r")), 0);
	json_decref(r);

	ck_assert_int_eq(stat_of(&c, "clients"), 1);
	/* Requests counted: every non-blank line answered so far, plus this one. */
	ck_assert_int_eq(stat_of(&c, "requests"), 28);
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

START_TEST(test_too_large)
{
	struct harness h;
	struct conn c;
	json_t *r;
	char *big;
	size_t n = 1u << 20, o;

	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);

	/* 1 MiB line, then a good request: too_large once, then the echo. */
	big = malloc(n + 256);
	memset(big, 'a', n);
	strcpy(big + n, "\n{\"cmd\":\"echo\",\"n\":1}\n");
	conn_send(&c, big);
	r = conn_reply(&c);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "message")), "65536"));
	assert_error(r, "too_large");
	assert_echo(conn_reply(&c), "n", 1);

	/* Exactly SERVER_REQUEST_MAX bytes before the newline: served. */
	o = (size_t)sprintf(big, "{\"cmd\":\"echo\",\"n\":2,\"pad\":\"");
	memset(big + o, 'x', SERVER_REQUEST_MAX - o - 2);
	strcpy(big + SERVER_REQUEST_MAX - 2, "\"}\n");
	ck_assert_uint_eq(strlen(big), SERVER_REQUEST_MAX + 1);
	assert_echo(request(&c, big), "n", 2);
	/* One byte more: refused. */
	o = (size_t)sprintf(big, "{\"cmd\":\"echo\",\"n\":3,\"pad\":\"");
	memset(big + o, 'x', SERVER_REQUEST_MAX - o - 1);
	strcpy(big + SERVER_REQUEST_MAX - 1, "\"}\n");
	assert_error(request(&c, big), "too_large");
	/* A 70 KiB line whose newline arrives in the same read as its start: refused too. */
	memset(big, ' ', 70000);
	strcpy(big + 70000, "\n{\"cmd\":\"echo\",\"n\":4}\n");
	conn_send(&c, big);
	assert_error(conn_reply(&c), "too_large");
	assert_echo(conn_reply(&c), "n", 4);
	/* Three oversized lines in a row: three replies, then still usable. */
	for (o = 0; o < 3; o++) {
		memset(big, '{', 100000);
		big[100000] = '\n';
		send_all(c.fd, big, 100001);
	}
	for (o = 0; o < 3; o++)
		assert_error(conn_reply(&c), "too_large");
	assert_echo(request(&c, "{\"cmd\":\"echo\",\"n\":5}\n"), "n", 5);
	free(big);
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

#define NCLIENTS 200

START_TEST(test_many_clients)
{
	static struct conn c[NCLIENTS];
	struct harness h;
	struct conn ctl;
	char text[64];
	unsigned int i;

	harness_init(&h);
	h.opts.max_per_user = NCLIENTS + 1;
	harness_start(&h);
	/* All connect before any is answered (the backlog holds them), then all ask. */
	for (i = 0; i < NCLIENTS; i++)
		conn_open(&c[i], h.path);
	for (i = 0; i < NCLIENTS; i++) {
		snprintf(text, sizeof(text), "{\"cmd\":\"echo\",\"id\":%u}\n", i);
		conn_send(&c[i], text);
	}
	for (i = NCLIENTS; i-- > 0;)
		assert_echo(conn_reply(&c[i]), "id", i);
	conn_open(&ctl, h.path);
	ck_assert_int_eq(stat_of(&ctl, "clients"), NCLIENTS + 1);
	ck_assert_int_eq(stat_of(&ctl, "accepted"), NCLIENTS + 1);
	for (i = 0; i < NCLIENTS; i++)
		conn_close(&c[i]);
	wait_stat(&ctl, "clients", 1);
	ck_assert_int_eq(stat_of(&ctl, "gone"), NCLIENTS);
	conn_close(&ctl);
	harness_stop(&h);
}
END_TEST

START_TEST(test_subscriber_drop)
{
	struct harness h;
	struct conn reader, sleeper, ctl;
	json_t *r;
	unsigned int batch, line;
	json_int_t tick = 0;
	bool eof = false;
	char *l;

	harness_init(&h);
	harness_start(&h);
	conn_open(&reader, h.path);
	conn_open(&sleeper, h.path);
	conn_open(&ctl, h.path);
	r = request(&reader, "{\"cmd\":\"subscribe\"}\n");
	ck_assert(json_is_true(json_object_get(r, "subscribed")));
	json_decref(r);
	json_decref(request(&sleeper, "{\"cmd\":\"subscribe\"}\n"));
	/* Subscribing twice is harmless. */
	json_decref(request(&sleeper, "{\"cmd\":\"subscribe\"}\n"));
	ck_assert_int_eq(stat_of(&ctl, "subscribers"), 2);

	/* 256 KiB per batch: the reader keeps up, the sleeper's queue passes 1 MiB. */
	for (batch = 0; batch < 40; batch++) {
		r = request(&ctl, "{\"cmd\":\"blast\",\"count\":4,\"size\":65536}\n");
		json_decref(r);
		for (line = 0; line < 4; line++) {
			r = conn_reply(&reader);
			ck_assert_int_eq(json_integer_value(json_object_get(r, "tick")), line);
			ck_assert_uint_eq(json_string_length(json_object_get(r, "pad")), 65536);
			json_decref(r);
			tick++;
		}
		if (stat_of(&ctl, "dropped") == 1)
			break;
	}
	ck_assert_uint_lt(batch, 40);
	/* The sleeper was dropped: it still has what was sent, then EOF. */
	ck_assert_uint_ge(batch, 3);
	ck_assert_int_eq(stat_of(&ctl, "subscribers"), 1);
	ck_assert_int_eq(stat_of(&ctl, "clients"), 2);
	for (;;) {
		l = conn_line_eof(&sleeper, &eof);
		if (!l)
			break;
		free(l);
	}
	ck_assert_msg(eof, "the dropped subscriber was not closed: %s", strerror(errno));
	/* The reader keeps receiving. */
	r = request(&ctl, "{\"cmd\":\"blast\",\"count\":2,\"size\":10}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "sent")), 2);
	json_decref(r);
	for (line = 0; line < 2; line++) {
		r = conn_reply(&reader);
		ck_assert_int_eq(json_integer_value(json_object_get(r, "tick")), line);
		json_decref(r);
	}
	/* Unsubscribed: no more lines (the next line is the reply). */
	json_decref(request(&reader, "{\"cmd\":\"unsubscribe\"}\n"));
	r = request(&ctl, "{\"cmd\":\"blast\",\"count\":3,\"size\":1}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "sent")), 0);
	json_decref(r);
	assert_echo(request(&reader, "{\"cmd\":\"echo\",\"n\":9}\n"), "n", 9);
	ck_assert_int_eq(stat_of(&ctl, "subscribers"), 0);
	conn_close(&reader);
	conn_close(&sleeper);
	conn_close(&ctl);
	harness_stop(&h);
}
END_TEST

static void subscribe(struct conn *c)
{
	json_t *r = request(c, "{\"cmd\":\"subscribe\"}\n");

	ck_assert(json_is_true(json_object_get(r, "subscribed")));
	json_decref(r);
}

START_TEST(test_max_clients)
{
	struct harness h;
	struct conn c[3], extra;
	json_t *r;
	bool eof;
	unsigned int i;

	harness_init(&h);
	h.opts.max_clients = 3;
	harness_start(&h);
	for (i = 0; i < 3; i++) {
		conn_open(&c[i], h.path);
		assert_echo(request(&c[i], "{\"cmd\":\"echo\"}\n"), NULL, 0);
		/* Subscribed: not the idle client a limit may close. */
		subscribe(&c[i]);
	}
	conn_open(&extra, h.path);
	r = conn_reply(&extra);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "message")),
				     "too many clients (3, at most 256 per user)"));
	assert_error(r, "internal");
	ck_assert_ptr_null(conn_line_eof(&extra, &eof));
	ck_assert(eof);
	conn_close(&extra);
	ck_assert_int_eq(stat_of(&c[0], "rejected"), 1);
	ck_assert_int_eq(stat_of(&c[0], "hit_max_clients"), 1);
	/* A place frees up: the next client is served. */
	conn_close(&c[2]);
	wait_stat(&c[0], "clients", 2);
	conn_open(&c[2], h.path);
	assert_echo(request(&c[2], "{\"cmd\":\"echo\",\"n\":1}\n"), "n", 1);
	for (i = 0; i < 3; i++)
		conn_close(&c[i]);
	harness_stop(&h);
}
END_TEST

/* Whether the server closed @c: EOF (after any lines it still had queued). */
static bool conn_closed_by_server(struct conn *c)
{
	bool eof = false;
	char *line;

	while ((line = conn_line_eof(c, &eof)))
		free(line);
	return eof;
}

/*
 * At a connection limit an idle client makes room: 1,030 idle connections
 * of one user never lock the next client out, whether the per-user or the
 * global limit is the one reached.  Busy clients are never taken.
 */
START_TEST(test_idle_evicted_at_limit)
{
	enum { NIDLE = 1030 };
	static struct conn idle[NIDLE];
	struct harness h;
	struct conn fresh, busy;
	unsigned int closed = 0;
	struct rlimit rl;

	/* Both ends of every connection live in this process. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * NIDLE + 64) {
		rl.rlim_cur = rl.rlim_max;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur >= 2 * NIDLE + 64, "RLIMIT_NOFILE %llu: too low for %d "
		      "connections", (unsigned long long)rl.rlim_cur, NIDLE);

	harness_init(&h);
	h.opts.max_clients = 1024;
	harness_start(&h);
	conn_open(&busy, h.path);
	subscribe(&busy);	/* a subscriber is never closed to make room */
	for (unsigned int i = 0; i < NIDLE; i++)
		conn_open(&idle[i], h.path);
	for (int round = 0; round < 3; round++) {
		conn_open(&fresh, h.path);
		assert_echo(request(&fresh, "{\"cmd\":\"echo\",\"n\":7}\n"), "n", 7);
		conn_close(&fresh);
	}
	for (unsigned int i = 0; i < NIDLE; i++) {
		struct timeval tv = { .tv_usec = 1000 };

		setsockopt(idle[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (conn_closed_by_server(&idle[i]))
			closed++;
		conn_close(&idle[i]);
	}
	/* All but 255 (256 per user, one of them the busy client) were closed for others. */
	ck_assert_uint_ge(closed, NIDLE - 255);
	conn_send(&busy, "{\"cmd\":\"stats\"}\n");
	{
		json_t *r = conn_reply(&busy);

		ck_assert_int_ge(json_integer_value(json_object_get(r, "hit_per_user")), NIDLE - 255);
		json_decref(r);
	}
	conn_close(&busy);
	harness_stop(&h);
}
END_TEST

/* A busy user at its limit is refused; another connection of it waits for nothing. */
START_TEST(test_per_user_limit)
{
	struct harness h;
	struct conn c[2], extra;
	json_t *r;

	harness_init(&h);
	h.opts.max_per_user = 2;
	harness_start(&h);
	for (int i = 0; i < 2; i++) {
		conn_open(&c[i], h.path);
		subscribe(&c[i]);
	}
	conn_open(&extra, h.path);
	r = conn_reply(&extra);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "message")),
				     "at most 2 per user"));
	assert_error(r, "internal");
	ck_assert(conn_closed_by_server(&extra));
	conn_close(&extra);
	conn_send(&c[0], "{\"cmd\":\"stats\"}\n");
	r = conn_reply(&c[0]);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "hit_per_user")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "rejected")), 1);
	json_decref(r);
	conn_close(&c[0]);
	conn_close(&c[1]);
	harness_stop(&h);
}
END_TEST

/* A client that says nothing is closed after the idle timeout; a subscriber is not. */
START_TEST(test_idle_timeout)
{
	struct harness h;
	struct conn quiet, sub, ctl;
	struct timespec t0, t1;
	double waited;

	harness_init(&h);
	h.opts.idle_timeout_usec = 400 * 1000;
	harness_start(&h);
	conn_open(&sub, h.path);
	{
		json_t *r = request(&sub, "{\"cmd\":\"subscribe\"}\n");

		ck_assert(json_is_true(json_object_get(r, "subscribed")));
		json_decref(r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	conn_open(&quiet, h.path);
	ck_assert(conn_closed_by_server(&quiet));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_double_ge(waited, 0.39);
	conn_close(&quiet);
	/* Long past the timeout, the subscriber still gets what is sent. */
	conn_open(&ctl, h.path);
	assert_echo(request(&ctl, "{\"cmd\":\"echo\"}\n"), NULL, 0);
	{
		json_t *r = request(&ctl, "{\"cmd\":\"blast\",\"count\":1,\"size\":8}\n");

		ck_assert_int_eq(json_integer_value(json_object_get(r, "sent")), 1);
		json_decref(r);
	}
	ck_assert_int_ge(stat_of(&ctl, "hit_idle"), 1);
	{
		json_t *r = conn_reply(&sub);

		ck_assert_int_eq(json_integer_value(json_object_get(r, "tick")), 0);
		json_decref(r);
	}
	conn_close(&ctl);
	conn_close(&sub);
	harness_stop(&h);
}
END_TEST

/*
 * Clients that pipeline requests and never read: together they may hold
 * at most buffer_total_max; the ones holding most are closed, a reader
 * is served all along.
 */
START_TEST(test_buffer_total)
{
	enum { NPIPE = 40 };
	static struct conn pipe_c[NPIPE];
	static char burst[64 * 1024];
	struct harness h;
	struct conn ctl;
	size_t n = 0;
	json_int_t hits;

	harness_init(&h);
	h.opts.max_per_user = NPIPE + 2;
	h.opts.queue_max = 256 * 1024;
	h.opts.buffer_total_max = 2u << 20;
	harness_start(&h);
	while (n + 64 < sizeof(burst)) {
		static const char line[] = "{\"cmd\":\"echo\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxx\"}\n";

		memcpy(burst + n, line, sizeof(line) - 1);
		n += sizeof(line) - 1;
	}
	burst[n] = '\0';
	for (int i = 0; i < NPIPE; i++) {
		struct timeval tv = { .tv_usec = 100 * 1000 };

		conn_open(&pipe_c[i], h.path);
		setsockopt(pipe_c[i].fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		/* As much as the socket takes; the server stops reading a full client. */
		for (int k = 0; k < 16; k++)
			if (send(pipe_c[i].fd, burst, n, MSG_NOSIGNAL) < 0)
				break;
	}
	conn_open(&ctl, h.path);
	assert_echo(request(&ctl, "{\"cmd\":\"echo\",\"n\":1}\n"), "n", 1);
	hits = stat_of(&ctl, "hit_buffer_total");
	/* 40 clients could queue 10 MiB; 2 MiB is the bound. */
	ck_assert_int_ge(hits, NPIPE - 2 * 1024 / 256 - 2);
	for (int i = 0; i < NPIPE; i++)
		conn_close(&pipe_c[i]);
	wait_stat(&ctl, "clients", 1);
	conn_close(&ctl);
	harness_stop(&h);
}
END_TEST

/* reset and reload need a control peer; everything else is served to anyone. */
START_TEST(test_forbidden)
{
	struct harness h;
	struct peer_access only_nobody;
	struct conn c;
	json_t *r;

	ck_assert_int_eq(peer_access_init(&only_nobody, "65534", NULL, NULL), 0);
	harness_init(&h);
	h.opts.access = getuid() == 65534 ? NULL : &only_nobody;
	harness_start(&h);
	conn_open(&c, h.path);
	for (int i = 0; i < 2; i++) {
		r = request(&c, i ? "{\"cmd\":\"reload\"}\n" : "{\"cmd\":\"reset\"}\n");
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "message")),
					     "only ControlUsers= and ControlGroups= may send it"));
		assert_error(r, "forbidden");
	}
	assert_echo(request(&c, "{\"cmd\":\"echo\",\"n\":2}\n"), "n", 2);
	ck_assert_int_eq(stat_of(&c, "hit_forbidden"), 2);
	conn_close(&c);
	harness_stop(&h);

	/* The default list (root and our own user) lets us through to the handler. */
	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);
	assert_error(request(&c, "{\"cmd\":\"reset\"}\n"), "unknown_cmd");
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

START_TEST(test_half_close)
{
	struct harness h;
	struct conn c, sub, ctl;
	json_t *r;
	bool eof;

	harness_init(&h);
	harness_start(&h);
	/* The last line needs no newline when the client shuts down its side. */
	conn_open(&c, h.path);
	conn_send(&c, "{\"cmd\":\"echo\",\"n\":1}\n{\"cmd\":\"echo\",\"n\":2}");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	assert_echo(conn_reply(&c), "n", 1);
	assert_echo(conn_reply(&c), "n", 2);
	ck_assert_ptr_null(conn_line_eof(&c, &eof));
	ck_assert(eof);
	conn_close(&c);
	/* Nothing at all, then EOF: closed without a reply. */
	conn_open(&c, h.path);
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	ck_assert_ptr_null(conn_line_eof(&c, &eof));
	ck_assert(eof);
	conn_close(&c);

	/* A subscriber that shut down its write side keeps its stream. */
	conn_open(&sub, h.path);
	conn_open(&ctl, h.path);
	conn_send(&sub, "{\"cmd\":\"subscribe\"}");
	ck_assert_int_eq(shutdown(sub.fd, SHUT_WR), 0);
	json_decref(conn_reply(&sub));
	wait_stat(&ctl, "subscribers", 1);
	r = request(&ctl, "{\"cmd\":\"blast\",\"count\":1,\"size\":3}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "sent")), 1);
	json_decref(r);
	r = conn_reply(&sub);
	ck_assert_str_eq(json_string_value(json_object_get(r, "pad")), "ppp");
	json_decref(r);
	/* Once it closes entirely, the server lets it go. */
	conn_close(&sub);
	wait_stat(&ctl, "subscribers", 0);
	wait_stat(&ctl, "clients", 1);
	conn_close(&ctl);
	harness_stop(&h);
}
END_TEST

#define PIPELINED 30000

static void *pipeline_writer(void *arg)
{
	struct conn *c = arg;
	size_t cap = (size_t)PIPELINED * 40, o = 0;
	char *text = malloc(cap);
	unsigned int i;

	for (i = 0; i < PIPELINED; i++)
		o += (size_t)snprintf(text + o, cap - o, "{\"cmd\":\"echo\",\"n\":%u}\n", i);
	send_all(c->fd, text, o);
	free(text);
	return NULL;
}

/* A client writing far more than it reads: stalled, never dropped, all answered in order. */
START_TEST(test_backpressure)
{
	struct harness h;
	struct conn c;
	pthread_t writer;
	unsigned int i;

	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);
	ck_assert_int_eq(pthread_create(&writer, NULL, pipeline_writer, &c), 0);
	/* Let the replies pile up past the output bound first. */
	usleep(300000);
	for (i = 0; i < PIPELINED; i++) {
		json_t *r = conn_reply(&c);

		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "req"), "n")),
				 i);
		json_decref(r);
	}
	ck_assert_int_eq(pthread_join(writer, NULL), 0);
	ck_assert_int_eq(stat_of(&c, "requests"), PIPELINED + 1);
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

static const char *field_datum(json_t *fields, const char *name)
{
	return json_string_value(json_object_get(json_object_get(fields, name), "datum"));
}

START_TEST(test_scx_stats)
{
	static const char stats_line[] =
		"{\"errno\":0,\"args\":{\"resp\":{\"x\":5,\"y_avg\":1.5,\"y_max\":7,"
		"\"big\":18446744073709551615}}}";
	struct harness h;
	struct conn c;
	json_t *r, *top, *f;
	char *line;

	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);

	/* A u64 above 2^63 is a JSON number, as the crate's typed clients want. */
	conn_send(&c, "{\"req\":\"stats\"}\n");
	line = conn_line(&c);
	ck_assert_str_eq(line, stats_line);
	free(line);
	/* What the Rust client sends: args with string values. */
	conn_send(&c, "{\"req\":\"stats\",\"args\":{\"target\":\"top\",\"extra\":\"x\"}}\n");
	line = conn_line(&c);
	ck_assert_str_eq(line, stats_line);
	free(line);

	r = request(&c, "{\"req\":\"stats_meta\",\"args\":{}}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "errno")), 0);
	top = json_object_get(json_object_get(json_object_get(r, "args"), "resp"), "top");
	ck_assert_str_eq(json_string_value(json_object_get(top, "name")), "top");
	ck_assert_str_eq(json_string_value(json_object_get(top, "top")), "true");
	ck_assert(json_is_string(json_object_get(top, "desc")));
	f = json_object_get(top, "fields");
	/* Every field of the watch set, present or not (sum is left out of stats). */
	ck_assert_uint_eq(json_object_size(f), 5);
	ck_assert_str_eq(field_datum(f, "x"), "u64");
	ck_assert_str_eq(field_datum(f, "y_avg"), "float");
	ck_assert_str_eq(field_datum(f, "y_max"), "i64");
	ck_assert_str_eq(field_datum(f, "big"), "u64");
	ck_assert_str_eq(field_datum(f, "sum"), "u64");
	ck_assert(json_is_string(json_object_get(json_object_get(f, "x"), "desc")));
	json_decref(r);

	/* Errors: errno 22 and a message as the response, like the crate's server. */
	{
		static const char *const bad[] = {
			"{\"req\":\"stats\",\"args\":{\"target\":\"other\"}}\n",
			"{\"req\":\"nope\"}\n",
			"{\"req\":\"stats\",\"args\":{\"target\":5}}\n",
			"{\"req\":\"stats\",\"args\":[\"target\"]}\n",
			"{\"req\":5}\n",
			"{\"req\":null}\n",
			/* On a connection that speaks scx_stats, everything gets its envelope. */
			"\n",
			"   \n",
			"{not json\n",
			"[1]\n",
			"{\"cmd\":\"echo\"}\n",
		};
		unsigned int i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			r = request(&c, bad[i]);
			ck_assert_msg(json_integer_value(json_object_get(r, "errno")) == EINVAL,
				      "request %u: errno is not EINVAL", i);
			ck_assert(json_is_string(json_object_get(json_object_get(r, "args"), "resp")));
			ck_assert_uint_eq(json_object_size(r), 2);
			json_decref(r);
		}
	}
	r = request(&c, "{\"req\":\"stats\",\"args\":{\"target\":\"other\"}}\n");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_object_get(r, "args"),
								       "resp")),
				     "unknown stat target \"other\""));
	json_decref(r);
	conn_close(&c);

	/* On a fresh connection "cmd" wins over "req", and blank lines get no reply. */
	conn_open(&c, h.path);
	conn_send(&c, "\n");
	assert_echo(request(&c, "{\"req\":\"stats\",\"cmd\":\"echo\",\"n\":7}\n"), "n", 7);
	assert_error(request(&c, "{not json\n"), "bad_json");
	conn_close(&c);
	harness_stop(&h);

	/* No callbacks: ENODATA, and a stats_meta with no fields. */
	harness_init(&h);
	h.no_scx = true;
	harness_start(&h);
	conn_open(&c, h.path);
	r = request(&c, "{\"req\":\"stats\"}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "errno")), ENODATA);
	json_decref(r);
	r = request(&c, "{\"req\":\"stats_meta\"}\n");
	top = json_object_get(json_object_get(json_object_get(r, "args"), "resp"), "top");
	ck_assert_uint_eq(json_object_size(json_object_get(top, "fields")), 0);
	json_decref(r);
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

START_TEST(test_scx_stats_unit)
{
	json_t *fields, *meta, *env, *req;
	const struct scx_stats_source none = { 0 };

	meta = scx_stats_meta(json_object(), NULL);
	ck_assert_ptr_null(json_object_get(json_object_get(meta, "top"), "desc"));
	json_decref(meta);
	ck_assert_ptr_null(scx_stats_meta(NULL, "x"));

	fields = json_object();
	ck_assert_int_eq(scx_stats_meta_field(fields, "k", (enum scx_stats_kind)9, NULL), -EINVAL);
	ck_assert_int_eq(scx_stats_meta_field(NULL, "k", SCX_STATS_I64, NULL), -EINVAL);
	ck_assert_int_eq(scx_stats_meta_field(fields, "k", SCX_STATS_STRING, "d"), 0);
	json_decref(fields);

	env = scx_stats_envelope(0, NULL);
	ck_assert(json_is_null(json_object_get(json_object_get(env, "args"), "resp")));
	json_decref(env);

	req = json_pack("{s:s}", "req", "stats_meta");
	ck_assert(scx_stats_is_request(req));
	env = scx_stats_handle(&none, req);
	ck_assert_int_eq(json_integer_value(json_object_get(env, "errno")), 0);
	json_decref(env);
	json_decref(req);
	req = json_pack("{s:s, s:s}", "req", "stats", "cmd", "x");
	ck_assert(!scx_stats_is_request(req));
	json_decref(req);
	ck_assert(!scx_stats_is_request(NULL));
	/* A long unknown request name is cut in the message, mid-character or not. */
	{
		char name[300];
		json_t *resp;

		memset(name, 'n', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		memcpy(name + 63, "\xc3\xa9", 2);
		req = json_pack("{s:s}", "req", name);
		env = scx_stats_handle(&none, req);
		resp = json_object_get(json_object_get(env, "args"), "resp");
		ck_assert(json_is_string(resp));
		ck_assert_uint_lt(json_string_length(resp), 120);
		json_decref(env);
		json_decref(req);
	}
}
END_TEST

static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

START_TEST(test_socket_file)
{
	const struct server_opts init = SERVER_OPTS_INIT;
	struct server_opts o = init;
	struct server *s, *s2;
	struct bw_error err;
	struct stat st, st2;
	char dir[] = "/tmp/bw_server_XXXXXX", path[128], other[256];
	sd_event *e;
	int fd;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm1.sock", dir);
	ck_assert_int_ge(sd_event_new(&e), 0);
	umask(022);

	/* Mode 0660 despite the umask, and the group asked for. */
	o.path = path;
	o.gid = getgid();
	ck_assert_msg(server_new(e, &o, NULL, NULL, &s, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(server_path(s), path);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq(st.st_gid, getgid());
	/* Connects (the backlog takes it even before the loop runs). */
	fd = connect_path(path);
	ck_assert_int_ge(fd, 0);
	close(fd);

	/* A live socket is never taken over. */
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s2, &err), -EADDRINUSE);
	ck_assert_ptr_null(s2);
	snprintf(other, sizeof(other), "socket %s: another process is listening on it", path);
	ck_assert_str_eq(err.msg, other);
	ck_assert_int_eq(lstat(path, &st2), 0);
	ck_assert_uint_eq(st2.st_ino, st.st_ino);
	server_free(s);
	ck_assert_int_eq(lstat(path, &st), -1);

	/* A stale socket file (its server died) is replaced. */
	make_stale_socket(path);
	o.mode = 0600;
	o.gid = (gid_t)-1;
	ck_assert_msg(server_new(e, &o, NULL, NULL, &s, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	fd = connect_path(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* server_free leaves alone a file someone else put at the path since. */
	ck_assert_int_eq(unlink(path), 0);
	f = fopen(path, "w");
	fclose(f);
	server_free(s);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));

	/* Not a socket: refused and untouched. */
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err.msg, "exists and is not a socket"));
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);

	/* Bad paths and modes. */
	o.path = "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock";
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -ENAMETOOLONG);
	o.path = "";
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -ENAMETOOLONG);
	snprintf(other, sizeof(other), "%s/missing/dir/x.sock", dir);
	o.path = other;
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot bind"));
	o.path = path;
	o.mode = 04755;
	ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -EINVAL);
	ck_assert_int_eq(lstat(path, &st), -1);

	/* Adopting something that is not a listening socket: refused, the fd stays open. */
	{
		int p[2];

		ck_assert_int_eq(pipe(p), 0);
		o = init;
		o.fd = p[0];
		ck_assert_int_eq(server_new(e, &o, NULL, NULL, &s, &err), -ENOTSOCK);
		ck_assert_int_eq(fcntl(p[0], F_GETFD), 0);
		close(p[0]);
		close(p[1]);
	}
	sd_event_unref(e);
	rmdir(dir);
}
END_TEST

/* Runs @fn in a child so fds 3.. and LISTEN_* can be set freely; fn returns 0 or a failing line. */
static void in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child failed at line %d", WEXITSTATUS(status));
}

#define CHILD_CHECK(x) do { if (!(x)) return __LINE__ % 250 + 1; } while (0)

static int listen_child(void)
{
	struct server_opts o = SERVER_OPTS_INIT;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char pid[32], dir[] = "/tmp/bw_server_XXXXXX";
	struct bw_error err;
	struct server *s;
	sd_event *e;
	int fd, lfd, p[2];

	/* Nothing passed. */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	CHILD_CHECK(server_listen_fd_from_systemd(&fd, &err) == 0 && fd == -1);

	/* One listening socket on fd 3. */
	CHILD_CHECK(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/act.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHILD_CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHILD_CHECK(listen(lfd, 16) == 0);
	CHILD_CHECK(dup2(lfd, SD_LISTEN_FDS_START) == SD_LISTEN_FDS_START);
	close(lfd);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	CHILD_CHECK(server_listen_fd_from_systemd(&fd, &err) == 1 && fd == SD_LISTEN_FDS_START);
	CHILD_CHECK(getenv("LISTEN_FDS") == NULL);
	CHILD_CHECK(sd_event_new(&e) >= 0);
	o.fd = fd;
	CHILD_CHECK(server_new(e, &o, NULL, NULL, &s, &err) == 0);
	CHILD_CHECK(server_path(s) == NULL);
	CHILD_CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	lfd = connect_path(sa.sun_path);
	CHILD_CHECK(lfd >= 0);
	close(lfd);
	server_free(s);
	/* The adopted fd is closed, the socket file (systemd's) left in place. */
	CHILD_CHECK(fcntl(fd, F_GETFD) < 0);
	CHILD_CHECK(access(sa.sun_path, F_OK) == 0);
	unlink(sa.sun_path);
	rmdir(dir);

	/* Two fds: refused. */
	CHILD_CHECK(pipe(p) == 0);
	CHILD_CHECK(dup2(p[0], 3) == 3 && dup2(p[1], 4) == 4);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	CHILD_CHECK(server_listen_fd_from_systemd(&fd, &err) == -E2BIG);
	CHILD_CHECK(strstr(err.msg, "passed 2 sockets") != NULL);
	/* One fd that is a pipe: refused. */
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	CHILD_CHECK(server_listen_fd_from_systemd(&fd, &err) == -ENOTSOCK);
	/* LISTEN_PID of another process: not ours, nothing passed. */
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	CHILD_CHECK(server_listen_fd_from_systemd(&fd, &err) == 0);
	sd_event_unref(e);
	return 0;
}

START_TEST(test_listen_fds)
{
	in_child(listen_child);
}
END_TEST

/* Random bytes as requests: one error reply per non-blank line, the connection survives. */
START_TEST(test_garbage)
{
	struct harness h;
	struct conn c;
	static char buf[8192];
	unsigned int seed;

	harness_init(&h);
	harness_start(&h);
	conn_open(&c, h.path);
	for (seed = 1; seed <= 150; seed++) {
		size_t len = (seed * 131) % (sizeof(buf) - 64), i, start = 0;
		unsigned int expect = 0;

		test_fill_random(buf, len, seed);
		if (seed % 2)
			for (i = 0; i < len; i++)
				if ((unsigned char)buf[i] % 7 == 0)
					buf[i] = "{}[]\",:"[(unsigned char)buf[i] % 7];
		buf[len++] = '\n';
		for (i = 0; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			for (; start < i; start++)
				if (!strchr(" \t\r", buf[start]))
					break;
			if (start < i)
				expect++;
			start = i + 1;
		}
		send_all(c.fd, buf, len);
		conn_send(&c, "{\"cmd\":\"echo\",\"n\":-1}\n");
		for (i = 0; i < expect; i++) {
			json_t *r = conn_reply(&c);
			const char *code = json_string_value(json_object_get(r, "error"));

			ck_assert_msg(code && (!strcmp(code, "bad_json") || !strcmp(code, "bad_args")),
				      "seed %u line %zu: %s", seed, i, code ? code : "(ok)");
			json_decref(r);
		}
		assert_echo(conn_reply(&c), "n", -1);
	}
	conn_close(&c);
	harness_stop(&h);
}
END_TEST

static int notify_child(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/bw_notify_XXXXXX", msg[512], pid[32];
	struct timespec ts;
	unsigned long long usec, now;
	uint64_t ping;
	ssize_t n;
	int fd;

	/* Outside systemd: nothing sent, no error. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	CHILD_CHECK(notify_ready() == 0);
	CHILD_CHECK(notify_status("x %d", 1) == 0);
	CHILD_CHECK(notify_reloading() == 0);
	CHILD_CHECK(notify_stopping() == 0);
	CHILD_CHECK(notify_watchdog() == 0);
	CHILD_CHECK(notify_watchdog_interval(&ping) == 0 && ping == 0);

	CHILD_CHECK(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHILD_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);

	CHILD_CHECK(notify_ready() > 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	CHILD_CHECK(n > 0);
	msg[n] = '\0';
	CHILD_CHECK(strcmp(msg, "READY=1") == 0);

	CHILD_CHECK(notify_status("sampling %s, %d watches\nsecond line", "vm1", 3) > 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	CHILD_CHECK(strcmp(msg, "STATUS=sampling vm1, 3 watches second line") == 0);

	CHILD_CHECK(notify_reloading() > 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	CHILD_CHECK(sscanf(msg, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec) == 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
	CHILD_CHECK(usec <= now && now - usec < 5000000);

	CHILD_CHECK(notify_stopping() > 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	CHILD_CHECK(strcmp(msg, "STOPPING=1") == 0);

	CHILD_CHECK(notify_watchdog() > 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	CHILD_CHECK(strcmp(msg, "WATCHDOG=1") == 0);

	/* Watchdog: half the timeout systemd set for this process. */
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHILD_CHECK(notify_watchdog_interval(&ping) == 1 && ping == 1500000);
	setenv("WATCHDOG_PID", "1", 1);
	CHILD_CHECK(notify_watchdog_interval(&ping) == 0 && ping == 0);
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "soon", 1);
	CHILD_CHECK(notify_watchdog_interval(&ping) < 0);

	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
	return 0;
}

START_TEST(test_notify)
{
	in_child(notify_child);
}
END_TEST

START_TEST(test_reply_error)
{
	json_t *r = server_reply_error("bad_args", "x=%d \"%s\"", 5, "q");
	char *text = json_dumps(r, JSON_COMPACT);

	ck_assert_str_eq(text, "{\"ok\":false,\"error\":\"bad_args\",\"message\":\"x=5 \\\"q\\\"\"}");
	free(text);
	json_decref(r);
	/* Bytes that are not UTF-8 never make the reply disappear. */
	r = server_reply_error("bad_json", "near '%s'", "\xff\xfe");
	ck_assert_str_eq(json_string_value(json_object_get(r, "message")), "near '?" "?'");
	json_decref(r);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_requests);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_many_clients);
	tcase_add_test(tc, test_subscriber_drop);
	tcase_add_test(tc, test_max_clients);
	tcase_add_test(tc, test_idle_evicted_at_limit);
	tcase_add_test(tc, test_per_user_limit);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_buffer_total);
	tcase_add_test(tc, test_forbidden);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_scx_stats);
	tcase_add_test(tc, test_scx_stats_unit);
	tcase_add_test(tc, test_socket_file);
	tcase_add_test(tc, test_listen_fds);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_reply_error);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(server_suite)
