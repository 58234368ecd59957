/* SPDX-License-Identifier: MIT */
#include "qmp.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* "info mtree -f" of a big machine is some hundred KiB; refuse more than this. */
#define QMP_MAX_LINE (4u << 20)

struct qmp {
	int fd;
	uint64_t deadline_ns;
	char *buf;
	size_t len, cap;
};

static int qmp_connect(struct qmp *q, const char *path, struct bw_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return bw_error_set(err, -ENAMETOOLONG, "QMP socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return bw_error_set(err, -errno, "QMP: socket: %s", strerror(errno));
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return bw_error_set(err, -errno, "cannot connect to QMP socket %s: %s", path,
				    strerror(errno));
	return 0;
}

static int wait_fd(struct qmp *q, short events, struct bw_error *err)
{
	struct pollfd pfd = { .fd = q->fd, .events = events };
	uint64_t now = clock_mono_ns();
	int r;

	if (now >= q->deadline_ns)
		return bw_error_set(err, -ETIMEDOUT, "QMP: QEMU did not answer within %d ms",
				    QMP_TIMEOUT_MS);
	r = poll(&pfd, 1, (int)((q->deadline_ns - now) / 1000000 + 1));
	if (r < 0 && errno != EINTR)
		return bw_error_set(err, -errno, "QMP: poll: %s", strerror(errno));
	return 0;
}

/* The next line QEMU sends, parsed; NULL with @err set on error. */
static json_t *read_message(struct qmp *q, struct bw_error *err)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - q->buf) + 1;
			json_error_t je;
			json_t *msg = json_loadb(q->buf, n, 0, &je);

			memmove(q->buf, q->buf + n, q->len - n);
			q->len -= n;
			if (!msg || !json_is_object(msg)) {
				json_decref(msg);
				bw_error_set(err, -EPROTO, "QMP: QEMU sent a line that is not a JSON "
					     "object (%s)", je.text);
				return NULL;
			}
			return msg;
		}
		if (q->len == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 65536;
			char *b;

			if (cap > QMP_MAX_LINE) {
				bw_error_set(err, -E2BIG, "QMP: a reply longer than %u bytes",
					     QMP_MAX_LINE);
				return NULL;
			}
			b = realloc(q->buf, cap);
			if (!b) {
				bw_error_set(err, -ENOMEM, "out of memory");
				return NULL;
			}
			q->buf = b;
			q->cap = cap;
		}
		{
			ssize_t got = read(q->fd, q->buf + q->len, q->cap - q->len);

			if (got > 0) {
				q->len += (size_t)got;
				continue;
			}
			if (got == 0) {
				bw_error_set(err, -ECONNRESET, "QMP: QEMU closed the connection");
				return NULL;
			}
			if (errno != EAGAIN && errno != EINTR) {
				bw_error_set(err, -errno, "QMP: read: %s", strerror(errno));
				return NULL;
			}
			if (wait_fd(q, POLLIN, err) < 0)
				return NULL;
		}
	}
}

static int send_all(struct qmp *q, const char *text, struct bw_error *err)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = send(q->fd, text + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN)
			return bw_error_set(err, -errno, "QMP: send: %s", strerror(errno));
		if (wait_fd(q, POLLOUT, err) < 0)
			return err ? err->code : -ETIMEDOUT;
	}
	return 0;
}

/* Send @cmd and return its "return" member (a new reference); events are skipped. */
static json_t *execute(struct qmp *q, json_t *cmd, struct bw_error *err)
{
	char *text = json_dumps(cmd, JSON_COMPACT);
	const char *name = json_string_value(json_object_get(cmd, "execute"));
	int r;

	if (!text) {
		bw_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	r = send_all(q, text, err);
	free(text);
	if (r == 0)
		r = send_all(q, "\n", err);
	if (r < 0)
		return NULL;
	for (unsigned int skipped = 0; skipped < 1000; skipped++) {
		json_t *msg = read_message(q, err), *ret;

		if (!msg)
			return NULL;
		ret = json_object_get(msg, "return");
		if (ret) {
			json_incref(ret);
			json_decref(msg);
			return ret;
		}
		if (json_object_get(msg, "error")) {
			const char *desc = json_string_value(json_object_get(
				json_object_get(msg, "error"), "desc"));

			bw_error_set(err, -EPROTO, "QMP: %s failed: %s", name ? name : "?",
				     desc ? desc : "(no description)");
			json_decref(msg);
			return NULL;
		}
		json_decref(msg);	/* an event */
	}
	bw_error_set(err, -EPROTO, "QMP: no reply to %s among 1000 messages", name ? name : "?");
	return NULL;
}

static int parse_memdevs(json_t *list, struct bw_qemu_memdevs *out, struct bw_error *err)
{
	size_t i;
	json_t *m;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(list))
		return bw_error_set(err, -EPROTO, "QMP: query-memdev did not return a list");
	json_array_foreach(list, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		json_t *size = json_object_get(m, "size");

		if (!id || !json_is_integer(size) || json_integer_value(size) <= 0 ||
		    strlen(id) >= BW_MEMDEV_NAME_MAX)
			return bw_error_set(err, -EPROTO, "QMP: query-memdev entry %zu has no id "
					    "and size", i);
		if (out->n == BW_RAM_MAX_BACKENDS)
			return bw_error_set(err, -E2BIG, "QMP: more than %d memory backends",
					    BW_RAM_MAX_BACKENDS);
		snprintf(out->id[out->n], sizeof(out->id[0]), "%s", id);
		out->size[out->n++] = (uint64_t)json_integer_value(size);
	}
	if (out->n == 0)
		return bw_error_set(err, -ENOENT, "QMP: QEMU has no memory backend");
	return 0;
}

int qmp_query_memory(const char *socket_path, struct bw_guest_qemu *out, struct bw_error *err)
{
	struct qmp q = { .fd = -1, .deadline_ns = clock_mono_ns() + QMP_TIMEOUT_MS * 1000000ULL };
	json_t *greeting = NULL, *ret = NULL, *cmd;
	int r;

	memset(out, 0, sizeof(*out));
	r = qmp_connect(&q, socket_path, err);
	if (r < 0)
		goto out;
	greeting = read_message(&q, err);
	if (!greeting || !json_object_get(greeting, "QMP")) {
		r = greeting ? bw_error_set(err, -EPROTO, "QMP: %s does not greet as QEMU's QMP "
					    "monitor", socket_path) : (err ? err->code : -EPROTO);
		goto out;
	}
	cmd = json_pack("{s:s}", "execute", "qmp_capabilities");
	ret = cmd ? execute(&q, cmd, err) : NULL;
	json_decref(cmd);
	if (!ret) {
		r = err ? err->code : -EPROTO;
		goto out;
	}
	json_decref(ret);
	cmd = json_pack("{s:s}", "execute", "query-memdev");
	ret = cmd ? execute(&q, cmd, err) : NULL;
	json_decref(cmd);
	if (!ret || (r = parse_memdevs(ret, &out->memdevs, err)) < 0) {
		r = err && err->code ? err->code : -EPROTO;
		goto out;
	}
	json_decref(ret);
	cmd = json_pack("{s:s, s:{s:s}}", "execute", "human-monitor-command", "arguments",
			"command-line", "info mtree -f");
	ret = cmd ? execute(&q, cmd, err) : NULL;
	json_decref(cmd);
	if (!ret || !json_is_string(ret)) {
		r = ret ? bw_error_set(err, -EPROTO, "QMP: info mtree -f did not return text") :
			  (err ? err->code : -EPROTO);
		goto out;
	}
	r = bw_mtree_parse(json_string_value(ret), json_string_length(ret), &out->mtree, err);
out:
	if (r < 0 && err)
		bw_error_prefix(err, "--qmp %s", socket_path);
	json_decref(ret);
	json_decref(greeting);
	free(q.buf);
	if (q.fd >= 0)
		close(q.fd);
	return r;
}
