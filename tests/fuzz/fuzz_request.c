/* SPDX-License-Identifier: MIT */
/*
 * Socket requests through the real server: the input is written to a
 * fresh connection as a client would (then its write side is shut), the
 * server's event loop runs until it has answered and closed, and every
 * reply line must be one JSON object with "ok" (or an scx_stats "errno").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "server.h"

static json_t *on_request(void *userdata, struct server_client *c, const char *cmd, json_t *req)
{
	(void)userdata;
	if (!strcmp(cmd, "subscribe")) {
		server_client_subscribe(c);
		return json_pack("{s:b, s:b}", "ok", 1, "subscribed", 1);
	}
	if (!strcmp(cmd, "status") || !strcmp(cmd, "reset") || !strcmp(cmd, "reload"))
		return json_pack("{s:b, s:O}", "ok", 1, "req", req);
	return server_reply_error("unknown_cmd", "unknown command \"%s\"", cmd);
}

static json_t *on_metrics(void *userdata)
{
	(void)userdata;
	return json_pack("{s:I}", "bw_x", (json_int_t)1);
}

static sd_event *event;
static struct server *srv;
static char sock_path[108];

static void start(void)
{
	static const struct server_handlers h = { .request = on_request, .scx_metrics = on_metrics };
	struct server_opts o = SERVER_OPTS_INIT;
	struct bw_error err = { 0 };

	snprintf(sock_path, sizeof(sock_path), "/tmp/bw_fuzz_request.%d.sock", (int)getpid());
	o.path = sock_path;
	o.mode = 0600;
	if (sd_event_new(&event) < 0 || server_new(event, &o, &h, NULL, &srv, &err) < 0) {
		fprintf(stderr, "fuzz_request: %s\n", err.msg);
		abort();
	}
}

static void check_replies(const char *buf, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		json_error_t jerr;
		json_t *r;

		if (buf[i] != '\n')
			continue;
		r = json_loadb(buf + start, i - start, 0, &jerr);
		/* The protocol's replies carry "ok"; scx_stats envelopes carry "errno". */
		if (!r || !json_is_object(r) || !(json_is_boolean(json_object_get(r, "ok")) ||
						  json_is_integer(json_object_get(r, "errno"))))
			abort();
		json_decref(r);
		start = i + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char out[1 << 20];
	size_t got = 0, sent = 0;
	int fd, idle = 0;

	if (!srv)
		start();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	/* Bounded: the loop runs until the server closes the connection or gives up. */
	for (int round = 0; round < 10000 && idle < 64; round++) {
		size_t before = sent + got;
		ssize_t n;

		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			if (sent == size)
				shutdown(fd, SHUT_WR);
		} else if (round == 0) {
			shutdown(fd, SHUT_WR);
		}
		sd_event_run(event, 0);
		n = recv(fd, out + got, sizeof(out) - got, 0);
		if (n == 0)
			break;
		if (n > 0) {
			got += (size_t)n;
			if (got == sizeof(out))
				break;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			break;
		}
		idle = sent + got == before ? idle + 1 : 0;
	}
	check_replies(out, got);
	close(fd);
	/* Let the server see the close and free the client. */
	for (int i = 0; i < 4; i++)
		sd_event_run(event, 0);
	return 0;
}
