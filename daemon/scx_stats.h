/* SPDX-License-Identifier: MIT */
/*
 * sched_ext's scx_stats protocol on bpfwatchd's socket, so tools written
 * for a scheduler's own statistics server (the Rust scx_stats crate, used
 * by scx_lavd, scx_rusty, ...) read bpfwatch's run-level metrics unchanged.
 *
 * The protocol (sched-ext/scx, rust/scx_stats/src/{server,client}.rs):
 * newline-delimited JSON over a Unix stream socket, one response line per
 * request line, in order.
 *
 *   request   {"req":"stats","args":{"target":"top"}}   args: an object of
 *             {"req":"stats_meta","args":{}}            string values, may
 *                                                       be absent
 *   response  {"errno":0,"args":{"resp":VALUE}}
 *   error     {"errno":22,"args":{"resp":"what went wrong"}}
 *
 * "stats" reads the statistics of a target ("top" when args has no
 * "target"); an unknown target or request name is errno EINVAL, which is
 * also what the crate answers for any failure it does not tag with an
 * errno (a line that is not JSON, a blank line, a missing "req").
 * "stats_meta" describes every statistics struct, keyed by struct name:
 *
 *   {"top":{"name":"top","top":"true","desc":"...",
 *           "fields":{"KEY":{"datum":"u64","desc":"..."}, ...}}}
 *
 * A struct attribute "top":"true" marks the root struct.  A field is
 * {"datum":KIND} with KIND one of "i64", "u64", "float", "string" (or
 * {"struct":NAME}, and "array"/"dict" forms, which bpfwatch never
 * produces), plus an optional "desc".
 *
 * bpfwatch serves one target, "top".  Its fields come from the watch set,
 * so stats_meta is complete before anything was sampled and stays right
 * across a scheduler change: one field per run-level metric, named by the
 * watch's label and the metric's suffix ("runs", "lat_avg", "lat_max"),
 * the object prefix of the metric key left out.  Kinds: means are
 * "float"; counters and maxima are "u64" or "i64" by the signedness of
 * the leaf's BTF type once the watch is resolved ("u64" for counters and
 * "i64" for maxima before).  A "u64" value is always a JSON number, also
 * above 2^63; a value that fits no 64-bit integer (a per-CPU sum beyond
 * 2^64) is left out of that reply rather than sent wrong.
 *
 * On bpfwatchd's socket a connection speaks scx_stats from its first
 * request object that has "req" and no "cmd" (server.c routes it here);
 * from then on every reply on it, errors included, is the envelope above
 * and carries no "ok".
 */
#ifndef BPFWATCH_SCX_STATS_H
#define BPFWATCH_SCX_STATS_H

#include <stdbool.h>

#include <stddef.h>

#include <jansson.h>

#include "watch.h"

/* The one statistics target and the name of its meta struct. */
#define SCX_STATS_TOP "top"

enum scx_stats_kind {
	SCX_STATS_I64,
	SCX_STATS_U64,
	SCX_STATS_FLOAT,
	SCX_STATS_STRING,
};

struct scx_stats_source {
	/*
	 * The "top" value (scx_stats_values()), a new reference, or NULL
	 * when none can be produced now (answered with errno ENODATA).
	 */
	json_t *(*metrics)(void *userdata);
	/* The "fields" object of the top struct (scx_stats_fields()), a new reference; NULL: none. */
	json_t *(*meta_fields)(void *userdata);
	/* Optional description of the top struct. */
	const char *desc;
	void *userdata;
};

/* Whether @req is an scx_stats request: an object with "req" and without "cmd". */
bool scx_stats_is_request(const json_t *req);

/* Whether the request line @line (@n bytes) is an scx_stats request. */
bool scx_stats_line_is_request(const char *line, size_t n);

/*
 * The response envelope for @req (always a new object, never NULL unless
 * out of memory): "stats" and "stats_meta" answered from @src, anything
 * else EINVAL with a message.
 */
json_t *scx_stats_handle(const struct scx_stats_source *src, const json_t *req);

/*
 * The reply line ("\n"-terminated, malloc'd, length in *@len) to one
 * request line of a connection that speaks scx_stats: a blank line, bad
 * JSON or a non-object get EINVAL.  NULL only when out of memory.
 */
char *scx_stats_answer_line(const struct scx_stats_source *src, const char *line, size_t n,
			    size_t *len);

/* An error reply line (as scx_stats_answer_line) with @errnum and @msg. */
char *scx_stats_error_line(int errnum, const char *msg, size_t *len);

/* {"errno":@errnum,"args":{"resp":@resp}}, stealing @resp (NULL: JSON null). */
json_t *scx_stats_envelope(int errnum, json_t *resp);

/*
 * Add the field @key of kind @kind with description @desc (NULL: none) to
 * the fields object @fields.  0, or -EINVAL / -ENOMEM.
 */
int scx_stats_meta_field(json_t *fields, const char *key, enum scx_stats_kind kind,
			 const char *desc);

/* The "stats_meta" value for @fields (stolen): {"top":{"name":"top","top":"true",...}}. */
json_t *scx_stats_meta(json_t *fields, const char *desc);

/*
 * The top struct's fields for the watch set @set; @status_watches (the
 * engine status "watches", may be NULL) gives each resolved leaf's
 * signedness.  NULL when out of memory.
 */
json_t *scx_stats_fields(const struct bw_watch_set *set, const json_t *status_watches);

/*
 * The top struct's value: each field of scx_stats_fields() that the
 * metrics reply @metrics_reply ({"window", "metrics"}) holds.  NULL when
 * out of memory.
 */
json_t *scx_stats_values(const struct bw_watch_set *set, const json_t *metrics_reply);

struct bw_scx_health;

/*
 * The built-in sched_ext_* kernel metrics ([Kernel] Metrics=yes), one
 * field each under their full key: numbers as "u64" (counters, counts) or
 * "i64" (exit kind and code, bypass depth), "_avg" means as "float", text
 * (state, ops, exit kind name, reason, message) as "string", each with a
 * "desc" naming the kernel structure read.  scx_stats_health_fields() adds
 * the fixed ones, and the event counters of @health's kernel when @health
 * is not NULL, to @fields; scx_stats_health_values() adds those the
 * metrics reply holds to @values.  A watch field of the same name wins.
 * 0 or -ENOMEM.
 */
int scx_stats_health_fields(json_t *fields, const struct bw_scx_health *health);
int scx_stats_health_values(json_t *values, const json_t *metrics_reply);

#endif
