/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchd's Unix-socket server on sd-event (README "Socket protocol").
 *
 * Framing: one JSON object per line each way.  Every request line gets
 * exactly one reply line, in request order; a subscriber also gets
 * broadcast lines between replies (whole lines, never interleaved).
 *
 *  - A request line is at most SERVER_REQUEST_MAX bytes before its '\n'
 *    (a trailing '\r' is JSON whitespace).  A longer line is answered
 *    once with too_large and discarded up to its newline; the connection
 *    stays usable.  Lines of only whitespace are skipped (no reply).  A
 *    last line without '\n' before the client shuts down its write side
 *    is still a request.
 *  - Nesting deeper than SERVER_JSON_DEPTH_MAX, invalid JSON, duplicate
 *    keys, "\u0000" in a string: bad_json.  Not an object, or an object
 *    with neither "cmd" nor "req", or a "cmd" that is not a string:
 *    bad_args.
 *  - {"cmd":NAME,...} goes to the request handler, which returns the
 *    reply object (unknown commands are the handler's to refuse with
 *    unknown_cmd).  {"req":...} without "cmd" is sched_ext's scx_stats
 *    protocol, answered by scx_stats.c from the scx_* handlers.
 *  - Replies are written with MSG_NOSIGNAL as the socket takes them;
 *    what it does not take waits in the client's output queue (EPOLLOUT
 *    drives the rest).  A client whose queue holds queue_max bytes is
 *    not read from until it drains (a client that sends requests and
 *    never reads replies stalls itself, not the daemon).  A broadcast
 *    that would push a subscriber's non-empty queue beyond
 *    subscriber_queue_max closes that subscriber (counted in
 *    dropped_subscribers): a reader that falls behind is dropped, the
 *    loop never blocks.  An empty queue takes any one line, so a single
 *    sample larger than the bound does not drop every subscriber.
 *  - At most max_clients connections, at most max_per_user of one peer
 *    uid (SO_PEERCRED).  At either limit the longest-idle client that
 *    waits for nothing (no partial request, no reply queued, not a
 *    subscriber; the one silent for longest) is closed to make room; when there is
 *    none the new one is accepted, told
 *    {"ok":false,"error":"internal","message":"too many clients ..."} and
 *    closed (counted in rejected_clients).  A client that sent nothing
 *    for idle_timeout_usec is closed (subscribers excepted: the queue
 *    bound drops those that stop reading).
 *  - The buffers of all clients together stay under buffer_total_max:
 *    past it, the clients holding most are closed first (the slowest
 *    readers), until under it again.
 *  - State-changing requests (peer_access_cmd_needs_control) from a peer
 *    that is not a control peer get {"ok":false,"error":"forbidden",...}.
 *  - Every limit hit is counted (server_stats.limit_hits) and logged
 *    through handlers.log with the peer's pid, uid and gid, at most one
 *    line a second per limit.
 *
 * The server is single-threaded: every call runs on the sd-event loop's
 * thread.  Handlers may call server_broadcast() and the server_client_*
 * functions; they must not call server_free().
 */
#ifndef BPFWATCH_SERVER_H
#define BPFWATCH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "error.h"
#include "peer_access.h"

/* Largest request line (DESIGN.md): commands are tiny; this refuses junk. */
#define SERVER_REQUEST_MAX (64 * 1024)
/* Deepest JSON nesting accepted; no command nests beyond 2 or 3 levels. */
#define SERVER_JSON_DEPTH_MAX 32
/* listen() backlog: a CI fleet may connect a few hundred clients at once. */
#define SERVER_BACKLOG 256
/* Connections served at once; each costs a fd and its buffers. */
#define SERVER_MAX_CLIENTS 1024
/* Bytes queued for a client before it is no longer read from. */
#define SERVER_QUEUE_MAX (1u << 20)
/* Bytes queued for a subscriber before a broadcast drops it (a few seconds of samples). */
#define SERVER_SUBSCRIBER_QUEUE_MAX (1u << 20)
/* Connections of one peer uid: a CI fleet of one user fits, one user cannot take them all. */
#define SERVER_MAX_PER_USER 256
/* Input and output buffers of all clients together. */
#define SERVER_BUFFER_TOTAL_MAX (32u << 20)

enum server_limit {
	SERVER_LIMIT_MAX_CLIENTS,
	SERVER_LIMIT_PER_USER,
	SERVER_LIMIT_IDLE,
	SERVER_LIMIT_BUFFER_TOTAL,
	SERVER_LIMIT_SUB_QUEUE,
	SERVER_LIMIT_FORBIDDEN,
	SERVER_LIMIT_COUNT,
};

struct server;
struct server_client;

struct server_opts {
	/*
	 * Non-NULL: create a listening socket at this path: a stale socket
	 * file there (nothing accepts connections on it) is replaced, a live
	 * one is -EADDRINUSE, any other file -EEXIST.  The file gets @mode
	 * exactly (never wider, not even between bind and chmod) and group
	 * @gid ((gid_t)-1: left as created); server_free() removes it.
	 * NULL: adopt @fd, a listening Unix stream socket (socket
	 * activation, see server_listen_fd_from_systemd); the server owns
	 * and closes it but never unlinks anything.
	 */
	const char *path;
	mode_t mode;
	gid_t gid;
	int fd;
	unsigned int max_clients;	/* 0: SERVER_MAX_CLIENTS */
	size_t queue_max;		/* 0: SERVER_QUEUE_MAX */
	size_t subscriber_queue_max;	/* 0: SERVER_SUBSCRIBER_QUEUE_MAX */
	unsigned int max_per_user;	/* 0: SERVER_MAX_PER_USER */
	size_t buffer_total_max;	/* 0: SERVER_BUFFER_TOTAL_MAX */
	uint64_t idle_timeout_usec;	/* 0: no idle timeout */
	const struct peer_access *access;	/* copied; NULL: root and our own user */
};

#define SERVER_OPTS_INIT { .path = NULL, .mode = 0660, .gid = (gid_t)-1, .fd = -1 }

struct server_handlers {
	/*
	 * A {"cmd":@cmd,...} request (@req borrowed, @cmd inside it): return
	 * the reply object, a new reference; the server serializes it
	 * compactly plus "\n" and adds nothing.  NULL is answered with an
	 * internal error.  May call server_client_subscribe(@c).
	 */
	json_t *(*request)(void *userdata, struct server_client *c, const char *cmd, json_t *req);
	/* scx_stats "stats": the flat metrics (scx_stats_source.metrics); NULL: ENODATA. */
	json_t *(*scx_metrics)(void *userdata);
	/* scx_stats "stats_meta" fields (scx_stats_source.meta_fields); may be NULL. */
	json_t *(*scx_meta_fields)(void *userdata);
	/* Optional: @c is about to be freed (it left, failed, was dropped, or server_free). */
	void (*client_gone)(void *userdata, struct server_client *c);
	/* Optional: a limit was hit (one line, no newline). */
	void (*log)(void *userdata, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct server_stats {
	unsigned int clients;		/* connected now */
	unsigned int subscribers;	/* of them, subscribed */
	uint64_t accepted;		/* connections served since start */
	uint64_t requests;		/* request lines answered (too_large ones too) */
	uint64_t dropped_subscribers;	/* closed because their queue overflowed */
	uint64_t rejected_clients;	/* turned away at max_clients */
	uint64_t limit_hits[SERVER_LIMIT_COUNT];
};

/*
 * Start serving on @e.  @h and @userdata are kept (the struct is copied).
 * On error nothing is left behind (an adopted fd is not closed then: the
 * caller still owns it).
 */
int server_new(sd_event *e, const struct server_opts *opts, const struct server_handlers *h,
	       void *userdata, struct server **out, struct bw_error *err);

/* Close every client and the listening socket; remove the socket file the server made. */
void server_free(struct server *s);

/*
 * Socket activation: 1 and *fd = SD_LISTEN_FDS_START when systemd passed
 * exactly one listening Unix stream socket, 0 and *fd = -1 when it passed
 * none, a negative errno otherwise (several fds, or not such a socket).
 * Unsets LISTEN_FDS/LISTEN_PID so children do not inherit them.
 */
int server_listen_fd_from_systemd(int *fd, struct bw_error *err);

/*
 * Send @msg (borrowed) as one line to every subscriber.  A subscriber
 * whose non-empty queue would exceed subscriber_queue_max is closed
 * instead.
 * Returns how many subscribers got the line, or -ENOMEM / -EINVAL when
 * @msg cannot be serialized.
 */
int server_broadcast(struct server *s, json_t *msg);

void server_get_stats(const struct server *s, struct server_stats *st);

/* The path the server created, or NULL for an adopted socket. */
const char *server_path(const struct server *s);

/* Make @c a subscriber (idempotent), or a plain client again. */
void server_client_subscribe(struct server_client *c);
void server_client_unsubscribe(struct server_client *c);
bool server_client_is_subscriber(const struct server_client *c);

/*
 * Queue @msg (borrowed) as one line to @c alone, outside the
 * request/reply order (e.g. a first sample right after subscribing).
 * Subject to the subscriber bound when @c subscribes.  0, or a negative
 * errno (-ENOBUFS: @c was dropped for its full queue).
 */
int server_client_send(struct server_client *c, json_t *msg);

/* A pointer the caller keeps per client (NULL at first). */
void server_client_set_data(struct server_client *c, void *data);
void *server_client_get_data(const struct server_client *c);

/* SO_PEERCRED of @c, taken when it connected. */
const struct peer_cred *server_client_cred(const struct server_client *c);

/* {"ok":false,"error":@code,"message":<fmt...>}: the protocol's error reply. */
__attribute__((format(printf, 2, 3)))
json_t *server_reply_error(const char *code, const char *fmt, ...);

#endif
